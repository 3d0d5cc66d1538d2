"""The rules of scoring, with no I/O: the state machines of programmes, applications, reviews and
conflicts of interest; who reviews what, how scores combine, how the ranking meets the budget.

Everything here is a plain function of its arguments, so the rules are tested without a database.
"""

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from fractions import Fraction
from typing import Any, Literal, TypeVar

from grants_shared.money import Money, format_money

# --- statuses: one state machine per aggregate ---------------------------------------------------


class ProgrammeStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


#: Closing stops new submissions upstream; reviews of applications already submitted carry on.
PROGRAMME_TRANSITIONS: dict[ProgrammeStatus, frozenset[ProgrammeStatus]] = {
    ProgrammeStatus.OPEN: frozenset({ProgrammeStatus.CLOSED}),
    ProgrammeStatus.CLOSED: frozenset(),
}


class ApplicationStatus(StrEnum):
    AWAITING_REVIEWERS = "awaiting_reviewers"
    IN_REVIEW = "in_review"
    SCORED = "scored"
    DECIDED = "decided"
    WITHDRAWN = "withdrawn"


#: awaiting_reviewers <-> in_review -> scored -> decided; any status before decided -> withdrawn. An
#: application in review goes back to waiting when a reviewer drops out and nobody free can replace them.
APPLICATION_TRANSITIONS: dict[ApplicationStatus, frozenset[ApplicationStatus]] = {
    ApplicationStatus.AWAITING_REVIEWERS: frozenset({ApplicationStatus.IN_REVIEW, ApplicationStatus.WITHDRAWN}),
    ApplicationStatus.IN_REVIEW: frozenset(
        {ApplicationStatus.AWAITING_REVIEWERS, ApplicationStatus.SCORED, ApplicationStatus.WITHDRAWN}
    ),
    ApplicationStatus.SCORED: frozenset({ApplicationStatus.DECIDED, ApplicationStatus.WITHDRAWN}),
    ApplicationStatus.DECIDED: frozenset(),  # a decision stands, even against a late withdrawal
    ApplicationStatus.WITHDRAWN: frozenset(),
}


class ReviewStatus(StrEnum):
    ASSIGNED = "assigned"
    DRAFT = "draft"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


#: assigned -> draft (scores saved, and saved again while a draft) -> completed; an open review is
#: cancelled when its reviewer declares a conflict or leaves the panel, or the application is withdrawn.
REVIEW_TRANSITIONS: dict[ReviewStatus, frozenset[ReviewStatus]] = {
    ReviewStatus.ASSIGNED: frozenset({ReviewStatus.DRAFT, ReviewStatus.CANCELLED}),
    ReviewStatus.DRAFT: frozenset({ReviewStatus.COMPLETED, ReviewStatus.CANCELLED}),
    ReviewStatus.COMPLETED: frozenset(),  # a completed review stands
    ReviewStatus.CANCELLED: frozenset(),
}


class ConflictStatus(StrEnum):
    DECLARED = "declared"
    RESOLVED = "resolved"


#: A resolved declaration is kept as history; a new conflict with the same organisation is a new one.
CONFLICT_TRANSITIONS: dict[ConflictStatus, frozenset[ConflictStatus]] = {
    ConflictStatus.DECLARED: frozenset({ConflictStatus.RESOLVED}),
    ConflictStatus.RESOLVED: frozenset(),
}

_TRANSITIONS: dict[type[StrEnum], Mapping[Any, frozenset[Any]]] = {
    ProgrammeStatus: PROGRAMME_TRANSITIONS,
    ApplicationStatus: APPLICATION_TRANSITIONS,
    ReviewStatus: REVIEW_TRANSITIONS,
    ConflictStatus: CONFLICT_TRANSITIONS,
}

Status = TypeVar("Status", ProgrammeStatus, ApplicationStatus, ReviewStatus, ConflictStatus)


def can_move(current: Status, target: Status) -> bool:
    """Whether the state machine of ``current``'s aggregate moves it to ``target``."""
    return target in _TRANSITIONS[type(current)][current]


