"""Events from scoring and disbursement move an application's status and timeline forward: in order,
out of order and duplicated, never backwards, losing nothing."""

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx

from grants_shared.events import (
    ApplicationDecidedV2,
    ApplicationScored,
    DecisionBasis,
    DecisionTally,
    EventData,
    GrantAccepted,
    GrantOffered,
    PaymentFailed,
    PaymentSent,
    ScheduledAmount,
)
from grants_shared.money import Money
from tests.support.waiting import eventually
from tests.integration.applications.conftest import Running
from tests.integration.applications.support import applicant, draft, manager, submitted_application
from tests.support.bus import TestBus

PANEL_DECISION = DecisionBasis(
    by="panel", meeting_id="mtg-1",
    tally=DecisionTally(fund=2, fund_different_amount=0, do_not_fund=1, abstain=0, recused=0),
)

AWARD = Money(amount=600_000, currency="GBP")
HALF = Money(amount=300_000, currency="GBP")


def scored(application: dict[str, Any]) -> ApplicationScored:
    return ApplicationScored(
        application_id=application["id"], programme_id=application["programme_id"], weighted_score=4.25,
        criterion_means={"need": 4.5, "lived_experience": 3.875}, reviewer_count=2, needs_moderation=False,
    )  # fmt: skip


def decided(application: dict[str, Any], outcome: str = "awarded",
            feedback: str = "Well rooted.") -> ApplicationDecidedV2:  # fmt: skip
    return ApplicationDecidedV2(
        application_id=application["id"], programme_id=application["programme_id"],
        organisation_id=application["organisation_id"], outcome=outcome,  # type: ignore[arg-type]
        amount_awarded=AWARD if outcome == "awarded" else None, feedback=feedback,
        decided_at=datetime.now(UTC), decided_by=PANEL_DECISION,
    )  # fmt: skip


def offered(application: dict[str, Any]) -> GrantOffered:
    return GrantOffered(
        grant_id="grant-1", application_id=application["id"], programme_id=application["programme_id"], amount=AWARD,
        schedule=[ScheduledAmount(sequence=1, amount=HALF, due_after_days=0),
                  ScheduledAmount(sequence=2, amount=HALF, due_after_days=180)],
    )  # fmt: skip


def accepted(application: dict[str, Any]) -> GrantAccepted:
    return GrantAccepted(grant_id="grant-1", application_id=application["id"])


def sent(application: dict[str, Any], payment_id: str) -> PaymentSent:
    return PaymentSent(payment_id=payment_id, grant_id="grant-1", application_id=application["id"], amount=HALF,
                       provider_reference=f"ref-{payment_id}", sent_at=datetime.now(UTC))  # fmt: skip


async def timeline(service: Running, application: dict[str, Any], *organisations: str) -> dict[str, Any]:
    who = applicant(service.settings, *organisations) if organisations else manager(service.settings)
    answer = await service.http.get(f"/v1/applications/{application['id']}/timeline", headers=who)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def publish_and_wait(service: Running, bus: TestBus, application: dict[str, Any], data: EventData,
                           kind: str | None) -> None:  # fmt: skip
    """Publish, then wait until the application's timeline shows the entry it causes."""
    event = await bus.publish(data)
    if kind is None:
        await eventually(lambda: _handled(service, event.id))
        return

    async def recorded() -> bool:
        return kind in [e["kind"] for e in (await timeline(service, application))["entries"]]

    await eventually(recorded)


async def _handled(service: Running, event_id: str) -> bool:
    return await service.db.inbox.count_documents({"_id": {"$regex": f":{event_id}$"}}) == 1


async def status_of(http: httpx.AsyncClient, application: dict[str, Any], headers: dict[str, str]) -> str:
    return (await http.get(f"/v1/applications/{application['id']}", headers=headers)).json()["status"]


