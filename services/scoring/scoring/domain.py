"""The rules of scoring, with no I/O: who reviews what, how scores combine, how the ranking meets the budget.

Everything here is a plain function of its arguments, so the rules are tested without a database.
"""

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from grants_shared.money import Money

# --- states --------------------------------------------------------------------------------------

# An application: awaiting_reviewers <-> in_review -> scored -> decided; any state before decided -> withdrawn.
AWAITING_REVIEWERS = "awaiting_reviewers"
IN_REVIEW = "in_review"
SCORED = "scored"
DECIDED = "decided"
WITHDRAWN = "withdrawn"
UNDER_REVIEW = (AWAITING_REVIEWERS, IN_REVIEW)
WITHDRAWABLE = (AWAITING_REVIEWERS, IN_REVIEW, SCORED)

# A review: assigned -> draft (scores saved) -> completed; assigned or draft -> cancelled.
ASSIGNED = "assigned"
DRAFT = "draft"
COMPLETED = "completed"
CANCELLED = "cancelled"
OPEN_REVIEW = (ASSIGNED, DRAFT)

AWARDED = "awarded"
DECLINED = "declined"

MAX_SCORE = 5


# --- assignment ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    """The reviewers chosen for an application, and how many more it still needs."""

    reviewer_ids: tuple[str, ...]
    missing: int


def assign_reviewers(
    panel: Sequence[str],
    needed: int,
    open_reviews: Mapping[str, int],
    conflicted: Collection[str],
    already_reviewing: Collection[str],
) -> Assignment:
    """Pick up to ``needed`` panel members, least loaded first (ties by id, so the choice is repeatable).

    A reviewer who declared a conflict with the applicant organisation, or who already reviews this
    application, is never chosen: if too few remain, the application waits for more rather than
    being reviewed by someone with a conflict.
    """
    if needed <= 0:
        return Assignment((), 0)
    free = [r for r in dict.fromkeys(panel) if r not in conflicted and r not in already_reviewing]
    chosen = tuple(sorted(free, key=lambda r: (open_reviews.get(r, 0), r))[:needed])
    return Assignment(chosen, needed - len(chosen))


def with_new_reviews(open_reviews: Mapping[str, int], reviewer_ids: Iterable[str]) -> dict[str, int]:
    """Loads after assigning one more review to each of ``reviewer_ids`` (for assigning several in a row)."""
    loads = dict(open_reviews)
    for reviewer_id in reviewer_ids:
        loads[reviewer_id] = loads.get(reviewer_id, 0) + 1
    return loads


def status_after_assignment(missing: int) -> str:
    return AWAITING_REVIEWERS if missing > 0 else IN_REVIEW


def panel_problem(panel: Collection[str], reviewers_per_application: int) -> str | None:
    """Why a panel cannot serve the programme (None when it can): each application needs
    ``reviewers_per_application`` different reviewers, and an empty panel could decide nothing."""
    if len(set(panel)) < reviewers_per_application:
        return (
            f"the panel needs at least {reviewers_per_application} reviewers to give each application "
            f"{reviewers_per_application} reviews"
        )
    return None


# --- scores --------------------------------------------------------------------------------------


def score_sheet_problems(criteria_keys: Collection[str], scored_keys: Collection[str]) -> list[str]:
    """Why a score sheet does not cover exactly the programme's criteria (empty when it does)."""
    problems = []
    missing = sorted(set(criteria_keys) - set(scored_keys))
    unknown = sorted(set(scored_keys) - set(criteria_keys))
    if missing:
        problems.append(f"missing scores for: {', '.join(missing)}")
    if unknown:
        problems.append(f"not criteria of this programme: {', '.join(unknown)}")
    return problems


@dataclass(frozen=True)
class ApplicationScore:
    criterion_means: dict[str, float]
    weighted_score: float
    needs_moderation: bool


def round2(value: Fraction) -> float:
    """Round half up to two places (Python's round() would round half to even, and floats drift)."""
    return math.floor(value * 100 + Fraction(1, 2)) / 100


