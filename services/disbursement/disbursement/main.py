"""The disbursement service: run with ``uvicorn disbursement.main:app`` (port 8003)."""

import logging

from fastapi import FastAPI

from disbursement.api import ROUTERS
from disbursement.config import Settings
from disbursement.handlers import HANDLERS
from disbursement.store import INVOLVEMENT_QUEUE, PAYMENT_QUEUE, PERSONAL_DATA, create_indexes
from disbursement.workers import WORKERS
from grants_shared.service import Service, create_app

log = logging.getLogger(__name__)

SERVICE = Service(
    name="disbursement",
    title="Grants: disbursement",
    description=(
        "Turns awards into grant offers, takes the grantee's acceptance and bank details (encrypted at rest, "
        "only ever shown masked), keeps each programme's budget ledger and pays grants on schedule."
    ),
    routers=ROUTERS,
    handlers=HANDLERS,
    create_indexes=create_indexes,
    personal_data=PERSONAL_DATA,
    workers=WORKERS,
    queues=(PAYMENT_QUEUE, INVOLVEMENT_QUEUE),
)


def build_app(settings: Settings) -> FastAPI:
    if settings.uses_development_bank_details_key:
        log.warning("bank details are encrypted with the development key: set GRANTS_BANK_DETAILS_KEY in production")
    return create_app(SERVICE, settings)


settings = Settings()
app = build_app(settings)
