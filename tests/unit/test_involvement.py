"""The rules of involvement payments to panel members: what time is worth under a policy, which
expenses may be claimed, where an approved claim goes by the member's choice, and UK tax years."""

from datetime import date

import pytest

from disbursement import domain as pay
from disbursement.domain import InvolvementPaymentStatus, PaymentChoice, WaitingFor
from grants_shared.money import Money
from scoring import domain
from scoring.domain import ClaimStatus, ExpenseCategory, Involvement, RateUnit, TimeEntryKind


def gbp(amount: int) -> Money:
    return Money(amount=amount, currency="GBP")


# --- rates ---------------------------------------------------------------------------------------


def test_a_rate_per_session_pays_the_sessions_of_a_meeting_and_of_a_review() -> None:
    policy = Involvement(RateUnit.SESSION, gbp(7_500), meeting=2, review=1)
    assert domain.entry_amount(policy, TimeEntryKind.MEETING) == gbp(15_000)
    assert domain.entry_amount(policy, TimeEntryKind.REVIEW) == gbp(7_500)


@pytest.mark.parametrize(
    ("rate", "minutes", "expected"),
    [
        (2_000, 60, 2_000),  # £20 an hour for an hour
        (2_000, 90, 3_000),  # an hour and a half
        (2_001, 30, 1_001),  # 1000.5p rounds half up
        (1_999, 30, 1_000),  # 999.5p rounds half up
        (1_001, 20, 334),  # 333.67p rounds to 334
        (1_000, 1, 17),  # 16.67p
        (2_000, 0, 0),
    ],
)
def test_an_hourly_rate_pays_minutes_over_sixty_rounded_half_up_to_a_penny(rate: int, minutes: int, expected: int) -> None:
    policy = Involvement(RateUnit.HOUR, gbp(rate), meeting=minutes, review=minutes)
    assert domain.entry_amount(policy, TimeEntryKind.MEETING) == gbp(expected)


def test_quantities_are_described_in_the_policy_unit() -> None:
    hourly = Involvement(RateUnit.HOUR, gbp(2_000), meeting=150, review=45)
    assert domain.describe_quantity(hourly, TimeEntryKind.MEETING) == "2 h 30 min"
    assert domain.describe_quantity(hourly, TimeEntryKind.REVIEW) == "45 min"
    sessions = Involvement(RateUnit.SESSION, gbp(7_500), meeting=1, review=2)
    assert domain.describe_quantity(sessions, TimeEntryKind.MEETING) == "1 session"
    assert domain.describe_quantity(sessions, TimeEntryKind.REVIEW) == "2 sessions"


def test_a_policy_bounds_what_a_meeting_or_review_counts_for() -> None:
    assert domain.involvement_policy_problems(RateUnit.HOUR, 180, 120) == []
    assert domain.involvement_policy_problems(RateUnit.HOUR, 13 * 60, 0) == ["a meeting counts from 0 to 720 minutes"]
    assert domain.involvement_policy_problems(RateUnit.SESSION, 1, 11) == ["a review counts from 0 to 10 sessions"]


# --- expenses ------------------------------------------------------------------------------------


def test_an_expense_is_claimed_only_when_the_policy_pays_its_category() -> None:
    allowed = [ExpenseCategory.TRAVEL, ExpenseCategory.CHILDCARE]
    assert domain.expense_problems(True, allowed, ExpenseCategory.TRAVEL, gbp(1_250), "GBP") == []
    assert domain.expense_problems(False, allowed, ExpenseCategory.TRAVEL, gbp(1_250), "GBP") == [
        "this programme's involvement policy does not pay expenses"
    ]
    assert domain.expense_problems(True, allowed, ExpenseCategory.CARER_COSTS, gbp(1_250), "GBP") == [
        "this programme does not pay carer costs expenses"
    ]
    assert domain.expense_problems(True, allowed, ExpenseCategory.TRAVEL, Money(amount=10, currency="EUR"), "GBP") == [
        "the programme pays in GBP"
    ]
    assert domain.expense_problems(True, allowed, ExpenseCategory.TRAVEL, gbp(0), "GBP") == [
        "an expense claim is for more than nothing"
    ]


def test_a_claim_is_approved_or_rejected_once() -> None:
    assert domain.can_move_claim(ClaimStatus.SUBMITTED, ClaimStatus.APPROVED)
    assert domain.can_move_claim(ClaimStatus.SUBMITTED, ClaimStatus.REJECTED)
    for decided in (ClaimStatus.APPROVED, ClaimStatus.REJECTED):
        assert not any(domain.can_move_claim(decided, target) for target in ClaimStatus)


# --- payment choices -----------------------------------------------------------------------------


