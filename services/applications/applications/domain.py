"""The pure rules of applications: what makes a programme well formed, who is eligible, how far an
application has progressed, and the plain words an applicant reads about it. No I/O, no clock:
callers pass the time in.
"""

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from dateutil.relativedelta import relativedelta
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, EmailStr, Field

from grants_shared.events import Id, PaymentPolicy, Reason, RubricCriterion, ShortText
from grants_shared.money import Money, format_money

OrganisationKind = Literal[
    "charity", "community_interest_company", "community_group", "social_enterprise", "faith_group", "other"
]
AreaName = Annotated[str, Field(min_length=1, max_length=100)]

MESSAGE_LIMIT = 200  # Reason.message is ShortText


# --- statuses ------------------------------------------------------------------------------------


class ProgrammeStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


PROGRAMME_TRANSITIONS: dict[ProgrammeStatus, frozenset[ProgrammeStatus]] = {
    ProgrammeStatus.DRAFT: frozenset({ProgrammeStatus.OPEN}),
    ProgrammeStatus.OPEN: frozenset({ProgrammeStatus.CLOSED}),
    ProgrammeStatus.CLOSED: frozenset(),
}


class Stage(StrEnum):
    """What an application is at: a short expression of interest first, where the programme asks
    for one, then the full application (by invitation only when there was an expression of interest)."""

    EXPRESSION_OF_INTEREST = "expression_of_interest"
    FULL = "full"


class ApplicationStatus(StrEnum):
    DRAFT = "draft"
    #: An expression of interest sent: the programme managers shortlist, then invite or decline.
    INTEREST_SUBMITTED = "interest_submitted"
    INTEREST_DECLINED = "interest_declined"
    INELIGIBLE = "ineligible"
    WITHDRAWN = "withdrawn"
    SUBMITTED = "submitted"
    SCORED = "scored"
    AWARDED = "awarded"
    DECLINED = "declined"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    PART_PAID = "part_paid"
    PAID = "paid"


#: Statuses an application moves through after submission, in order; it only ever moves forward
#: (downstream events may skip steps: a payment can be the first news of an offer).
PROGRESS_RANK: dict[ApplicationStatus, int] = {
    ApplicationStatus.SUBMITTED: 1,
    ApplicationStatus.SCORED: 2,
    ApplicationStatus.AWARDED: 3,
    ApplicationStatus.DECLINED: 3,
    ApplicationStatus.OFFERED: 4,
    ApplicationStatus.ACCEPTED: 5,
    ApplicationStatus.PART_PAID: 6,
    ApplicationStatus.PAID: 7,
}
#: Before the panel decides, the applicant may withdraw.
WITHDRAWABLE = frozenset({ApplicationStatus.SUBMITTED, ApplicationStatus.SCORED})


def _forward_from(status: ApplicationStatus) -> frozenset[ApplicationStatus]:
    if status is ApplicationStatus.DECLINED:
        return frozenset()  # a decline is the end of the road
    ahead = {s for s, rank in PROGRESS_RANK.items() if rank > PROGRESS_RANK[status]}
    if status in WITHDRAWABLE:
        ahead.add(ApplicationStatus.WITHDRAWN)
    return frozenset(ahead)


APPLICATION_TRANSITIONS: dict[ApplicationStatus, frozenset[ApplicationStatus]] = {
    ApplicationStatus.DRAFT: frozenset(
        {ApplicationStatus.SUBMITTED, ApplicationStatus.INELIGIBLE, ApplicationStatus.INTEREST_SUBMITTED}
    ),
    # Invited: the same application becomes the draft of its full application.
    ApplicationStatus.INTEREST_SUBMITTED: frozenset({ApplicationStatus.DRAFT, ApplicationStatus.INTEREST_DECLINED}),
    ApplicationStatus.INTEREST_DECLINED: frozenset(),
    ApplicationStatus.INELIGIBLE: frozenset(),
    ApplicationStatus.WITHDRAWN: frozenset(),
    **{status: _forward_from(status) for status in PROGRESS_RANK},
}