#: Reviewers may still be assigned (or replaced): the application is not yet scored.
UNDER_REVIEW = frozenset({ApplicationStatus.AWAITING_REVIEWERS, ApplicationStatus.IN_REVIEW})
#: Before the decision, the applicant may withdraw.
WITHDRAWABLE = frozenset(s for s in ApplicationStatus if can_move(s, ApplicationStatus.WITHDRAWN))
#: A review whose scores may still change: it counts towards its reviewer's load and can be cancelled.
OPEN_REVIEW = frozenset(s for s in ReviewStatus if can_move(s, ReviewStatus.CANCELLED))

Outcome = Literal["awarded", "declined"]
AWARDED: Outcome = "awarded"
DECLINED: Outcome = "declined"

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
    declined: Collection[str] = (),
    max_load: int | None = None,
) -> Assignment:
    """Pick up to ``needed`` panel members, least loaded first (ties by id, so the choice is repeatable).

    A reviewer who declared a conflict with the applicant organisation, who already reviews this
    application, who declined to review it, or who already has ``max_load`` open reviews is never
    chosen: if too few remain, the application waits for more rather than being reviewed by someone
    with a conflict or asked again of someone who said no.
    """
    if needed <= 0:
        return Assignment((), 0)
    free = [
        r for r in dict.fromkeys(panel)
        if r not in conflicted and r not in already_reviewing and r not in declined
        and (max_load is None or open_reviews.get(r, 0) < max_load)
    ]  # fmt: skip
    chosen = tuple(sorted(free, key=lambda r: (open_reviews.get(r, 0), r))[:needed])
    return Assignment(chosen, needed - len(chosen))


def with_new_reviews(open_reviews: Mapping[str, int], reviewer_ids: Iterable[str]) -> dict[str, int]:
    """Loads after assigning one more review to each of ``reviewer_ids`` (for assigning several in a row)."""
    loads = dict(open_reviews)
    for reviewer_id in reviewer_ids:
        loads[reviewer_id] = loads.get(reviewer_id, 0) + 1
    return loads


def status_after_assignment(missing: int) -> ApplicationStatus:
    return ApplicationStatus.AWAITING_REVIEWERS if missing > 0 else ApplicationStatus.IN_REVIEW


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
    status: ApplicationStatus
    outcome: Outcome | None = None


@dataclass(frozen=True)
class RankedApplication:
    candidate: RankingCandidate
    position: int
    cumulative_requested: int
    fits_budget: bool
    #: The first application still to decide that does not fit in what is left: where the budget runs out.
    budget_line: bool = False


def ranking_shortfall(weighted_score: float) -> float:
    """How far below the highest possible score a score is: the ranking's order, smallest first (then
    the earlier submission, then the id), as a key an index keeps in the same direction as its ties."""
    return MAX_SCORE - weighted_score


def ranking_order(candidate: RankingCandidate) -> tuple[float, datetime, str]:
    return ranking_shortfall(candidate.weighted_score), candidate.submitted_at, candidate.application_id


@dataclass(frozen=True)
class RankingWalk:
    """How far a walk down the ranking has come, so that a page of it can go on where the last stopped:
    what is left of the budget, the amount requested so far, the last position, and the position of the
    budget line once passed."""

    left: int
    cumulative: int = 0
    position: int = 0
    line_at: int | None = None


def walk(ordered: Iterable[RankingCandidate], start: RankingWalk) -> tuple[list[RankedApplication], RankingWalk]:
    """Walk candidates, already in the ranking's order, greedily against what ``start`` has left of the
    budget (the budget minus awards already made, at the top of the ranking).

    An award already made has been paid for out of the budget, so it fits and takes nothing more;
    a declined application neither fits nor counts towards the cumulative amount requested.
    """
    left, cumulative, position, line_at = start.left, start.cumulative, start.position, start.line_at
    ranked = []
    for candidate in ordered:
        position += 1
        line = False
        if candidate.outcome == AWARDED:
            fits = True
        elif candidate.outcome == DECLINED:
            fits = False
        else:
            fits = candidate.amount_requested <= left
            if fits:
                left -= candidate.amount_requested
            elif line_at is None:
                line, line_at = True, position
        if candidate.outcome != DECLINED:
            cumulative += candidate.amount_requested
        ranked.append(RankedApplication(candidate, position, cumulative, fits, line))
    return ranked, RankingWalk(left, cumulative, position, line_at)