async def test_the_journey_in_order_ends_paid(service: Running, bus: TestBus) -> None:
    http, settings = service.http, service.settings
    _, application = await submitted_application(http, settings)
    me, pm = applicant(settings, "org-shed"), manager(settings)

    await publish_and_wait(service, bus, application, scored(application), "under_review")
    as_applicant = (await http.get(f"/v1/applications/{application['id']}", headers=me)).json()
    as_manager = (await http.get(f"/v1/applications/{application['id']}", headers=pm)).json()
    assert as_applicant["status"] == "under_review" and as_applicant["score"] is None
    assert "4.25" not in str(await timeline(service, application, "org-shed")), "no score for the applicant"
    assert as_manager["status"] == "scored" and as_manager["score"]["weighted_score"] == 4.25

    await publish_and_wait(service, bus, application, decided(application), "awarded")
    decision = (await http.get(f"/v1/applications/{application['id']}", headers=me)).json()["decision"]
    assert decision["outcome"] == "awarded" and decision["amount_awarded"] == AWARD.model_dump()
    assert decision["feedback"] == "Well rooted."
    assert await status_of(http, application, me) == "awarded"

    await publish_and_wait(service, bus, application, offered(application), "offered")
    assert await status_of(http, application, me) == "offered"
    await publish_and_wait(service, bus, application, accepted(application), "accepted")
    assert await status_of(http, application, me) == "accepted"
    await publish_and_wait(service, bus, application, sent(application, "pay-1"), "payment_sent")
    assert await status_of(http, application, me) == "part_paid"
    read = (await http.get(f"/v1/applications/{application['id']}", headers=me)).json()
    assert read["paid"] == HALF.model_dump()

    second = await bus.publish(sent(application, "pay-2"))
    await eventually(lambda: _handled(service, second.id))
    assert await status_of(http, application, me) == "paid"

    mine = await timeline(service, application, "org-shed")
    assert mine["status"] == "paid"
    assert [e["kind"] for e in mine["entries"]] == [
        "draft_started", "submitted", "under_review", "awarded", "offered", "accepted", "payment_sent", "payment_sent",
    ]  # fmt: skip
    assert "Well rooted." in mine["entries"][3]["words"]
    assert "Paid so far: £6,000.00 of £6,000.00" in mine["entries"][-1]["words"]


async def test_out_of_order_and_duplicated_events_lose_nothing_and_never_go_back(
    service: Running, bus: TestBus
) -> None:
    http, settings = service.http, service.settings
    _, application = await submitted_application(http, settings)
    me = applicant(settings, "org-shed")
    decision = decided(application)  # decided first, but its event arrives after the offer
    await asyncio.sleep(0.01)

    await publish_and_wait(service, bus, application, offered(application), "offered")
    assert await status_of(http, application, me) == "offered"

    first_payment = await bus.publish(sent(application, "pay-1"))
    await bus.publish_event(first_payment)  # the broker delivers it twice
    await eventually(lambda: _handled(service, first_payment.id))
    assert await status_of(http, application, me) == "part_paid"

    await publish_and_wait(service, bus, application, decision, "awarded")
    assert await status_of(http, application, me) == "part_paid", "a late decision does not pull the status back"

    late_score = await bus.publish(scored(application))
    await bus.publish_event(late_score)
    await eventually(lambda: _handled(service, late_score.id))
    # the same payment again under a new event id (a republished outbox document) changes nothing
    repeated = await bus.publish(sent(application, "pay-1"))
    await eventually(lambda: _handled(service, repeated.id))
    assert await status_of(http, application, me) == "part_paid"

    # the second payment arrives before the acceptance it follows
    await asyncio.gather(bus.publish(sent(application, "pay-2")), bus.publish(accepted(application)))

    async def paid() -> bool:
        return await status_of(http, application, me) == "paid"

    await eventually(paid)
    await eventually(lambda: _kinds_include(service, application, "accepted"))
    await asyncio.sleep(0.3)  # room for any stray duplicate to be (wrongly) applied

    entries = (await timeline(service, application, "org-shed"))["entries"]
    kinds = [e["kind"] for e in entries]
    assert sorted(kinds) == sorted([
        "draft_started", "submitted", "offered", "payment_sent", "awarded", "under_review", "payment_sent", "accepted",
    ])  # fmt: skip
    assert kinds[:4] == ["draft_started", "submitted", "awarded", "offered"], "in the order things happened"
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    stored = await service.db.applications.find_one({"_id": application["id"]})
    assert [p["payment_id"] for p in stored["payments"]] == ["pay-1", "pay-2"]
    assert stored["decision"]["amount_awarded"] == AWARD.model_dump()
    assert await bus.dead_letters("applications", expect=1, timeout=0.5) == []


async def _kinds_include(service: Running, application: dict[str, Any], kind: str) -> bool:
    return kind in [e["kind"] for e in (await timeline(service, application))["entries"]]


async def test_a_decline_shows_the_panels_feedback(service: Running, bus: TestBus) -> None:
    http, settings = service.http, service.settings
    _, application = await submitted_application(http, settings)
    me = applicant(settings, "org-shed")
    await publish_and_wait(service, bus, application, scored(application), "under_review")
    feedback = "The panel liked the idea; show how people with lived experience will lead it."
    await publish_and_wait(service, bus, application, decided(application, "declined", feedback), "declined")

    read = (await http.get(f"/v1/applications/{application['id']}", headers=me)).json()
    assert read["status"] == "declined"
    assert read["decision"] == {"outcome": "declined", "amount_awarded": None, "feedback": feedback,
                                "decided_at": read["decision"]["decided_at"]}  # fmt: skip
    words = (await timeline(service, application, "org-shed"))["entries"][-1]["words"]
    assert "decided not to fund" in words and feedback in words
    assert (await http.post(f"/v1/applications/{application['id']}/withdraw", json={}, headers=me)).status_code == 409