def test_the_members_choice_decides_where_an_approved_claim_goes() -> None:
    assert pay.involvement_route(None, True) == pay.InvolvementRoute(InvolvementPaymentStatus.WAITING,
                                                                     WaitingFor.PAYMENT_CHOICE)  # fmt: skip
    volunteer = pay.involvement_route(PaymentChoice.VOLUNTEER, False)
    assert volunteer.status is InvolvementPaymentStatus.NOT_PAID and not volunteer.takes_budget
    voucher = pay.involvement_route(PaymentChoice.VOUCHER, False)
    assert voucher.status is InvolvementPaymentStatus.VOUCHER_ISSUED and voucher.takes_budget
    no_details = pay.involvement_route(PaymentChoice.BANK, False)
    assert no_details == pay.InvolvementRoute(InvolvementPaymentStatus.WAITING, WaitingFor.BANK_DETAILS)
    bank = pay.involvement_route(PaymentChoice.BANK, True)
    assert bank.status is InvolvementPaymentStatus.APPROVED and bank.takes_budget


def test_expenses_are_repaid_to_the_bank_whatever_the_member_chose_for_their_time() -> None:
    for choice in (None, PaymentChoice.VOLUNTEER, PaymentChoice.VOUCHER, PaymentChoice.BANK):
        waiting = pay.involvement_route(choice, False, "expenses")
        assert waiting == pay.InvolvementRoute(InvolvementPaymentStatus.WAITING, WaitingFor.BANK_DETAILS)
        repaid = pay.involvement_route(choice, True, "expenses")
        assert repaid == pay.InvolvementRoute(InvolvementPaymentStatus.APPROVED, takes_budget=True)
    assert pay.involvement_route(PaymentChoice.VOLUNTEER, True, "time").status is InvolvementPaymentStatus.NOT_PAID


def test_finished_involvement_payments_never_move_again_and_a_failed_one_only_goes_again() -> None:
    for final in (InvolvementPaymentStatus.SENT, InvolvementPaymentStatus.VOUCHER_ISSUED,
                  InvolvementPaymentStatus.NOT_PAID):  # fmt: skip
        assert pay.INVOLVEMENT_PAYMENT_TRANSITIONS[final] == frozenset()
    assert pay.INVOLVEMENT_PAYMENT_TRANSITIONS[InvolvementPaymentStatus.FAILED] == {InvolvementPaymentStatus.APPROVED}
    assert pay.can_move_involvement(InvolvementPaymentStatus.FAILED, InvolvementPaymentStatus.APPROVED)
    assert not pay.can_move_involvement(InvolvementPaymentStatus.SENT, InvolvementPaymentStatus.APPROVED)
    assert InvolvementPaymentStatus.SENT not in pay.INVOLVEMENT_PAYMENT_TRANSITIONS[InvolvementPaymentStatus.WAITING]


def test_the_involvement_budget_is_apart_from_the_grants_budget() -> None:
    assert pay.involvement_budget_id("prg-1") == "involvement:prg-1" != "prg-1"
    assert pay.budget_change(None, 50_000) == 50_000
    assert pay.budget_change(50_000, 30_000) == -20_000


# --- UK tax years (6 April to 5 April) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "year"),
    [
        (date(2026, 4, 5), "2025-26"),
        (date(2026, 4, 6), "2026-27"),
        (date(2026, 12, 31), "2026-27"),
        (date(2027, 1, 1), "2026-27"),
        (date(2027, 4, 5), "2026-27"),
        (date(1999, 4, 6), "1999-00"),
        (date(2000, 2, 29), "1999-00"),
    ],
)
def test_the_tax_year_runs_from_the_sixth_of_april(day: date, year: str) -> None:
    assert pay.tax_year(day) == year
    first, last = pay.tax_year_bounds(year)
    assert first <= day <= last and first.month == 4 and first.day == 6 and last.day == 5


def test_totals_per_tax_year_keep_time_and_expenses_apart_latest_year_first() -> None:
    received = [
        pay.Received(date(2026, 4, 5), "time", gbp(7_500)),
        pay.Received(date(2026, 4, 6), "time", gbp(7_500)),
        pay.Received(date(2026, 5, 1), "expenses", gbp(1_250)),
        pay.Received(date(2027, 4, 5), "time", gbp(2_000)),
    ]
    totals = pay.totals_by_tax_year(received, "GBP")
    assert [(t.tax_year, t.time.amount, t.expenses.amount, t.total.amount) for t in totals] == [
        ("2026-27", 9_500, 1_250, 10_750),
        ("2025-26", 7_500, 0, 7_500),
    ]
    assert pay.totals_by_tax_year([], "GBP") == []
    with pytest.raises(ValueError):
        pay.totals_by_tax_year([pay.Received(date(2026, 5, 1), "time", Money(amount=1, currency="EUR"))], "GBP")
