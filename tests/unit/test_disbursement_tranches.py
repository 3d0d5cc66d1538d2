"""The rules of conditional tranches: what a programme's tranche policy may say, and what a payment is
shown to be waiting for (its date, a report, a condition, finance)."""

from datetime import UTC, datetime, timedelta

import pytest

from disbursement.domain import (
    PaymentStatus, TrancheRequirement, Wait, Waiting, WaitKind, check_tranche_requirements, tranche_is_free,
    waiting_for,
)  # fmt: skip

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)
REPORTS = {"midway", "end"}


def test_a_policy_may_make_tranches_wait_for_a_report_a_condition_or_both() -> None:
    check_tranche_requirements([
        TrancheRequirement(2, report="midway"), TrancheRequirement(3, report="end", condition="Accounts seen"),
    ], tranches=3, report_names=REPORTS)  # fmt: skip


@pytest.mark.parametrize("requirements, refusal", [
    ([TrancheRequirement(4, condition="x")], "no tranche 4"),
    ([TrancheRequirement(0, condition="x")], "no tranche 0"),
    ([TrancheRequirement(2, report="quarterly")], "no report named 'quarterly'"),
    ([TrancheRequirement(2)], "needs a report or a condition"),
    ([TrancheRequirement(2, report="midway"), TrancheRequirement(2, condition="x")], "one entry"),
])  # fmt: skip
def test_a_policy_that_could_never_be_met_or_names_no_tranche_is_refused(requirements, refusal) -> None:
    with pytest.raises(ValueError, match=refusal):
        check_tranche_requirements(requirements, tranches=3, report_names=REPORTS)


def test_a_single_payment_is_tranche_one() -> None:
    check_tranche_requirements([TrancheRequirement(1, condition="Bank letter seen")], tranches=1, report_names=set())


def test_a_tranche_is_free_only_when_everything_it_waits_for_is_met() -> None:
    assert tranche_is_free([])
    assert tranche_is_free([(WaitKind.REPORT, True), (WaitKind.CONDITION, True)])
    assert not tranche_is_free([(WaitKind.REPORT, True), (WaitKind.CONDITION, False)])


def _kinds(found) -> list[tuple[Waiting, str | None]]:
    return [(kind, wait.name if wait else None) for kind, wait in found]


def test_a_scheduled_tranche_waits_for_its_date_then_its_report_and_condition() -> None:
    waits = [Wait(WaitKind.REPORT, "midway", met=False, overdue=True), Wait(WaitKind.CONDITION, "Accounts", met=False)]
    later = NOW + timedelta(days=30)
    found = waiting_for(PaymentStatus.SCHEDULED, later, waits, NOW)
    assert _kinds(found) == [(Waiting.DATE, None), (Waiting.REPORT, "midway"), (Waiting.CONDITION, "Accounts")]
    assert found[1][1] is not None and found[1][1].overdue


def test_a_met_wait_is_not_shown_and_a_free_due_tranche_waits_for_finance_approval() -> None:
    waits = [Wait(WaitKind.REPORT, "midway", met=True), Wait(WaitKind.CONDITION, "Accounts", met=False)]
    assert _kinds(waiting_for(PaymentStatus.SCHEDULED, NOW, waits, NOW)) == [(Waiting.CONDITION, "Accounts")]
    met = [Wait(WaitKind.REPORT, "midway", met=True)]
    assert _kinds(waiting_for(PaymentStatus.SCHEDULED, NOW, met, NOW)) == [(Waiting.FINANCE_APPROVAL, None)]
    assert _kinds(waiting_for(PaymentStatus.SCHEDULED, NOW, [], NOW)) == [(Waiting.FINANCE_APPROVAL, None)]


def test_a_held_payment_waits_for_finance_and_one_in_flight_or_settled_waits_for_nothing() -> None:
    waits = [Wait(WaitKind.REPORT, "midway", met=False)]
    assert _kinds(waiting_for(PaymentStatus.HELD, NOW, waits, NOW)) == [(Waiting.FINANCE_HOLD, None)]
    for status in (PaymentStatus.APPROVED, PaymentStatus.SENDING, PaymentStatus.SENT, PaymentStatus.CANCELLED,
                   PaymentStatus.FAILED, PaymentStatus.RETRYING):  # fmt: skip
        assert waiting_for(status, NOW, waits, NOW) == []