def can_move(current: ApplicationStatus, target: ApplicationStatus) -> bool:
    return target in APPLICATION_TRANSITIONS[current]


def _in_utc(moment: datetime) -> datetime:
    # MongoDB stores UTC: a time at the edge of the calendar whose offset takes it past year 1 or 9999
    # must be refused here, not fail when it is written.
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("this time is out of range once converted to UTC") from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
Description = Annotated[str, Field(max_length=10_000)]


class StageDates(BaseModel):
    """When a stage takes submissions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    opens_at: UtcDatetime
    closes_at: UtcDatetime
    #: Its submissions go to the programme's reviewers to be scored (the score helps shortlisting).
    scored: bool = False


class EligibilityRules(BaseModel):
    """Who a programme funds. An empty list means no restriction on that point."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    areas_served: Annotated[list[AreaName], Field(max_length=200)] = []
    organisation_kinds: Annotated[list[OrganisationKind], Field(max_length=6)] = []
    max_annual_income: Money | None = None


RegisteredNumber = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]{0,19}$")]


class OrganisationProfile(BaseModel):
    """Who an applicant group is, as its people describe it."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText
    kind: OrganisationKind
    area: AreaName = Field(description='Where the group works, e.g. "Brent"')
    annual_income: Money
    charity_number: RegisteredNumber | None = None
    company_number: RegisteredNumber | None = None


class ContactDetails(BaseModel):
    """Who to tell about an application. Personal data: only the organisation and managers see it."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText
    email: EmailStr


class ConsentMethod(StrEnum):
    """How a group told the person helping it that they may apply on its behalf."""

    IN_PERSON = "in_person"
    PHONE = "phone"
    VIDEO_CALL = "video_call"
    EMAIL = "email"
    LETTER = "letter"


def words_assisted(programme_name: str, given_by: str, method: str, given_at: datetime) -> str:
    return (f"A member of the programme team started a draft application to {programme_name} on your group's "
            f"behalf, with the consent of {_short(given_by)} ({method.replace('_', ' ')}, {_when(given_at)}).")  # fmt: skip


def words_taken_over() -> str:
    return "Your group took this application over: from now on only your group's people can change it."


class RetentionRules(BaseModel):
    """How long a programme keeps what applications say about people (contact details, the project's
    description, the panel's feedback) once it is done with them; amounts and decisions stay."""

    model_config = ConfigDict(extra="forbid")

    unsuccessful_months: Annotated[
        int, Field(ge=1, le=120, description="Months after an ineligible, withdrawn or declined application ended")
    ] = 12
    awarded_years: Annotated[int, Field(ge=1, le=30, description="Years after the decision to award")] = 7


