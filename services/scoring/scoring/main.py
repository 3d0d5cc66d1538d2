"""The scoring service: run with ``uvicorn scoring.main:app``."""

from fastapi import FastAPI

from grants_shared.service import Service, create_app
from scoring.api import ROUTERS
from scoring.config import Settings
from scoring.handlers import HANDLERS
from scoring.store import PERSONAL_DATA, create_indexes
from scoring.workers import WORKERS

SERVICE = Service(
    name="scoring",
    title="Grants: scoring",
    description=(
        "Expert panels score applications against the programme's rubric; reviewers with a conflict of "
        "interest never see an application; the panel ranks scored applications against the budget and "
        "decides awards, which can never exceed the budget."
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
