"""Run a service's FastAPI app in-process (lifespan included) against the real broker and database."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from grants_shared.auth import mint_token
from grants_shared.service import Runtime
from grants_shared.settings import ServiceSettings


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app's lifespan, wait until it is connected to RabbitMQ, and give an HTTP client to it."""
    async with app.router.lifespan_context(app):
        runtime: Runtime = app.state.runtime
        await runtime.broker.wait_connected(15)
        # As under uvicorn: an unhandled error becomes a 500 problem response, not an exception in the test.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def bearer(
    settings: ServiceSettings,
    subject: str,
    *roles: str,
    organisations: tuple[str, ...] = (),
    name: str | None = None,
    email: str | None = None,
) -> dict[str, str]:
    token = mint_token(settings, subject, list(roles), list(organisations), name=name, email=email)
    return {"Authorization": f"Bearer {token}"}


def runtime_of(client: httpx.AsyncClient) -> Runtime:
    """The running service behind a client from :func:`serve`, for tests that look at its database."""
    return client._transport.app.state.runtime  # type: ignore[attr-defined]