class ProgrammeTerms(BaseModel):
    """A programme's terms as a manager writes them (and as they are stored)."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText
    description: Description = ""
    budget: Money
    maximum_award: Money
    opens_at: UtcDatetime
    closes_at: UtcDatetime
    eligibility: EligibilityRules = EligibilityRules()
    criteria: Annotated[list[RubricCriterion], Field(min_length=1, max_length=20)]
    reviewers_per_application: Annotated[int, Field(ge=1, le=10)]
    #: The panel proposed while the programme is a draft; opening hands it to scoring, which owns it.
    panel: Annotated[list[Id], Field(min_length=1, max_length=100)]
    payment_policy: PaymentPolicy = PaymentPolicy()
    #: A first, short stage: groups express interest, managers invite some to the full application
    #: (which takes submissions from opens_at to closes_at). None: groups apply in full straight away.
    expression_of_interest: StageDates | None = None
    retention: RetentionRules = RetentionRules()

    def problems(self) -> list[str]:
        return programme_problems(
            budget=self.budget, maximum_award=self.maximum_award, opens_at=self.opens_at, closes_at=self.closes_at,
            eligibility=self.eligibility, criteria=self.criteria,
            reviewers_per_application=self.reviewers_per_application, panel=self.panel,
            expression_of_interest=self.expression_of_interest,
        )  # fmt: skip


# --- programmes ----------------------------------------------------------------------------------


def programme_problems(
    *,
    budget: Money,
    maximum_award: Money,
    opens_at: datetime,
    closes_at: datetime,
    eligibility: EligibilityRules,
    criteria: Sequence[RubricCriterion],
    reviewers_per_application: int,
    panel: Sequence[str],
    expression_of_interest: StageDates | None = None,
) -> list[str]:
    """Everything wrong with a programme's terms, in words a programme manager can act on."""
    problems: list[str] = []
    if expression_of_interest is not None:
        if expression_of_interest.closes_at <= expression_of_interest.opens_at:
            problems.append("the expression of interest must close later than it opens")
        if expression_of_interest.closes_at > closes_at:
            problems.append("the expression of interest must close before the full application closes")
    if maximum_award.currency != budget.currency:
        problems.append(f"the maximum award must be in the budget's currency ({budget.currency})")
    elif maximum_award.amount > budget.amount:
        problems.append("the maximum award cannot be more than the budget")
    if maximum_award.amount <= 0:
        problems.append("the maximum award must be more than zero")
    if closes_at <= opens_at:
        problems.append("closes_at must be later than opens_at")
    ceiling = eligibility.max_annual_income
    if ceiling is not None and ceiling.currency != budget.currency:
        problems.append(f"the income ceiling must be in the budget's currency ({budget.currency})")
    if len(set(eligibility.organisation_kinds)) != len(eligibility.organisation_kinds):
        problems.append("organisation kinds must not repeat")
    if not criteria:
        problems.append("a programme needs at least one scoring criterion")
    if len({c.key for c in criteria}) != len(criteria):
        problems.append("criterion keys must be unique")
    if len(set(panel)) != len(panel):
        problems.append("a reviewer can sit on the panel only once")
    if len(set(panel)) < reviewers_per_application:
        problems.append(
            f"the panel needs at least {reviewers_per_application} reviewers to give each application "
            f"{reviewers_per_application} reviews"
        )
    return problems


def can_open(status: ProgrammeStatus, closes_at: datetime, now: datetime) -> str | None:
    """Why a programme cannot be opened now, or None if it can."""
    if ProgrammeStatus.OPEN not in PROGRAMME_TRANSITIONS[status]:
        return f"only a draft programme can be opened; this one is {status}"
    if closes_at <= now:
        return "the closing time has passed; move closes_at into the future before opening"
    return None


def can_close(status: ProgrammeStatus) -> str | None:
    if ProgrammeStatus.CLOSED not in PROGRAMME_TRANSITIONS[status]:
        return f"only an open programme can be closed; this one is {status}"
    return None


def can_change_form(status: ProgrammeStatus) -> str | None:
    """A form may get a new version while the programme takes applications: those already started
    keep the version they began with."""
    if status is ProgrammeStatus.CLOSED:
        return "the programme is closed; its form can no longer change"
    return None


def can_invite(status: ApplicationStatus) -> str | None:
    if status is not ApplicationStatus.INTEREST_SUBMITTED:
        return f"only an expression of interest waiting for a decision can be answered; this application is {status}"
    return None


def can_edit(status: ProgrammeStatus) -> str | None:
    if status is not ProgrammeStatus.DRAFT:
        return f"only a draft programme can be edited; this one is {status}"
    return None


# --- changes to an open programme ----------------------------------------------------------------


class ChangeStatus(StrEnum):
    """A change to an open programme: applied at once, or (a budget decrease, which disbursement must
    agree to) pending until disbursement applies or refuses it."""

    PENDING = "pending"
    APPLIED = "applied"
    REFUSED = "refused"


CHANGE_TRANSITIONS: dict[ChangeStatus, frozenset[ChangeStatus]] = {
    ChangeStatus.PENDING: frozenset({ChangeStatus.APPLIED, ChangeStatus.REFUSED}),
    ChangeStatus.APPLIED: frozenset(),
    ChangeStatus.REFUSED: frozenset(),
}


def can_change_open(status: ProgrammeStatus) -> str | None:
    if status is not ProgrammeStatus.OPEN:
        return f"only an open programme is changed this way (a draft is edited); this one is {status}"
    return None