def rank(candidates: Iterable[RankingCandidate], available: int) -> list[RankedApplication]:
    """The whole ranking: by weighted score (highest first; ties: earlier submission first), walked
    greedily against ``available``."""
    return walk(sorted(candidates, key=ranking_order), RankingWalk(left=available))[0]


# --- decisions -----------------------------------------------------------------------------------


def decision_refusal(status: ApplicationStatus, needs_moderation: bool) -> str | None:
    """Why the panel cannot decide the application now (None when it can)."""
    if status is ApplicationStatus.DECIDED:
        return "the application has already been decided"
    if status is ApplicationStatus.WITHDRAWN:
        return "the application was withdrawn"
    if not can_move(status, ApplicationStatus.DECIDED):
        return "the application has not been scored by all its reviewers yet"
    if needs_moderation:
        return "the reviewers' scores differ too much: a moderator must look at them first"
    return None


def award_problems(
    amount: Money, requested: Money, maximum_award: Money, remaining_budget: Money | None = None
) -> list[str]:
    """Why an award of ``amount`` is not allowed (empty when it is); what remains of the budget is
    checked only when given (the reservation itself is the check that counts)."""
    currency = remaining_budget.currency if remaining_budget else maximum_award.currency
    if amount.currency != currency:
        return [f"the programme pays in {currency}, not {amount.currency}"]
    problems = []
    if amount.amount <= 0:
        problems.append("an award must be more than zero")
    if amount.amount > maximum_award.amount:
        problems.append(f"an award may not exceed the programme's maximum of {format_money(maximum_award)}")
    if requested.currency == amount.currency and amount.amount > requested.amount:
        problems.append(f"an award may not exceed the {format_money(requested)} requested")
    if remaining_budget is not None and not budget_allows(remaining_budget, amount):
        problems.append(f"only {format_money(remaining_budget)} of the programme's budget remains")
    return problems


def budget_allows(remaining_budget: Money, amount: Money) -> bool:
    return amount.currency == remaining_budget.currency and amount.amount <= remaining_budget.amount


# --- panel decisions -------------------------------------------------------------------------------
# A programme's decision rule says who sits on its decision panel (each an expert by experience or
# staff), the quorum, and how an outcome is reached; or that decisions are delegated to a named role.
# A decision meeting considers items from the ranking; each present, unrecused member records a
# recommendation; an item closes only when the rule is met.


class MemberKind(StrEnum):
    EXPERT_BY_EXPERIENCE = "expert_by_experience"
    STAFF = "staff"


class DecisionMethod(StrEnum):
    #: Fund or not by the majority of the votes cast (abstentions are not votes cast).
    MAJORITY = "majority"
    #: Every vote cast agrees, on the same amount when funding.
    CONSENSUS = "consensus"
    #: Decisions are made by one person holding the named role, and recorded as delegated.
    DELEGATED = "delegated"


class Recommendation(StrEnum):
    FUND = "fund"
    FUND_DIFFERENT_AMOUNT = "fund_different_amount"
    DO_NOT_FUND = "do_not_fund"
    ABSTAIN = "abstain"


FUNDING = frozenset({Recommendation.FUND, Recommendation.FUND_DIFFERENT_AMOUNT})


class ItemStatus(StrEnum):
    OPEN = "open"
    DECIDED = "decided"
    #: The application was withdrawn, or decided elsewhere, before the meeting closed its item.
    DROPPED = "dropped"


ITEM_TRANSITIONS: dict[ItemStatus, frozenset[ItemStatus]] = {
    ItemStatus.OPEN: frozenset({ItemStatus.DECIDED, ItemStatus.DROPPED}),
    ItemStatus.DECIDED: frozenset(),  # a decision stands
    ItemStatus.DROPPED: frozenset(),
}
_TRANSITIONS[ItemStatus] = ITEM_TRANSITIONS


@dataclass(frozen=True)
class Quorum:
    """At least ``members`` present and unrecused, of whom at least ``experts`` are experts by experience."""

    members: int
    experts: int


