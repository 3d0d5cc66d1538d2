"""The notifications service: run with ``uvicorn notifications.main:app``."""

import logging

from fastapi import FastAPI

from grants_shared.events import NOTIFICATIONS
from grants_shared.service import Service, create_app
from notifications.api import ROUTERS
from notifications.config import Settings
from notifications.handlers import HANDLERS
from notifications.store import EMAIL_QUEUE, PERSONAL_DATA, WEBHOOK_QUEUE, create_indexes
from notifications.workers import WORKERS

log = logging.getLogger(__name__)

SERVICE = Service(
    name=NOTIFICATIONS,
    title="Grants: notifications",
    description=(
        "Tells people what happened to them: an in-app inbox for everyone, email over SMTP for those with an "
        "address, and a record of every delivery. A redelivered event never notifies anyone twice. Integrators "
        "subscribe to events and get them as signed webhooks, without personal data."
    ),
    routers=ROUTERS,
    handlers=HANDLERS,
    create_indexes=create_indexes,
    personal_data=PERSONAL_DATA,
    workers=WORKERS,
    queues=(EMAIL_QUEUE, WEBHOOK_QUEUE),
)


def build_app(settings: Settings) -> FastAPI:
    if settings.uses_development_webhook_secrets_key:
        log.warning(
            "webhook secrets are encrypted with the development key: set GRANTS_WEBHOOK_SECRETS_KEY in production"
        )
    return create_app(SERVICE, settings)


settings = Settings()
app = build_app(settings)