@dataclass(frozen=True)
class RequestedChange:
    """What a manager asks to change in an open programme (None: unchanged)."""

    name: str | None = None
    description: str | None = None
    budget: Money | None = None
    maximum_award: Money | None = None
    closes_at: datetime | None = None
    expression_of_interest_closes_at: datetime | None = None

    def given(self) -> list[str]:
        return [name for name in self.__dataclass_fields__ if getattr(self, name) is not None]


def is_budget_decrease(terms: ProgrammeTerms, change: RequestedChange) -> bool:
    return change.budget is not None and change.budget.amount < terms.budget.amount


def change_problems(terms: ProgrammeTerms, change: RequestedChange, now: datetime) -> list[str]:
    """Everything wrong with a change to an open programme. Only what cannot hurt a group already
    applying is allowed: closing dates move later, never earlier; the maximum award only rises; the
    budget rises, or falls (on its own, for disbursement to agree) but never below the maximum award."""
    problems: list[str] = []
    given = change.given()
    if not given:
        return ["say what to change"]
    budget = change.budget or terms.budget
    maximum = change.maximum_award or terms.maximum_award
    if change.budget is not None:
        if change.budget.currency != terms.budget.currency:
            problems.append(f"the budget stays in its currency ({terms.budget.currency})")
        elif change.budget.amount == terms.budget.amount:
            problems.append("the budget is already that much")
        elif is_budget_decrease(terms, change) and given != ["budget"]:
            problems.append("ask for a budget decrease on its own: disbursement must agree to it first")
    if change.maximum_award is not None:
        if change.maximum_award.currency != terms.budget.currency:
            problems.append(f"the maximum award must be in the budget's currency ({terms.budget.currency})")
        elif change.maximum_award.amount <= terms.maximum_award.amount:
            problems.append("the maximum award can only rise once the programme is open: groups already apply under it")
    if budget.currency == maximum.currency and maximum.amount > budget.amount:
        problems.append("the maximum award cannot be more than the budget")
    closes_at = change.closes_at or terms.closes_at
    if change.closes_at is not None:
        if change.closes_at <= terms.closes_at:
            problems.append("the closing date can only move later: groups are working to it")
        elif change.closes_at <= now:
            problems.append("the new closing date has passed already")
    if change.expression_of_interest_closes_at is not None:
        stage = terms.expression_of_interest
        if stage is None:
            problems.append("this programme has no expression of interest stage")
        elif change.expression_of_interest_closes_at <= stage.closes_at:
            problems.append("the expression of interest's closing date can only move later")
        elif change.expression_of_interest_closes_at > closes_at:
            problems.append("the expression of interest must close before the full application closes")
        elif change.expression_of_interest_closes_at <= now:
            problems.append("the expression of interest's new closing date has passed already")
    return problems


# --- eligibility ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EligibilityTerms:
    """What eligibility needs to know about a programme."""

    status: str
    opens_at: datetime
    closes_at: datetime
    currency: str
    maximum_award: Money
    eligibility: EligibilityRules


@dataclass(frozen=True)
class ApplicantOrganisation:
    kind: str
    area: str
    annual_income: Money


def eligibility_failures(
    programme: EligibilityTerms,
    organisation: ApplicantOrganisation,
    amount_requested: Money,
    now: datetime,
    already_applied: bool,
    draft: bool = False,
) -> list[Reason]:
    """Every rule the application breaks (not just the first), so the applicant can fix them all at once.
    ``draft``: as a draft stands, where an amount not yet given (zero) is not a failure yet."""
    failures = [
        *window_failures(programme, now), *organisation_failures(programme.eligibility, organisation),
        *amount_failures(programme, amount_requested, draft),
    ]  # fmt: skip
    if already_applied:
        failures.append(_reason(
            "duplicate_application",
            "Your organisation already has an application to this programme; withdraw it before applying again.",
        ))  # fmt: skip
    return failures