def decision_rule_problems(
    method: DecisionMethod, members: Mapping[str, MemberKind], quorum: Quorum | None, delegated_to: str | None
) -> list[str]:
    """Why a decision rule cannot work (empty when it can)."""
    if method is DecisionMethod.DELEGATED:
        problems = [] if delegated_to else ["a delegated rule names the role decisions are delegated to"]
        if members or quorum:
            problems.append("a delegated rule has no panel members or quorum: the named role decides")
        return problems
    problems = []
    if delegated_to:
        problems.append("only a delegated rule names a role to decide")
    if quorum is None:
        return [*problems, "a panel's rule needs a quorum"]
    experts = sum(1 for kind in members.values() if kind is MemberKind.EXPERT_BY_EXPERIENCE)
    if quorum.members < 1:
        problems.append("the quorum needs at least one member")
    if quorum.members > len(members):
        problems.append(f"a quorum of {quorum.members} cannot be met by a panel of {len(members)}")
    if quorum.experts > experts:
        problems.append(f"a quorum of {quorum.experts} experts by experience cannot be met by {experts} on the panel")
    if quorum.experts > quorum.members:
        problems.append("the quorum's experts by experience are counted among its members, so cannot outnumber them")
    return problems


@dataclass(frozen=True)
class Vote:
    recommendation: Recommendation
    #: What the member would fund, in minor units: the amount requested for FUND, their own amount for
    #: FUND_DIFFERENT_AMOUNT, None otherwise.
    amount: int | None = None
    reason: str = ""
    #: The member agreed to be named if their position is recorded as dissent.
    may_be_named: bool = False


def vote_problems(recommendation: Recommendation, amount: int | None, requested: int, maximum: int) -> list[str]:
    """Why a recommendation is not one that can be recorded (empty when it can)."""
    if recommendation is not Recommendation.FUND_DIFFERENT_AMOUNT:
        return [] if amount is None else ["only 'fund a different amount' carries an amount"]
    if amount is None:
        return ["'fund a different amount' needs the amount"]
    problems = []
    if amount <= 0:
        problems.append("an amount to fund must be more than zero")
    if amount > min(requested, maximum):
        problems.append("an amount to fund may not exceed the amount requested or the programme's maximum award")
    return problems


@dataclass(frozen=True)
class Tally:
    fund: int = 0
    fund_different_amount: int = 0
    do_not_fund: int = 0
    abstain: int = 0
    recused: int = 0


def tally(votes: Mapping[str, Vote], recused: Collection[str]) -> Tally:
    """How the recommendations of those entitled to vote fall, and how many were recused."""
    counted = [v.recommendation for member, v in votes.items() if member not in recused]
    return Tally(
        fund=counted.count(Recommendation.FUND),
        fund_different_amount=counted.count(Recommendation.FUND_DIFFERENT_AMOUNT),
        do_not_fund=counted.count(Recommendation.DO_NOT_FUND),
        abstain=counted.count(Recommendation.ABSTAIN),
        recused=len(set(recused)),
    )


def voters(members: Mapping[str, MemberKind], attendance: Collection[str], recused: Collection[str]) -> dict[str, MemberKind]:
    """Who may vote on an item: panel members present at the meeting and not recused from it."""
    return {m: kind for m, kind in members.items() if m in attendance and m not in recused}


def quorum_problem(quorum: Quorum, voting: Mapping[str, MemberKind]) -> str | None:
    """Why the members who may vote on an item are not a quorum (None when they are). No decision
    may be recorded without one."""
    experts = sum(1 for kind in voting.values() if kind is MemberKind.EXPERT_BY_EXPERIENCE)
    if len(voting) < quorum.members or experts < quorum.experts:
        return (
            f"no quorum: {len(voting)} members who may vote ({experts} experts by experience) are present and "
            f"unrecused; the rule needs {quorum.members} ({quorum.experts} experts by experience)"
        )
    return None


@dataclass(frozen=True)
class Dissent:
    recommendation: Recommendation
    amount: int | None
    reason: str
    #: Only when the member agreed to be named.
    member_id: str | None


