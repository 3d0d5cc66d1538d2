"""Offer terms and acceptance windows: the template filled with the grant's own values, when an offer
lapses, when the grantee is reminded, and whether it can still be answered."""

from datetime import UTC, datetime, timedelta

import pytest

from disbursement.domain import (
    DEFAULT_OFFER_TERMS, GrantStatus, check_terms_template, describe_schedule, fill_terms, grant_reference,
    offer_expires_at, offer_is_open, offer_reminder_at, payment_reference,
)  # fmt: skip
from grants_shared.events import ScheduledAmount
from grants_shared.money import Money

OFFERED_AT = datetime(2026, 12, 2, 15, 45, tzinfo=UTC)


def gbp(pence: int) -> Money:
    return Money(amount=pence, currency="GBP")


def test_the_terms_are_filled_with_the_grant_s_own_values() -> None:
    schedule = [ScheduledAmount(sequence=1, amount=gbp(600_000), due_after_days=0),
                ScheduledAmount(sequence=2, amount=gbp(200_000), due_after_days=180)]  # fmt: skip
    terms = fill_terms("$programme_name: $amount, $schedule. Reply by $expires_on ($grant_reference). Costs $$5.",
                       "Men's sheds 2026", gbp(800_000), schedule, datetime(2026, 12, 31, tzinfo=UTC), "GRANT-ABCD1234")
    assert terms == ("Men's sheds 2026: £8,000.00, in 2 payments: £6,000.00 on acceptance; £2,000.00 180 days "
                     "after acceptance. Reply by 31 December 2026 (GRANT-ABCD1234). Costs $5.")


def test_the_default_terms_use_only_known_placeholders_and_say_the_amount() -> None:
    check_terms_template(DEFAULT_OFFER_TERMS)
    schedule = [ScheduledAmount(sequence=1, amount=gbp(500_000), due_after_days=0)]
    terms = fill_terms(DEFAULT_OFFER_TERMS, "Suicide prevention 2026", gbp(500_000), schedule, OFFERED_AT, "GRANT-1")
    assert "£5,000.00, paid in one payment on acceptance" in terms and "$" not in terms


@pytest.mark.parametrize("template", ["Pay $amount to $organisation_bank", "Costs $5", "A ${broken"])
def test_a_template_naming_something_the_grant_lacks_or_malformed_is_refused(template: str) -> None:
    with pytest.raises(ValueError):
        check_terms_template(template)


def test_an_offer_is_open_for_whole_days_and_lapses_after_its_last_day() -> None:
    expires = offer_expires_at(OFFERED_AT, 28)
    assert expires == datetime(2026, 12, 31, tzinfo=UTC)  # open all of 30 December, the 28th day after
    assert offer_reminder_at(expires, 7) == datetime(2026, 12, 24, tzinfo=UTC)


def test_an_offer_can_be_answered_only_while_offered_and_before_it_lapses() -> None:
    expires = offer_expires_at(OFFERED_AT, 1)
    assert offer_is_open(GrantStatus.OFFERED, expires, expires - timedelta(seconds=1))
    assert not offer_is_open(GrantStatus.OFFERED, expires, expires)  # even before the worker expires it
    assert offer_is_open(GrantStatus.OFFERED, None, OFFERED_AT)  # offers made before windows existed
    for status in (GrantStatus.ACCEPTED, GrantStatus.DECLINED, GrantStatus.EXPIRED, GrantStatus.HELD):
        assert not offer_is_open(status, expires, OFFERED_AT)


def test_a_single_payment_on_acceptance_reads_simply() -> None:
    assert describe_schedule([ScheduledAmount(sequence=1, amount=gbp(1), due_after_days=0)]) == "in one payment on acceptance"


def test_payment_references_start_with_the_grant_s_reference() -> None:
    grant_id = "1a2b3c4d-0000-4000-8000-000000000000"
    assert grant_reference(grant_id) == "GRANT-1A2B3C4D"
    assert payment_reference(grant_id, 2) == "GRANT-1A2B3C4D-2"


# --- payment runs and holds (finance in control of the money) -------------------------------------


def test_a_run_above_the_threshold_needs_two_approvals() -> None:
    from disbursement.domain import approvals_needed

    assert approvals_needed(gbp(1_000_000), 1_000_000) == 1  # at the threshold: one
    assert approvals_needed(gbp(1_000_001), 1_000_000) == 2


def test_a_second_approval_must_come_from_another_finance_officer() -> None:
    from disbursement.domain import PaymentRunStatus, approve_run

    awaiting = PaymentRunStatus.AWAITING_APPROVAL
    assert approve_run(awaiting, [], "fin-1", 1) is True
    assert approve_run(awaiting, [], "fin-1", 2) is False
    assert approve_run(awaiting, ["fin-1"], "fin-2", 2) is True
    with pytest.raises(ValueError, match="another finance officer"):
        approve_run(awaiting, ["fin-1"], "fin-1", 2)
    with pytest.raises(ValueError, match="only a run awaiting approval"):
        approve_run(PaymentRunStatus.APPROVED, ["fin-1"], "fin-2", 1)


def test_only_an_approved_payment_can_be_claimed_and_holds_stop_it_before_sending() -> None:
    from disbursement.domain import HOLDABLE, PaymentStatus, can_move

    claimable = {s for s in PaymentStatus if can_move(s, PaymentStatus.SENDING)}
    assert claimable == {PaymentStatus.APPROVED, PaymentStatus.RETRYING, PaymentStatus.SENDING}
    assert set(HOLDABLE) == {PaymentStatus.SCHEDULED, PaymentStatus.APPROVED, PaymentStatus.RETRYING}
    # Released or retried, a payment needs a run approved again.
    assert {s for s in PaymentStatus if can_move(PaymentStatus.HELD, s)} == {PaymentStatus.SCHEDULED, PaymentStatus.CANCELLED}
    assert not can_move(PaymentStatus.SCHEDULED, PaymentStatus.SENDING)


# --- variations ----------------------------------------------------------------------------------


def test_an_increase_goes_to_the_last_payment_not_yet_in_a_run() -> None:
    from disbursement.domain import vary_payments

    assert vary_payments([("p1", 400), ("p2", 600)], 50) == {"p2": 650}


def test_a_decrease_comes_off_the_last_payments_first_and_cancels_those_brought_to_nothing() -> None:
    from disbursement.domain import vary_payments

    assert vary_payments([("p1", 400), ("p2", 600)], -700) == {"p2": 0, "p1": 300}
    assert vary_payments([("p1", 400), ("p2", 600)], -1000) == {"p2": 0, "p1": 0}
    with pytest.raises(ValueError, match="below what is already paid"):
        vary_payments([("p1", 400)], -401)
    with pytest.raises(ValueError, match="no payment left"):
        vary_payments([], 10)