def window_failures(programme: EligibilityTerms, now: datetime) -> list[Reason]:
    """Whether the programme takes applications now."""
    if programme.status != "open":
        return [_reason("programme_not_open", "The programme is not open for applications.")]
    if now < programme.opens_at:
        return [_reason("programme_not_open", f"The programme opens for applications on {_when(programme.opens_at)}.")]
    if now >= programme.closes_at:
        return [_reason("programme_not_open", f"The programme closed for applications on {_when(programme.closes_at)}.")]
    return []


def organisation_failures(rules: EligibilityRules, organisation: ApplicantOrganisation) -> list[Reason]:
    """The rules about who the group is: anyone can check these before writing a word (a public check)."""
    failures: list[Reason] = []
    if rules.organisation_kinds and organisation.kind not in rules.organisation_kinds:
        failures.append(_reason(
            "organisation_kind_not_eligible",
            f"This programme funds {_either(kind_words(k) for k in rules.organisation_kinds)}; "
            f"your organisation is registered as {_article(kind_words(organisation.kind))}.",
        ))  # fmt: skip
    if rules.areas_served and not serves_area(rules.areas_served, organisation.area):
        failures.append(_reason(
            "area_not_served",
            f"Your organisation's area, {organisation.area}, is not one this programme serves "
            f"({_either(rules.areas_served)}).",
        ))  # fmt: skip
    ceiling = rules.max_annual_income
    income = organisation.annual_income
    if ceiling is not None:
        if income.currency != ceiling.currency:
            failures.append(_reason(
                "income_currency_mismatch",
                f"Your annual income is given in {income.currency} but this programme's income limit is in "
                f"{ceiling.currency}; update your organisation's profile.",
            ))  # fmt: skip
        elif income.amount > ceiling.amount:
            failures.append(_reason(
                "income_above_ceiling",
                f"This programme funds organisations with an annual income of up to {plain_money(ceiling)}; "
                f"yours is {plain_money(income)}.",
            ))  # fmt: skip
    return failures


def amount_failures(programme: EligibilityTerms, amount_requested: Money, draft: bool = False) -> list[Reason]:
    """The rules about the amount. A draft may leave it at zero (not yet answered); its currency and
    the maximum are checked from the start, so a group does not write to the end to hear of them."""
    failures: list[Reason] = []
    if amount_requested.amount <= 0 and not (draft and amount_requested.amount == 0):
        failures.append(_reason("amount_not_positive", "The amount requested must be more than zero."))
    if amount_requested.currency != programme.currency:
        failures.append(_reason(
            "currency_mismatch",
            f"You asked for an amount in {amount_requested.currency}, but this programme makes grants in "
            f"{programme.currency}.",
        ))  # fmt: skip
    elif amount_requested.amount > programme.maximum_award.amount:
        failures.append(_reason(
            "amount_above_maximum",
            f"The largest grant this programme makes is {plain_money(programme.maximum_award)}; "
            f"you asked for {plain_money(amount_requested)}.",
        ))  # fmt: skip
    return failures


def eligibility_check(
    programme: EligibilityTerms, organisation: ApplicantOrganisation, amount_requested: Money | None, now: datetime
) -> list[Reason]:
    """Eligibility before effort: a group's facts (and, if it knows it, the amount it would ask for)
    against the programme's rules, for anyone to try before starting an application."""
    failures = [*window_failures(programme, now), *organisation_failures(programme.eligibility, organisation)]
    if amount_requested is not None:
        failures += amount_failures(programme, amount_requested)
    return failures


def correctable(programme: EligibilityTerms, now: datetime) -> bool:
    """A submission that breaks the rules goes back to the group as a draft to put right while the
    programme still takes applications; after it closes, it is ineligible for good."""
    return programme.status == "open" and now < programme.closes_at


def _reason(code: str, message: str) -> Reason:
    return Reason(code=code, message=_short(message))


def serves_area(areas_served: Iterable[str], area: str) -> bool:
    """Areas are free text typed by people, so compare them ignoring case and spacing."""
    return _normalise(area) in {_normalise(a) for a in areas_served}


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


# --- the applicant-facing progress of an application ---------------------------------------------

