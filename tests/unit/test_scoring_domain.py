"""The pure rules of scoring: assignment, weighted scores, moderation, ranking against the budget, awards."""

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from fractions import Fraction

import pytest

from grants_shared.money import Money
from scoring import domain
from scoring.domain import (
    ApplicationStatus,
    ConflictStatus,
    ProgrammeStatus,
    RankingCandidate,
    ReviewStatus,
    assign_reviewers,
    can_move,
    rank,
    score_application,
)

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def gbp(pounds: int) -> Money:
    return Money(amount=pounds * 100, currency="GBP")


# --- state machines ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table, statuses",
    [
        (domain.PROGRAMME_TRANSITIONS, ProgrammeStatus),
        (domain.APPLICATION_TRANSITIONS, ApplicationStatus),
        (domain.REVIEW_TRANSITIONS, ReviewStatus),
        (domain.CONFLICT_TRANSITIONS, ConflictStatus),
    ],
)
def test_each_state_machine_says_where_every_status_may_go(table: dict, statuses: type[StrEnum]) -> None:
    assert set(table) == set(statuses)
    assert all(isinstance(target, statuses) for targets in table.values() for target in targets)
    assert all(status not in targets for status, targets in table.items())  # staying put is not a move


def test_an_application_waits_for_reviewers_and_goes_back_to_waiting_when_one_drops_out() -> None:
    assert can_move(ApplicationStatus.AWAITING_REVIEWERS, ApplicationStatus.IN_REVIEW)
    assert can_move(ApplicationStatus.IN_REVIEW, ApplicationStatus.AWAITING_REVIEWERS)
    assert can_move(ApplicationStatus.IN_REVIEW, ApplicationStatus.SCORED)
    assert not can_move(ApplicationStatus.AWAITING_REVIEWERS, ApplicationStatus.SCORED)  # not all reviews yet
    assert can_move(ApplicationStatus.SCORED, ApplicationStatus.DECIDED)
    assert not can_move(ApplicationStatus.IN_REVIEW, ApplicationStatus.DECIDED)
    assert not can_move(ApplicationStatus.SCORED, ApplicationStatus.IN_REVIEW)


def test_an_application_may_be_withdrawn_until_it_is_decided_and_a_decision_stands() -> None:
    assert domain.WITHDRAWABLE == {
        ApplicationStatus.AWAITING_REVIEWERS, ApplicationStatus.IN_REVIEW, ApplicationStatus.SCORED
    }
    assert domain.APPLICATION_TRANSITIONS[ApplicationStatus.DECIDED] == frozenset()
    assert domain.APPLICATION_TRANSITIONS[ApplicationStatus.WITHDRAWN] == frozenset()
    assert domain.UNDER_REVIEW == {ApplicationStatus.AWAITING_REVIEWERS, ApplicationStatus.IN_REVIEW}


def test_a_review_is_completed_from_a_draft_and_only_an_open_one_is_cancelled() -> None:
    assert can_move(ReviewStatus.ASSIGNED, ReviewStatus.DRAFT)
    assert can_move(ReviewStatus.DRAFT, ReviewStatus.COMPLETED)
    assert not can_move(ReviewStatus.ASSIGNED, ReviewStatus.COMPLETED)  # nothing saved to submit
    assert domain.OPEN_REVIEW == {ReviewStatus.ASSIGNED, ReviewStatus.DRAFT}
    assert not can_move(ReviewStatus.COMPLETED, ReviewStatus.CANCELLED)  # a completed review stands
    assert not can_move(ReviewStatus.CANCELLED, ReviewStatus.ASSIGNED)


def test_a_conflict_is_resolved_once_and_a_programme_closed_once() -> None:
    assert can_move(ConflictStatus.DECLARED, ConflictStatus.RESOLVED)
    assert not can_move(ConflictStatus.RESOLVED, ConflictStatus.DECLARED)
    assert can_move(ProgrammeStatus.OPEN, ProgrammeStatus.CLOSED)
    assert not can_move(ProgrammeStatus.CLOSED, ProgrammeStatus.OPEN)