def score_application(
    weights: Mapping[str, int], sheets: Sequence[Mapping[str, int]], moderation_spread: int
) -> ApplicationScore:
    """Combine every reviewer's sheet: the mean per criterion, their weighted mean, and whether
    reviewers disagree on any criterion by more than ``moderation_spread`` points."""
    if not sheets:
        raise ValueError("an application is scored from at least one review")
    if not weights or any(w <= 0 for w in weights.values()):
        raise ValueError("criteria need positive weights")
    means: dict[str, Fraction] = {}
    needs_moderation = False
    for key in weights:
        scores = [sheet[key] for sheet in sheets]
        if any(not 0 <= s <= MAX_SCORE for s in scores):
            raise ValueError(f"scores for {key} must be 0..{MAX_SCORE}")
        means[key] = Fraction(sum(scores), len(scores))
        needs_moderation = needs_moderation or max(scores) - min(scores) > moderation_spread
    weighted = sum(means[k] * w for k, w in weights.items()) / sum(weights.values())
    return ApplicationScore(
        criterion_means={k: round2(m) for k, m in means.items()},
        weighted_score=round2(Fraction(weighted)),
        needs_moderation=needs_moderation,
    )


# --- ranking -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankingCandidate:
    application_id: str
    weighted_score: float
    submitted_at: datetime
    amount_requested: int
    status: str
    outcome: str | None = None


@dataclass(frozen=True)
class RankedApplication:
    candidate: RankingCandidate
    position: int
    cumulative_requested: int
    fits_budget: bool


def rank(candidates: Iterable[RankingCandidate], available: int) -> list[RankedApplication]:
    """Order by weighted score (highest first; ties: earlier submission first) and walk the ranking
    greedily against ``available`` (the budget minus awards already made).

    An award already made has been paid for out of the budget, so it fits and takes nothing more;
    a declined application neither fits nor counts towards the cumulative amount requested.
    """
    ordered = sorted(candidates, key=lambda c: (-c.weighted_score, c.submitted_at, c.application_id))
    left, cumulative = available, 0
    ranked = []
    for position, candidate in enumerate(ordered, start=1):
        if candidate.outcome == AWARDED:
            fits = True
        elif candidate.outcome == DECLINED:
            fits = False
        else:
            fits = candidate.amount_requested <= left
            if fits:
                left -= candidate.amount_requested
        if candidate.outcome != DECLINED:
            cumulative += candidate.amount_requested
        ranked.append(RankedApplication(candidate, position, cumulative, fits))
    return ranked


# --- decisions -----------------------------------------------------------------------------------


def decision_refusal(status: str, needs_moderation: bool) -> str | None:
    """Why the panel cannot decide the application now (None when it can)."""
    if status == DECIDED:
        return "the application has already been decided"
    if status == WITHDRAWN:
        return "the application was withdrawn"
    if status != SCORED:
        return "the application has not been scored by all its reviewers yet"
    if needs_moderation:
        return "the reviewers' scores differ too much: a moderator must look at them first"
    return None


def award_problems(amount: Money, requested: Money, maximum_award: Money, remaining_budget: Money) -> list[str]:
    """Why an award of ``amount`` is not allowed (empty when it is)."""
    if amount.currency != remaining_budget.currency:
        return [f"the programme pays in {remaining_budget.currency}, not {amount.currency}"]
    problems = []
    if amount.amount <= 0:
        problems.append("an award must be more than zero")
    if amount.amount > maximum_award.amount:
        problems.append(f"an award may not exceed the programme's maximum of {maximum_award}")
    if requested.currency == amount.currency and amount.amount > requested.amount:
        problems.append(f"an award may not exceed the {requested} requested")
    if not budget_allows(remaining_budget, amount):
        problems.append(f"only {remaining_budget} of the programme's budget remains")
    return problems


def budget_allows(remaining_budget: Money, amount: Money) -> bool:
    return amount.currency == remaining_budget.currency and amount.amount <= remaining_budget.amount
