"""The notifications service: `uvicorn notifications.main:app`."""

from fastapi import FastAPI

from grants_shared.events import NOTIFICATIONS
from grants_shared.service import Service, create_app
from notifications import rendering
from notifications.api import router
from notifications.config import Settings
from notifications.handlers import HANDLERS
from notifications.mailer import send_emails
from notifications.store import create_indexes

SERVICE = Service(
    name=NOTIFICATIONS,
    title="Grants: notifications",
    description=(
        "Tells people what happened to them: an in-app inbox for everyone, email over SMTP for those with an "
        "address, and a record of every delivery. A redelivered event never notifies anyone twice."
    ),
    routers=[router],
    handlers=HANDLERS,
    create_indexes=create_indexes,
    workers=[send_emails],
)


def build_app(settings: Settings) -> FastAPI:
    rendering.configure(settings.portal_url)
    return create_app(SERVICE, settings)


settings = Settings()
app = build_app(settings)