async def test_a_failed_payment_is_told_and_changes_no_status(service: Running, bus: TestBus) -> None:
    http, settings = service.http, service.settings
    _, application = await submitted_application(http, settings)
    for data, kind in [(decided(application), "awarded"), (offered(application), "offered"),
                       (accepted(application), "accepted")]:  # fmt: skip
        await publish_and_wait(service, bus, application, data, kind)
    failure = PaymentFailed(payment_id="pay-1", grant_id="grant-1", application_id=application["id"],
                            reason="account closed", attempt=1, will_retry=True)  # fmt: skip
    await publish_and_wait(service, bus, application, failure, "payment_failed")
    mine = await timeline(service, application, "org-shed")
    assert mine["status"] == "accepted"
    assert mine["entries"][-1]["words"] == "A payment to you did not go through (account closed). We will try again."


async def test_events_after_a_withdrawal_are_kept_but_the_status_stays_withdrawn(
    service: Running, bus: TestBus
) -> None:
    http, settings = service.http, service.settings
    _, application = await submitted_application(http, settings)
    me = applicant(settings, "org-shed")
    assert (await http.post(f"/v1/applications/{application['id']}/withdraw", json={}, headers=me)).status_code == 200

    await publish_and_wait(service, bus, application, decided(application), "awarded")
    mine = await timeline(service, application, "org-shed")
    assert mine["status"] == "withdrawn"
    assert [e["kind"] for e in mine["entries"]][-2:] == ["withdrawn", "awarded"]


async def test_events_nobody_should_have_sent_go_to_the_dead_letter_queue(service: Running, bus: TestBus) -> None:
    http, settings = service.http, service.settings
    programme, application = await submitted_application(http, settings)
    a_draft = (await draft(http, settings, programme["id"], "org-shed")).json()

    unknown = await bus.publish(scored({"id": "app-never-issued", "programme_id": programme["id"]}))
    [dead] = await bus.dead_letters("applications", expect=1, timeout=10)
    assert dead["headers"]["cloudEvents_id"] == unknown.id
    assert dead["reason"].startswith("NotFound: no application app-never-issued")

    await bus.publish(scored(a_draft))
    [dead] = await bus.dead_letters("applications", expect=1, timeout=10)
    assert dead["reason"].startswith("Conflict:") and "is draft" in dead["reason"]

    await bus.publish(scored({**application, "programme_id": "prg-another"}))
    [dead] = await bus.dead_letters("applications", expect=1, timeout=10)
    assert f"belongs to programme {programme['id']}, not prg-another" in dead["reason"]

    await publish_and_wait(service, bus, application, decided(application), "awarded")
    await bus.publish(decided(application, "declined"))
    [dead] = await bus.dead_letters("applications", expect=1, timeout=10)
    assert "already decided differently" in dead["reason"]
    read = (await http.get(f"/v1/applications/{application['id']}", headers=manager(settings))).json()
    assert read["status"] == "awarded" and read["decision"]["outcome"] == "awarded"


async def test_a_grant_for_a_declined_application_is_dead_lettered_whichever_comes_first(
    service: Running, bus: TestBus
) -> None:
    http, settings = service.http, service.settings
    _, declined_first = await submitted_application(http, settings, "org-shed")
    await publish_and_wait(service, bus, declined_first, decided(declined_first, "declined", "Not this time."),
                           "declined")  # fmt: skip
    await bus.publish(offered(declined_first))
    [dead] = await bus.dead_letters("applications", expect=1, timeout=10)
    assert dead["reason"].startswith("Conflict:") and "declined" in dead["reason"]
    me = applicant(settings, "org-shed")
    assert await status_of(http, declined_first, me) == "declined"
    assert "offered" not in [e["kind"] for e in (await timeline(service, declined_first, "org-shed"))["entries"]]

    _, offered_first = await submitted_application(http, settings, "org-choir")
    await publish_and_wait(service, bus, offered_first, offered(offered_first), "offered")
    await bus.publish(decided(offered_first, "declined", "Not this time."))
    [dead] = await bus.dead_letters("applications", expect=1, timeout=10)
    assert dead["reason"].startswith("Conflict:") and "declined" in dead["reason"]
    stored = await service.db.applications.find_one({"_id": offered_first["id"]})
    assert stored["status"] == "offered" and stored.get("decision") is None
