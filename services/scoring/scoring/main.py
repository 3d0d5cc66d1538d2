"""The scoring service: `uvicorn scoring.main:app`."""

from fastapi import FastAPI

from grants_shared.service import Service, create_app

from scoring import api, handlers, store
from scoring.config import Settings


SERVICE = Service(
    name="scoring",
    title="Grants scoring",
    description=(
        "Expert panels score applications against the programme's rubric; reviewers with a conflict of "
        "interest never see an application; the panel ranks scored applications against the budget and "
        "decides awards, which can never exceed the budget."
    ),
    routers=[api.router],
    handlers=handlers.HANDLERS,
    create_indexes=store.create_indexes,
)


def build_app(settings: Settings) -> FastAPI:
    return create_app(SERVICE, settings)


settings = Settings()
app = build_app(settings)
