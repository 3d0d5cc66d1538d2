from collections.abc import AsyncIterator

import pytest

from grants_shared.settings import ServiceSettings
from scoring.config import Settings
from scoring.main import build_app
from tests.integration.scoring.helpers import Scoring
from tests.support.app import serve
from tests.support.bus import TestBus


@pytest.fixture
async def scoring(settings: ServiceSettings, bus: TestBus) -> AsyncIterator[Scoring]:
    app = build_app(Settings(**settings.model_dump()))
    async with serve(app) as http:
        yield Scoring(http=http, db=app.state.runtime.db, bus=bus, settings=settings)