#: What the applicant is shown: a score is the panel's working, not theirs to see.
APPLICANT_STATUS: dict[str, str] = {ApplicationStatus.SCORED: "under_review"}


@dataclass(frozen=True)
class Progress:
    """The facts other services have told us about an application, whatever order they came in."""

    scored: bool = False
    outcome: Literal["awarded", "declined"] | None = None
    award: Money | None = None
    offered: bool = False
    accepted: bool = False
    paid: Money | None = None


def implied_status(progress: Progress) -> ApplicationStatus:
    """The furthest status the known facts support."""
    if progress.paid is not None and progress.paid.amount > 0:
        award = progress.award
        if award is not None and award.currency == progress.paid.currency and progress.paid.amount >= award.amount:
            return ApplicationStatus.PAID
        return ApplicationStatus.PART_PAID
    if progress.accepted:
        return ApplicationStatus.ACCEPTED
    if progress.offered:
        return ApplicationStatus.OFFERED
    if progress.outcome is not None:
        return ApplicationStatus(progress.outcome)
    if progress.scored:
        return ApplicationStatus.SCORED
    return ApplicationStatus.SUBMITTED


def contradiction(progress: Progress) -> str | None:
    """Why these facts cannot all be true (None when they can): disbursement offers, and pays, only
    what the panel awarded, so a declined application never has a grant or a payment."""
    if progress.outcome == "declined" and (progress.offered or progress.accepted or progress.paid is not None):
        return "the panel declined it, yet a grant or a payment for it was reported"
    return None


def next_status(current: ApplicationStatus, progress: Progress) -> ApplicationStatus:
    """Move forward only. Draft, ineligible and withdrawn applications are not on this path and stay put."""
    if current not in PROGRESS_RANK:
        return current
    implied = implied_status(progress)
    return implied if can_move(current, implied) else current


def applicant_status(status: str) -> str:
    return APPLICANT_STATUS.get(status, status)


def status_shown(status: str, to_manager: bool) -> str:
    """Programme managers and admins see the service's own status; applicants see it in their words."""
    return status if to_manager else applicant_status(status)


def total_paid(amounts: Iterable[Money]) -> Money | None:
    """Raises ValueError if payments come in different currencies."""
    total: Money | None = None
    for amount in amounts:
        total = amount if total is None else total + amount
    return total


def can_withdraw(status: ApplicationStatus) -> str | None:
    if can_move(status, ApplicationStatus.WITHDRAWN):
        return None
    if status in PROGRESS_RANK:
        return "the panel has already decided on this application, so it can no longer be withdrawn"
    return f"only a submitted application can be withdrawn; this one is {applicant_status(status)}"


# --- words for the applicant's timeline ----------------------------------------------------------


def words_submitted(programme_name: str, amount: Money) -> str:
    return f"You applied to {programme_name} for {plain_money(amount)}. Reviewers will read your application next."


def words_ineligible(reasons: Sequence[Reason]) -> str:
    listed = " ".join(r.message for r in reasons)
    return f"Your application does not meet this programme's rules, so it will not go to the panel. {listed}"


def words_returned(reasons: Sequence[Reason], closes_at: datetime) -> str:
    listed = " ".join(r.message for r in reasons)
    return (f"Your application does not yet meet this programme's rules, so we have returned it to you as a draft "
            f"to put right. {listed} You can submit it again until {_when(closes_at)}.")  # fmt: skip


def words_interest_submitted(programme_name: str) -> str:
    return (f"You sent your expression of interest in {programme_name}. The programme team will tell you whether "
            "they invite you to make a full application.")  # fmt: skip


def words_invited(closes_at: datetime) -> str:
    return (f"You are invited to make a full application. Your answers so far are kept. "
            f"Submit it by {_when(closes_at)}.")  # fmt: skip


def words_interest_declined(feedback: str) -> str:
    text = "The programme team decided not to invite a full application this time."
    return text + (f" Their feedback: {feedback}" if feedback else "")


def words_withdrawn(reason: str) -> str:
    return "You withdrew your application." + (f" Your reason: {reason}" if reason else "")


