"""The applications service: run with ``uvicorn applications.main:app``."""

from fastapi import FastAPI

from applications.api import ROUTERS
from applications.config import Settings
from applications.handlers import HANDLERS
from applications.store import PERSONAL_DATA, create_indexes
from applications.workers import WORKERS
from grants_shared.service import Service, create_app

SERVICE = Service(
    name="applications",
    title="Grants: applications",
    description=(
        "Funding programmes, applicant organisations and applications: drafting, eligibility, submission, "
        "withdrawal, and the applicant's view of where their application stands."
    ),
    routers=ROUTERS,
    handlers=HANDLERS,
    create_indexes=create_indexes,
    personal_data=PERSONAL_DATA,
    workers=WORKERS,
)


def build_app(settings: Settings) -> FastAPI:
    return create_app(SERVICE, settings)


settings = Settings()
app = build_app(settings)
