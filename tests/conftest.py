"""Real infrastructure for every test: a MongoDB-wire server and RabbitMQ, never mocks.

Each test gets its own name prefix, so its exchange, queues and databases are its own.
"""

from collections.abc import AsyncIterator, Iterator
from uuid import uuid4

import pytest

from grants_shared.dev import infra
from grants_shared.settings import ServiceSettings
from tests.support.bus import TestBus, delete_topology


@pytest.fixture(scope="session")
def mongodb_url() -> Iterator[str]:
    with infra.mongodb() as url:
        yield url


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    return infra.ensure_rabbitmq()


@pytest.fixture
async def settings(mongodb_url: str, rabbitmq_url: str) -> AsyncIterator[ServiceSettings]:
    settings = ServiceSettings(
        prefix=f"t{uuid4().hex[:12]}",
        mongodb_url=mongodb_url,
        rabbitmq_url=rabbitmq_url,
        retry_delays_ms=[200, 400],
        outbox_poll_seconds=0.2,
    )
    yield settings
    await delete_topology(settings)


@pytest.fixture
async def bus(settings: ServiceSettings) -> AsyncIterator[TestBus]:
    """Publishes events into the exchange and records every event that crosses it."""
    async with TestBus(settings) as bus:
        yield bus


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The browser tests drive Chromium with Playwright's sync API, which holds an event loop of its own
    for the whole session: the async tests cannot run in the same session, so they run separately
    (`make test` runs both)."""
    browser = {item.nodeid.split("/")[0] == "browser" for item in items}
    if browser == {True, False}:
        raise pytest.UsageError("run the browser tests on their own: pytest --ignore=browser, then pytest browser")