def words_under_review() -> str:
    return "The reviewers have finished reading your application. It is now with the panel for a decision."


def words_decided(outcome: str, award: Money | None, feedback: str) -> str:
    if outcome == "awarded" and award is not None:
        text = f"The panel awarded your organisation {plain_money(award)}. A grant offer will follow."
    else:
        text = "The panel decided not to fund this application."
    return text + (f" The panel's feedback: {feedback}" if feedback else "")


def words_offered(amount: Money, instalments: int) -> str:
    how = "in one payment" if instalments <= 1 else f"in {instalments} instalments"
    return (
        f"You have been offered a grant of {plain_money(amount)}, paid {how}. "
        "Accept the offer and give your bank details to receive it."
    )


def words_accepted() -> str:
    return "You accepted the grant offer. Payments will follow the agreed schedule."


def words_payment_sent(amount: Money, reference: str, paid: Money, award: Money | None) -> str:
    so_far = f"{plain_money(paid)} of {plain_money(award)}" if award else plain_money(paid)
    return f"We sent you {plain_money(amount)} (payment reference {reference}). Paid so far: {so_far}."


def words_payment_failed(reason: str, will_retry: bool) -> str:
    then = "We will try again." if will_retry else "Our finance team will contact you to put it right."
    return f"A payment to you did not go through ({reason}). {then}"


# --- small helpers for words ----------------------------------------------------------------------

#: £1,250.00 rather than GBP 125000 (the currency's own places: JP¥150,000).
plain_money = format_money


def kind_words(kind: str) -> str:
    return kind.replace("_", " ")


def _article(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def _either(items: Iterable[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def _when(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%d %B %Y at %H:%M} UTC"


def _short(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


# --- how long what an application says about people is kept ---------------------------------------

UNSUCCESSFUL, AWARDED = "unsuccessful", "awarded"
_UNSUCCESSFUL = {ApplicationStatus.INELIGIBLE, ApplicationStatus.WITHDRAWN, ApplicationStatus.DECLINED,
                 ApplicationStatus.INTEREST_DECLINED}


def retention_clock(status: ApplicationStatus, submitted_at: datetime | None, withdrawn_at: datetime | None,
                    decided_at: datetime | None) -> tuple[str, datetime] | None:  # fmt: skip
    """Which retention rule an application falls under and when its clock started; None while it is
    still in progress (a draft, or under review)."""
    if status in _UNSUCCESSFUL:
        since = {ApplicationStatus.INELIGIBLE: submitted_at, ApplicationStatus.WITHDRAWN: withdrawn_at,
                 ApplicationStatus.DECLINED: decided_at,
                 # an expression of interest not invited: from when it was sent
                 ApplicationStatus.INTEREST_DECLINED: submitted_at}[status]  # fmt: skip
        return (UNSUCCESSFUL, since) if since else None
    if decided_at is not None and status not in (ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED,
                                                 ApplicationStatus.SCORED):  # fmt: skip
        return AWARDED, decided_at
    return None


def retention_cutoffs(rules: RetentionRules, now: datetime) -> dict[str, datetime]:
    """For each rule, the latest start of a clock that has run out by ``now``."""
    return {UNSUCCESSFUL: now - relativedelta(months=rules.unsuccessful_months),
            AWARDED: now - relativedelta(years=rules.awarded_years)}  # fmt: skip


def words_anonymised() -> str:
    return "The details of this entry were removed when the programme's retention period ended."


# --- finding applications by words ---------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+")


def search_words(*texts: str | None) -> list[str]:
    """The distinct lowercase words of ``texts`` (accents folded, so "Café" is found by "cafe"), kept on
    every saved application so that one multikey index finds it by any word of its title or group's name."""
    words: set[str] = set()
    for text in texts:
        decomposed = unicodedata.normalize("NFKD", (text or "").casefold())
        # Accents go; letters of every script stay (a group's name may be in any).
        folded = "".join(c for c in decomposed if not unicodedata.combining(c))
        words.update(_WORD.findall(folded))
    return sorted(words)
