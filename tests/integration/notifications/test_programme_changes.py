"""Notifications keeps an open programme's new name and closing date (later messages say them), and
takes the budget-decrease events only for integrators: nobody's inbox hears of them."""

from datetime import UTC, datetime, timedelta

from grants_shared.events import ProgrammeBudgetDecreaseRequested, ProgrammeChanged
from grants_shared.money import Money
from notifications.config import Settings
from notifications.main import build_app
from tests.integration.notifications.builders import programme_known
from tests.support.app import runtime_of
from tests.integration.notifications.conftest import SmtpSink
from tests.support.app import serve
from tests.support.bus import TestBus
from tests.support.waiting import eventually


async def test_a_changed_programme_is_known_by_its_new_name_and_date(
    service_settings: Settings, bus: TestBus, running_sink: SmtpSink
) -> None:
    later = (datetime.now(UTC) + timedelta(days=60)).replace(microsecond=0)
    async with serve(build_app(service_settings)) as client:
        await programme_known(bus, client)
        db = runtime_of(client).db
        await bus.publish(ProgrammeBudgetDecreaseRequested(
            programme_id="prog-1", change_id="chg-1", budget=Money(amount=100, currency="GBP"),
            reduction=Money(amount=100, currency="GBP"),
        ))  # fmt: skip
        await bus.publish(ProgrammeChanged(programme_id="prog-1", change_id="chg-2", name="Renamed fund", closes_at=later))

        async def changed() -> bool:
            doc = await db.programmes.find_one({"_id": "prog-1"})
            return bool(doc) and doc["name"] == "Renamed fund" and doc["closes_at"].replace(tzinfo=UTC) == later

        await eventually(changed, what="the new name and closing date")
        await eventually(lambda: _handled(db, 3), what="all three events handled")
        assert await db.notifications.count_documents({}) == 0, "a programme change is nobody's message"


async def _handled(db, count: int) -> bool:  # type: ignore[no-untyped-def]
    return await db.inbox.count_documents({}) >= count
