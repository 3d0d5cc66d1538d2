"""Fixtures for the applications service's integration tests: the service in-process, real broker and DB."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from applications.config import Settings
from applications.main import build_app
from grants_shared.settings import ServiceSettings
from tests.support.app import serve


@dataclass
class Running:
    http: httpx.AsyncClient
    db: AsyncDatabase
    settings: Settings


@pytest.fixture
def app_settings(settings: ServiceSettings) -> Settings:
    return Settings(**settings.model_dump())


@pytest.fixture
async def service(app_settings: Settings) -> AsyncIterator[Running]:
    app = build_app(app_settings)
    async with serve(app) as http:
        yield Running(http=http, db=app.state.runtime.db, settings=app_settings)
