"""The scoring service: `uvicorn scoring.main:app`."""

from fastapi import FastAPI

from grants_shared.service import Service, create_app

from scoring import api, handlers, store
from scoring.config import Settings


def build_service(settings: Settings) -> Service:
    return Service(
        name="scoring",
        title="Grants scoring",
        description=(
            "Expert panels score applications against the programme's rubric; reviewers with a conflict of "
            "interest never see an application; the panel ranks scored applications against the budget and "
            "decides awards, which can never exceed the budget."
        ),
        routers=[api.router],
        handlers=handlers.bind(settings),
        create_indexes=store.create_indexes,
    )


def build_app(settings: Settings) -> FastAPI:
    return create_app(build_service(settings), settings)


settings = Settings()
SERVICE = build_service(settings)
app = create_app(SERVICE, settings)
