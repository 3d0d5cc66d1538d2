"""The rules for changing an open programme (pure): only what cannot hurt a group already applying."""

from datetime import UTC, datetime, timedelta

import pytest

from applications.domain import (
    CHANGE_TRANSITIONS, ChangeStatus, ProgrammeTerms, RequestedChange, StageDates, change_problems, is_budget_decrease,
)  # fmt: skip
from grants_shared.events import RubricCriterion
from grants_shared.money import Money

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)


def gbp(pounds: int) -> Money:
    return Money(amount=pounds * 100, currency="GBP")


def terms(**overrides: object) -> ProgrammeTerms:
    fields: dict[str, object] = {
        "name": "Community support", "budget": gbp(100_000), "maximum_award": gbp(10_000),
        "opens_at": NOW - timedelta(days=5), "closes_at": NOW + timedelta(days=20),
        "criteria": [RubricCriterion(key="need", title="Need", weight=1)], "reviewers_per_application": 1,
        "panel": ["rev-1"],
    }  # fmt: skip
    fields.update(overrides)
    return ProgrammeTerms.model_validate(fields)


def test_safe_changes_have_no_problems() -> None:
    change = RequestedChange(name="Renamed", description="More words", budget=gbp(150_000),
                             maximum_award=gbp(12_000), closes_at=NOW + timedelta(days=30))  # fmt: skip
    assert change_problems(terms(), change, NOW) == []
    assert not is_budget_decrease(terms(), change)


def test_a_budget_decrease_alone_is_allowed_and_recognised() -> None:
    change = RequestedChange(budget=gbp(60_000))
    assert change_problems(terms(), change, NOW) == []
    assert is_budget_decrease(terms(), change)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (RequestedChange(), "say what to change"),
        (RequestedChange(budget=gbp(100_000)), "already that much"),
        (RequestedChange(budget=Money(amount=1, currency="EUR")), "stays in its currency"),
        (RequestedChange(budget=gbp(60_000), name="x"), "on its own"),
        (RequestedChange(budget=gbp(5_000)), "maximum award cannot be more than the budget"),
        (RequestedChange(maximum_award=gbp(9_000)), "can only rise"),
        (RequestedChange(maximum_award=gbp(200_000)), "maximum award cannot be more than the budget"),
        (RequestedChange(closes_at=NOW + timedelta(days=19)), "only move later"),
        (RequestedChange(expression_of_interest_closes_at=NOW + timedelta(days=3)), "no expression of interest"),
    ],
)
def test_unsafe_changes_are_named(change: RequestedChange, problem: str) -> None:
    assert any(problem in p for p in change_problems(terms(), change, NOW)), change_problems(terms(), change, NOW)


def test_a_later_closing_date_that_has_passed_is_refused() -> None:
    past = terms(opens_at=NOW - timedelta(days=30), closes_at=NOW - timedelta(days=10))
    assert any("passed" in p for p in change_problems(past, RequestedChange(closes_at=NOW - timedelta(days=1)), NOW))


def test_the_expression_of_interest_moves_later_but_not_past_the_full_application() -> None:
    staged = terms(expression_of_interest=StageDates(opens_at=NOW - timedelta(days=5), closes_at=NOW + timedelta(days=5)))
    assert change_problems(staged, RequestedChange(expression_of_interest_closes_at=NOW + timedelta(days=10)), NOW) == []
    assert change_problems(staged, RequestedChange(expression_of_interest_closes_at=NOW + timedelta(days=4)), NOW)
    assert change_problems(staged, RequestedChange(expression_of_interest_closes_at=NOW + timedelta(days=25)), NOW)
    both = RequestedChange(closes_at=NOW + timedelta(days=40), expression_of_interest_closes_at=NOW + timedelta(days=25))
    assert change_problems(staged, both, NOW) == []


def test_only_a_pending_change_is_settled() -> None:
    assert CHANGE_TRANSITIONS[ChangeStatus.PENDING] == {ChangeStatus.APPLIED, ChangeStatus.REFUSED}
    assert not CHANGE_TRANSITIONS[ChangeStatus.APPLIED] and not CHANGE_TRANSITIONS[ChangeStatus.REFUSED]