# --- assignment ----------------------------------------------------------------------------------


def test_the_least_loaded_reviewers_are_chosen() -> None:
    choice = assign_reviewers(["ann", "bob", "cat", "dev"], 2, {"ann": 3, "bob": 0, "cat": 1, "dev": 5}, set(), set())
    assert choice.reviewer_ids == ("bob", "cat")
    assert choice.missing == 0


def test_reviewers_with_no_open_reviews_count_as_unloaded() -> None:
    choice = assign_reviewers(["ann", "bob", "cat"], 1, {"ann": 1, "bob": 2}, set(), set())
    assert choice.reviewer_ids == ("cat",)


def test_ties_are_broken_by_reviewer_id_whatever_the_panel_order() -> None:
    loads = {"zed": 1, "amy": 1, "kim": 1}
    first = assign_reviewers(["zed", "kim", "amy"], 2, loads, set(), set())
    second = assign_reviewers(["amy", "zed", "kim"], 2, loads, set(), set())
    assert first.reviewer_ids == second.reviewer_ids == ("amy", "kim")


def test_a_conflicted_reviewer_is_never_chosen_even_when_least_loaded() -> None:
    choice = assign_reviewers(["ann", "bob", "cat"], 2, {"ann": 0, "bob": 4, "cat": 9}, {"ann"}, set())
    assert choice.reviewer_ids == ("bob", "cat")
    assert "ann" not in choice.reviewer_ids


def test_too_few_free_reviewers_gives_a_partial_assignment_and_says_how_many_are_missing() -> None:
    choice = assign_reviewers(["ann", "bob", "cat"], 3, {}, {"bob"}, set())
    assert choice.reviewer_ids == ("ann", "cat")
    assert choice.missing == 1
    assert domain.status_after_assignment(choice.missing) == ApplicationStatus.AWAITING_REVIEWERS
    assert domain.status_after_assignment(0) == ApplicationStatus.IN_REVIEW


def test_nobody_free_assigns_nobody() -> None:
    choice = assign_reviewers(["ann"], 2, {}, {"ann"}, set())
    assert choice.reviewer_ids == ()
    assert choice.missing == 2


def test_a_reviewer_already_reviewing_the_application_is_not_chosen_twice() -> None:
    choice = assign_reviewers(["ann", "bob", "cat"], 2, {"ann": 0, "bob": 5, "cat": 6}, set(), {"ann"})
    assert choice.reviewer_ids == ("bob", "cat")


def test_a_reviewer_listed_twice_on_the_panel_is_chosen_once() -> None:
    choice = assign_reviewers(["ann", "ann", "bob"], 3, {}, set(), set())
    assert choice.reviewer_ids == ("ann", "bob")
    assert choice.missing == 1


def test_assigning_several_in_a_row_spreads_the_load() -> None:
    loads: dict[str, int] = {}
    chosen = []
    for _ in range(3):
        choice = assign_reviewers(["ann", "bob", "cat"], 1, loads, set(), set())
        chosen.extend(choice.reviewer_ids)
        loads = domain.with_new_reviews(loads, choice.reviewer_ids)
    assert chosen == ["ann", "bob", "cat"]
    assert loads == {"ann": 1, "bob": 1, "cat": 1}


def test_a_panel_needs_as_many_different_reviewers_as_each_application_needs_reviews() -> None:
    assert domain.panel_problem(["ann", "bob"], 2) is None
    assert domain.panel_problem(["ann", "bob", "cat"], 2) is None
    assert "at least 2 reviewers" in (domain.panel_problem(["ann"], 2) or "")
    assert "at least 2 reviewers" in (domain.panel_problem(["ann", "ann"], 2) or "")
    assert "at least 1 reviewers" in (domain.panel_problem([], 1) or "")


# --- score sheets and weighted scores ------------------------------------------------------------


