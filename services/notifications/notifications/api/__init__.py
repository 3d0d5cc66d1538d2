"""The HTTP API, one module per resource. Every route names the roles that may call it, calls one
command (in a transaction that carries the caller and the request's trace) or reads the store, and
shapes the answer."""

from notifications.api import contact, deliveries, inbox, preferences, unsubscribe, webhooks

ROUTERS = (contact.router, inbox.router, deliveries.router, webhooks.router, preferences.router, unsubscribe.router)
