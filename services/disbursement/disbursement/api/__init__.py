"""The HTTP API, one module per resource. Every route names the roles that may call it, calls one
command (in a transaction that carries the caller and the request's trace) or reads the store, and
shapes the answer."""

from disbursement.api import grants, involvement, ledgers, monitoring, offer_terms, payment_runs, payments, training
from disbursement.api import tranches

ROUTERS = (grants.router, payments.router, payment_runs.router, ledgers.router, offer_terms.router,
           monitoring.router, training.router, tranches.router, involvement.router)