def test_a_score_sheet_must_cover_exactly_the_criteria() -> None:
    assert domain.score_sheet_problems({"need", "impact"}, {"need", "impact"}) == []
    assert domain.score_sheet_problems({"need", "impact"}, {"need"}) == ["missing scores for: impact"]
    assert domain.score_sheet_problems({"need"}, {"need", "vibes"}) == ["not criteria of this programme: vibes"]


def test_the_weighted_score_is_the_weighted_mean_of_the_criterion_means() -> None:
    weights = {"need": 3, "impact": 1}
    sheets = [{"need": 4, "impact": 2}, {"need": 5, "impact": 3}]
    score = score_application(weights, sheets, moderation_spread=2)
    assert score.criterion_means == {"need": 4.5, "impact": 2.5}
    assert score.weighted_score == 4.0  # (4.5*3 + 2.5*1) / 4


def test_the_weighted_score_is_rounded_half_up_to_two_places() -> None:
    # means 13/3 and 2: (13/3*1 + 2*2)/3 = 25/9 = 2.777... -> 2.78
    score = score_application({"a": 1, "b": 2}, [{"a": 4, "b": 2}, {"a": 4, "b": 2}, {"a": 5, "b": 2}], 2)
    assert score.criterion_means == {"a": 4.33, "b": 2.0}
    assert score.weighted_score == 2.78
    assert domain.round2(Fraction(1, 8)) == 0.13  # 0.125 rounds up, not to even
    assert domain.round2(Fraction(5, 1)) == 5.0


def test_scores_apart_by_more_than_the_spread_need_moderation() -> None:
    assert score_application({"a": 1}, [{"a": 1}, {"a": 4}], 2).needs_moderation is True
    assert score_application({"a": 1}, [{"a": 1}, {"a": 3}], 2).needs_moderation is False
    assert score_application({"a": 1, "b": 1}, [{"a": 3, "b": 0}, {"a": 3, "b": 5}], 2).needs_moderation is True
    assert score_application({"a": 1}, [{"a": 2}, {"a": 3}], 0).needs_moderation is True


def test_a_score_outside_the_scale_is_refused() -> None:
    with pytest.raises(ValueError):
        score_application({"a": 1}, [{"a": 6}], 2)
    with pytest.raises(ValueError):
        score_application({"a": 1}, [], 2)


# --- ranking and the budget ----------------------------------------------------------------------


def candidate(
    app_id: str, score: float, pounds: int, minutes: int = 0, outcome: domain.Outcome | None = None
) -> RankingCandidate:
    status = ApplicationStatus.DECIDED if outcome else ApplicationStatus.SCORED
    return RankingCandidate(app_id, score, T0 + timedelta(minutes=minutes), pounds * 100, status, outcome)


def test_the_ranking_orders_by_score_and_then_by_who_submitted_first() -> None:
    ranked = rank([candidate("late", 4.0, 1, minutes=5), candidate("top", 4.5, 1), candidate("early", 4.0, 1)], 10_000)
    assert [r.candidate.application_id for r in ranked] == ["top", "early", "late"]
    assert [r.position for r in ranked] == [1, 2, 3]


def test_fits_budget_walks_the_ranking_greedily() -> None:
    ranked = rank(
        [candidate("a", 5.0, 600), candidate("b", 4.0, 500), candidate("c", 3.0, 300), candidate("d", 2.0, 200)],
        available=1_000 * 100,
    )
    # a takes 600 (400 left), b does not fit, c takes 300 (100 left), d does not fit
    assert [(r.candidate.application_id, r.fits_budget) for r in ranked] == [
        ("a", True), ("b", False), ("c", True), ("d", False)
    ]
    assert [r.cumulative_requested for r in ranked] == [60_000, 110_000, 140_000, 160_000]


