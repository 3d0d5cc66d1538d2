"""The shared event contracts, money and CloudEvents mapping."""

import re
from datetime import UTC, datetime

from typing import Annotated

import pytest
from pydantic import ValidationError

from grants_shared.cloudevents import to_message
from grants_shared.events import CONTRACTS, ApplicationDecided, ApplicationDecidedV2, DecidedBy, DecisionBasis, DecisionTally, Event, PaymentPolicy, ProgrammeClosed, Tranche
from grants_shared.money import Money

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def test_every_contract_is_versioned_and_names_owner_consumers_and_subject() -> None:
    for event_type, contract in CONTRACTS.items():
        assert re.fullmatch(r"grants\.[a-z_]+\.[a-z_]+\.v[1-9][0-9]*", event_type), event_type
        assert contract.owner in ("applications", "scoring", "disbursement", "notifications")
        assert contract.owner not in contract.consumers
        assert contract.subject_field in contract.model_fields


def test_money_rejects_floats_and_mixing_currencies() -> None:
    with pytest.raises(ValidationError):
        Money(amount=10.5, currency="GBP")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Money(amount=-1, currency="GBP")
    with pytest.raises(ValidationError):
        Money(amount=1, currency="gbp")
    with pytest.raises(ValueError):
        Money(amount=1, currency="GBP") + Money(amount=1, currency="EUR")
    assert Money(amount=150, currency="GBP") + Money(amount=250, currency="GBP") == Money(amount=400, currency="GBP")


def test_payment_policy_tranches_must_add_up_to_the_whole() -> None:
    PaymentPolicy(kind="tranches", tranches=[Tranche(share_bps=8000, due_after_days=0), Tranche(share_bps=2000, due_after_days=180)])
    with pytest.raises(ValidationError, match="10000"):
        PaymentPolicy(kind="tranches", tranches=[Tranche(share_bps=5000, due_after_days=0), Tranche(share_bps=4000, due_after_days=90)])
    with pytest.raises(ValidationError, match="single"):
        PaymentPolicy(kind="single", tranches=[Tranche(share_bps=10000, due_after_days=0)])


def test_an_award_carries_an_amount_and_a_decline_does_not() -> None:
    common = dict(application_id="a1", programme_id="p1", organisation_id="o1", decided_at=NOW,
                  decided_by=DecidedBy(recorded_by="m1", panel=["r1"]))
    with pytest.raises(ValidationError, match="amount"):
        ApplicationDecided(outcome="awarded", **common)
    with pytest.raises(ValidationError, match="amount"):
        ApplicationDecided(outcome="declined", amount_awarded=Money(amount=1, currency="GBP"), **common)


def test_a_decision_names_the_panel_meeting_and_tally_or_the_delegated_role_never_a_person() -> None:
    tally = DecisionTally(fund=3, fund_different_amount=1, do_not_fund=1, abstain=0, recused=1)
    panel = DecisionBasis(by="panel", meeting_id="mtg-1", tally=tally)
    decided = ApplicationDecidedV2(application_id="a1", programme_id="p1", organisation_id="o1", decided_at=NOW,
                                   outcome="declined", feedback="Reapply next round", decided_by=panel)
    public = decided.without_personal_data()
    assert "feedback" not in public
    assert public["decided_by"] == {"by": "panel", "meeting_id": "mtg-1", "tally": tally.model_dump(),
                                    "delegated_to": None}
    assert set(DecisionBasis.model_fields) == {"by", "meeting_id", "tally", "delegated_to"}  # no names
    with pytest.raises(ValidationError, match="meeting"):
        DecisionBasis(by="panel", meeting_id="mtg-1")
    with pytest.raises(ValidationError, match="role"):
        DecisionBasis(by="delegated")
    with pytest.raises(ValidationError, match="role"):
        DecisionBasis(by="delegated", delegated_to="admin", meeting_id="mtg-1")
    assert DecisionBasis(by="delegated", delegated_to="programme_manager").tally is None


def test_consumers_ignore_fields_they_do_not_know() -> None:
    closed = ProgrammeClosed.model_validate({"programme_id": "p1", "added_in_a_later_version": True})
    assert closed.programme_id == "p1"


def test_cloudevents_binary_mode_headers() -> None:
    event = Event.new(ProgrammeClosed(programme_id="p-9"), source="/grants/applications", traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    message = to_message(event)
    assert message.body == b'{"programme_id":"p-9"}'
    assert message.headers["cloudEvents_type"] == "grants.programme.closed.v1"
    assert message.headers["cloudEvents_subject"] == "p-9"
    assert message.headers["cloudEvents_id"] == event.id == message.message_id
    assert message.headers["traceparent"].startswith("00-")
    assert message.content_type == "application/json"
    assert message.delivery_mode.value == 2


def test_personal_data_is_marked_and_left_out_of_what_leaves_the_platform() -> None:
    from grants_shared.events import ApplicationSubmitted, Contact, OrganisationSummary

    submitted = ApplicationSubmitted(
        application_id="a1", programme_id="p1",
        organisation=OrganisationSummary(id="o1", name="Harrow Shed", kind="community_group", area="Harrow"),
        title="Peer support", summary="About a member in crisis", amount_requested=Money(amount=100, currency="GBP"),
        contact=Contact(person_id="sam", name="Sam", email="sam@example.org"), submitted_at=NOW,
    )
    public = submitted.without_personal_data()
    assert "contact" not in public and "summary" not in public
    assert public["title"] == "Peer support" and public["amount_requested"] == {"amount": 100, "currency": "GBP"}
    schema = ApplicationSubmitted.model_json_schema()
    assert schema["properties"]["summary"]["x-personal-data"] is True


def test_personal_data_nested_in_lists_and_models_is_left_out_too() -> None:
    from pydantic import BaseModel, Field

    from grants_shared.events import PERSONAL, EventData

    class Vote(BaseModel):
        member_id: Annotated[str, Field(json_schema_extra=PERSONAL)]
        recommendation: str

    class Tally(BaseModel):
        votes: list[Vote]
        chair: Annotated[str, Field(json_schema_extra=PERSONAL)]
        quorate: bool

    class Decided(EventData):  # no type: not registered in the catalogue
        subject_field = "application_id"
        application_id: str
        tally: Tally

    decided = Decided(application_id="a1", tally=Tally(votes=[Vote(member_id="m1", recommendation="fund")],
                                                        chair="m2", quorate=True))  # fmt: skip
    assert decided.without_personal_data() == {
        "application_id": "a1", "tally": {"votes": [{"recommendation": "fund"}], "quorate": True}
    }
