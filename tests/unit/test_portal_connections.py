"""The portal's connections to the services: an idle one is dropped before the service would close
it, so no page is sent on a connection being closed at that moment (a page answered 503 when both
kept idle connections for 5 s)."""

import uvicorn
from fastapi.testclient import TestClient

from portal.config import Settings
from portal.main import KEEPALIVE_SECONDS, build_app


def test_the_portal_drops_idle_connections_before_the_services_close_them() -> None:
    # The services run under uvicorn with its default keep-alive.
    assert KEEPALIVE_SECONDS < uvicorn.Config(app="x").timeout_keep_alive
    with TestClient(build_app(Settings())) as client:
        pool = client.app.state.http._transport._pool  # httpx's connection pool, as the lifespan made it
        assert pool._keepalive_expiry == KEEPALIVE_SECONDS