def test_awards_already_made_are_out_of_the_available_money_and_declines_do_not_count() -> None:
    ranked = rank(
        [
            candidate("awarded", 5.0, 800, outcome=domain.AWARDED),
            candidate("declined", 4.5, 100, outcome=domain.DECLINED),
            candidate("next", 4.0, 200),
            candidate("last", 3.0, 100),
        ],
        available=200 * 100,  # budget 1000, 800 already awarded
    )
    assert [(r.candidate.application_id, r.fits_budget) for r in ranked] == [
        ("awarded", True), ("declined", False), ("next", True), ("last", False)
    ]
    assert [r.cumulative_requested for r in ranked] == [80_000, 80_000, 100_000, 110_000]


def test_the_ranking_walked_in_parts_is_the_ranking_walked_whole() -> None:
    candidates = [candidate("a", 5.0, 600), candidate("b", 4.0, 500), candidate("c", 3.0, 300),
                  candidate("d", 2.0, 200, outcome=domain.DECLINED), candidate("e", 1.0, 100)]  # fmt: skip
    whole = rank(candidates, available=1_000 * 100)
    assert [r.budget_line for r in whole] == [False, True, False, False, False]  # b: the first that does not fit
    first, walked = domain.walk(candidates[:2], domain.RankingWalk(left=1_000 * 100))
    assert walked == domain.RankingWalk(left=40_000, cumulative=110_000, position=2, line_at=2)
    rest, _ = domain.walk(candidates[2:], walked)
    assert first + rest == whole


# --- decisions and awards ------------------------------------------------------------------------


def test_only_a_scored_and_moderated_application_can_be_decided() -> None:
    assert domain.decision_refusal(ApplicationStatus.SCORED, needs_moderation=False) is None
    assert "moderator" in domain.decision_refusal(ApplicationStatus.SCORED, needs_moderation=True)
    assert "already" in domain.decision_refusal(ApplicationStatus.DECIDED, needs_moderation=False)
    assert domain.decision_refusal(ApplicationStatus.IN_REVIEW, needs_moderation=False) is not None
    assert domain.decision_refusal(ApplicationStatus.WITHDRAWN, needs_moderation=False) is not None


def test_an_award_within_every_limit_is_allowed() -> None:
    assert domain.award_problems(gbp(5_000), gbp(5_000), gbp(10_000), gbp(5_000)) == []


def test_an_award_beyond_the_maximum_the_request_or_the_remaining_budget_is_refused() -> None:
    problems = domain.award_problems(gbp(12_000), gbp(11_000), gbp(10_000), gbp(9_000))
    assert len(problems) == 3
    # Amounts read as people read them.
    assert "an award may not exceed the programme's maximum of £10,000.00" in problems
    assert "an award may not exceed the £11,000.00 requested" in problems
    assert "only £9,000.00 of the programme's budget remains" in problems


def test_an_award_of_nothing_or_in_another_currency_is_refused() -> None:
    assert domain.award_problems(gbp(0), gbp(100), gbp(100), gbp(100)) == ["an award must be more than zero"]
    euros = Money(amount=100, currency="EUR")
    assert domain.award_problems(euros, gbp(100), gbp(100), gbp(100)) == ["the programme pays in GBP, not EUR"]


def test_the_budget_allows_an_award_up_to_exactly_what_remains() -> None:
    assert domain.budget_allows(gbp(1_000), gbp(1_000)) is True
    assert domain.budget_allows(gbp(1_000), Money(amount=100_001, currency="GBP")) is False
    assert domain.budget_allows(gbp(1_000), Money(amount=1, currency="EUR")) is False


def test_an_award_is_checked_without_the_budget_until_the_budget_is_known() -> None:
    # The reservation is the budget's check; what remains is read only to explain a refusal.
    assert domain.award_problems(gbp(9_000), gbp(9_000), gbp(10_000)) == []
    assert domain.award_problems(Money(amount=1, currency="EUR"), gbp(9), gbp(10)) == ["the programme pays in GBP, not EUR"]
    assert domain.award_problems(gbp(9_000), gbp(9_000), gbp(10_000), gbp(100)) == [
        "only £100.00 of the programme's budget remains"
    ]
