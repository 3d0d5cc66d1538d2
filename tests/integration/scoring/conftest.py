from collections.abc import AsyncIterator

import pytest

from grants_shared.settings import ServiceSettings
from tests.integration.scoring.helpers import Scoring, running_scoring
from tests.support.bus import TestBus


@pytest.fixture
async def scoring(settings: ServiceSettings, bus: TestBus) -> AsyncIterator[Scoring]:
    async with running_scoring(settings, bus) as running:
        yield running