@dataclass(frozen=True)
class ItemOutcome:
    outcome: Outcome
    amount: int | None
    tally: Tally
    dissent: tuple[Dissent, ...]


class NotDecided(ValueError):
    """The rule is not met yet: the reason says why (no quorum, votes missing, a tie, no consensus)."""


def decide_item(
    method: DecisionMethod,
    quorum: Quorum,
    voting: Mapping[str, MemberKind],
    votes: Mapping[str, Vote],
    recused: Collection[str],
    requested: int,
) -> ItemOutcome:
    """The outcome of an item under the rule, or NotDecided.

    Every member who may vote must have recorded a recommendation (so nobody is decided over).
    Majority: fund (at whichever amount) against do-not-fund among the votes cast; a tie is not a
    decision. The amount is the lower median of the amounts the funders proposed, so at least half
    of them would fund at least that much. Consensus: every vote cast agrees, funders on one amount.
    Dissent is every vote cast whose position (and amount, when funding) differs from the outcome.
    """
    if method is DecisionMethod.DELEGATED:
        raise NotDecided("this programme's decisions are delegated, not made in a meeting")
    problem = quorum_problem(quorum, voting)
    if problem:
        raise NotDecided(problem)
    missing = sorted(set(voting) - set(votes))
    if missing:
        raise NotDecided(f"{len(missing)} of the {len(voting)} members who may vote have not recorded a recommendation")
    cast = {m: votes[m] for m in voting if votes[m].recommendation is not Recommendation.ABSTAIN}
    if not cast:
        raise NotDecided("every member abstained, so there is no decision")
    funders = sorted(_amount(v, requested) for v in cast.values() if v.recommendation in FUNDING)
    against = len(cast) - len(funders)
    if method is DecisionMethod.CONSENSUS:
        if funders and against:
            raise NotDecided("no consensus: some members recommend funding and some do not")
        if len(set(funders)) > 1:
            raise NotDecided("no consensus on the amount to fund")
    elif len(funders) == against:
        raise NotDecided(f"the votes are tied, {against} to {against}")
    if len(funders) > against:
        outcome, amount = AWARDED, funders[(len(funders) - 1) // 2]
    else:
        outcome, amount = DECLINED, None
    dissent = tuple(
        Dissent(v.recommendation, v.amount, v.reason, member if v.may_be_named else None)
        for member, v in sorted(cast.items())
        if _position(v, requested) != (outcome, amount)
    )
    return ItemOutcome(outcome, amount, tally({m: votes[m] for m in voting}, recused), dissent)


def _amount(vote: Vote, requested: int) -> int:
    return vote.amount if vote.recommendation is Recommendation.FUND_DIFFERENT_AMOUNT and vote.amount else requested


def _position(vote: Vote, requested: int) -> tuple[Outcome, int | None]:
    if vote.recommendation in FUNDING:
        return AWARDED, _amount(vote, requested)
    return DECLINED, None


# --- panel members supported: profiles and training ------------------------------------------------
# A member's access needs and the courses they have completed. A programme may require courses before
# its members score or vote: assignment passes over a member who lacks one, and scoring and
# recommending are refused naming what is missing.


class AccessNeed(StrEnum):
    """Common needs a member can tick; anything else goes in their own words."""

    LARGE_PRINT = "large_print"
    BSL_INTERPRETER = "bsl_interpreter"
    CAPTIONS = "captions"
    STEP_FREE_ACCESS = "step_free_access"
    BREAKS = "breaks"


class Course(StrEnum):
    PANEL_INDUCTION = "panel_induction"
    SAFEGUARDING = "safeguarding"
    BIAS_AWARENESS = "bias_awareness"
    SUICIDE_AWARENESS = "suicide_awareness"
    DATA_PROTECTION = "data_protection"


#: How a course is named to people (in refusals and on pages).
COURSE_NAMES: dict[Course, str] = {
    Course.PANEL_INDUCTION: "Panel induction",
    Course.SAFEGUARDING: "Safeguarding",
    Course.BIAS_AWARENESS: "Bias awareness",
    Course.SUICIDE_AWARENESS: "Suicide awareness",
    Course.DATA_PROTECTION: "Data protection",
}


def missing_courses(required: Iterable[Course], completed: Collection[Course]) -> list[Course]:
    """The required courses not completed, in the order the programme lists them."""
    return [c for c in dict.fromkeys(required) if c not in completed]


def trained_panel(
    panel: Sequence[str], required: Sequence[Course], completed: Mapping[str, Collection[Course]]
) -> list[str]:
    """The panel members who have completed every required course (all of them when none is required)."""
    return [m for m in panel if not missing_courses(required, completed.get(m, ()))]


def training_refusal(required: Sequence[Course], completed: Collection[Course], doing: str) -> str | None:
    """Why a member may not ``doing`` yet (None when they may): the courses they still need."""
    missing = missing_courses(required, completed)
    if not missing:
        return None
    names = ", ".join(COURSE_NAMES[c] for c in missing)
    return f"this programme asks its panel members to complete {names} before they {doing}"


def training_date_problem(completed_on: date, today: date) -> str | None:
    if completed_on > today:
        return "a course cannot be completed in the future"
    return None
# --- blind review ----------------------------------------------------------------------------------
# A programme may hide fields that identify the applicant from its reviewers (managers still see
# them). Conflict rules do not need them: they compare organisation ids on the server.


class BlindField(StrEnum):
    """A field scoring holds about an application that a programme may keep from its reviewers. The
    applicant's contact is not here: scoring never holds it, so no reviewer can be shown it."""

    ORGANISATION_NAME = "organisation_name"
    ORGANISATION_KIND = "organisation_kind"
    ORGANISATION_AREA = "organisation_area"


def shown(value: Any, field: BlindField, hidden: Collection[BlindField]) -> Any:
    """``value``, or None when the programme hides ``field`` from this caller."""
    return None if field in hidden else value


# --- review reminders ------------------------------------------------------------------------------
# A review is due ``review_days`` after it is assigned. Its reviewer is reminded ``reminder_days``
# before the due date, and once the due date has passed (the day after it) the reviewer and the
# programme's manager are told it is overdue. Each at most once per review.


def reminder_times(due: date, reminder_days: int, assigned_at: datetime) -> tuple[datetime | None, datetime]:
    """When to remind (None when the review is already that close to due at assignment: the
    assignment notice says the date), and when the review becomes overdue."""
    start_of_due_day = datetime.combine(due, time.min, tzinfo=timezone.utc)
    remind_at = start_of_due_day - timedelta(days=reminder_days)
    overdue_at = start_of_due_day + timedelta(days=1)
    return (remind_at if remind_at > assigned_at else None), overdue_at


def reminder_due(status: "ReviewStatus", due: date, now: datetime) -> bool:
    """An open review not yet past its due date."""
    return status in OPEN_REVIEW and now.date() <= due


def is_overdue(status: "ReviewStatus", due: date, now: datetime) -> bool:
    """An open review whose due date has passed."""
    return status in OPEN_REVIEW and now.date() > due


# --- vote reminders --------------------------------------------------------------------------------
# Once a decision meeting's day has come (``vote_reminder_hours`` into it, UTC), each member present,
# not recused and allowed to vote who has still to record a recommendation on an open item is
# reminded once for the meeting, with how many items await them. A member who has voted on every
# item they may vote on is not reminded; nor is anyone once every item is closed.


def vote_reminder_time(held_on: date, hours_into_the_day: int) -> datetime:
    """When a meeting's members are reminded of the recommendations they have not recorded."""
    return datetime.combine(held_on, time.min, tzinfo=timezone.utc) + timedelta(hours=hours_into_the_day)


def awaiting_votes(
    attendance: Sequence[str],
    open_items: Mapping[str, Collection[str]],
    voted: Collection[tuple[str, str]],
    may_not_vote: Collection[str],
) -> dict[str, int]:
    """Each member present who may vote and has open items without their recommendation, and how
    many such items (in attendance order). ``open_items`` maps each open item's application id to
    those recused from it; ``voted`` holds (application id, member id) of recommendations recorded;
    ``may_not_vote`` are members who lack a course the programme requires."""
    awaiting: dict[str, int] = {}
    for member in dict.fromkeys(attendance):
        if member in may_not_vote:
            continue
        count = sum(
            1 for application_id, recused in open_items.items()
            if member not in recused and (application_id, member) not in voted
        )  # fmt: skip
        if count:
            awaiting[member] = count
    return awaiting
# --- involvement payments to panel members -------------------------------------------------------
# Panel members (experts by experience) are paid for their involvement as the programme's policy
# says: a rate per hour or per session, for each decision meeting they attend and each review they
# complete, and their expenses (travel, childcare, carer costs...) when the policy allows them.
# NHS England's patient and public voice (PPV) partners policy is the model.


class RateUnit(StrEnum):
    HOUR = "hour"
    SESSION = "session"


class ExpenseCategory(StrEnum):
    TRAVEL = "travel"
    CHILDCARE = "childcare"
    CARER_COSTS = "carer_costs"
    SUBSISTENCE = "subsistence"
    OTHER = "other"


class TimeEntryKind(StrEnum):
    MEETING = "meeting"
    REVIEW = "review"


class ClaimKind(StrEnum):
    TIME = "time"
    EXPENSES = "expenses"


class ClaimStatus(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


CLAIM_TRANSITIONS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    ClaimStatus.SUBMITTED: frozenset({ClaimStatus.APPROVED, ClaimStatus.REJECTED}),
    ClaimStatus.APPROVED: frozenset(),  # paid (or not) by disbursement from here
    ClaimStatus.REJECTED: frozenset(),
}


def can_move_claim(current: ClaimStatus, target: ClaimStatus) -> bool:
    return target in CLAIM_TRANSITIONS[current]


#: Longest meeting or review a policy may value, in minutes (a whole working day and more).
MAX_MINUTES = 12 * 60
MAX_SESSIONS = 10


@dataclass(frozen=True)
class Involvement:
    """What a policy pays for one meeting and one review: minutes for an hourly rate, sessions for a
    rate per session."""

    unit: RateUnit
    rate: Money
    meeting: int
    review: int


def involvement_policy_problems(unit: RateUnit, meeting: int, review: int) -> list[str]:
    limit, name = (MAX_MINUTES, "minutes") if unit is RateUnit.HOUR else (MAX_SESSIONS, "sessions")
    return [
        f"a {what} counts from 0 to {limit} {name}"
        for what, value in (("meeting", meeting), ("review", review)) if not 0 <= value <= limit
    ]


def entry_amount(policy: Involvement, kind: TimeEntryKind) -> Money:
    """What one meeting attended or one review completed is worth under ``policy``: the rate times the
    sessions, or the hourly rate times the minutes over 60, rounded half up to a whole minor unit."""
    quantity = policy.meeting if kind is TimeEntryKind.MEETING else policy.review
    if policy.unit is RateUnit.SESSION:
        return Money(amount=policy.rate.amount * quantity, currency=policy.rate.currency)
    whole, part = divmod(policy.rate.amount * quantity, 60)
    return Money(amount=whole + (1 if part * 2 >= 60 else 0), currency=policy.rate.currency)


def describe_quantity(policy: Involvement, kind: TimeEntryKind) -> str:
    quantity = policy.meeting if kind is TimeEntryKind.MEETING else policy.review
    if policy.unit is RateUnit.SESSION:
        return f"{quantity} session" + ("" if quantity == 1 else "s")
    hours, minutes = divmod(quantity, 60)
    return " ".join(p for p in (f"{hours} h" if hours else "", f"{minutes} min" if minutes else "") if p) or "0 min"


def expense_problems(
    allowed: bool, categories: Collection[ExpenseCategory], category: ExpenseCategory, amount: Money, currency: str
) -> list[str]:
    if not allowed:
        return ["this programme's involvement policy does not pay expenses"]
    problems = []
    if category not in categories:
        problems.append(f"this programme does not pay {category.replace('_', ' ')} expenses")
    if amount.currency != currency:
        problems.append(f"the programme pays in {currency}")
    if amount.amount <= 0:
        problems.append("an expense claim is for more than nothing")
    return problems
