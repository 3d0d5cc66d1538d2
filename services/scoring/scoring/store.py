"""The scoring database: its documents, indexes and every query on it.

- ``programmes``: each programme as scoring keeps it from its opening: rubric, panel (scoring's from
  then on) and the budget ledger of awards.
- ``applications``: submitted applications with their review state, score, moderation and decision.
- ``reviews``: one per reviewer asked to score an application, with their score sheet.
- ``conflicts``: reviewers' declarations of a conflict of interest with an organisation.
- ``early_withdrawals``: withdrawals that arrived before their submission.
- ``upgrades``: the one-off changes to stored documents already made (one document each).

Every function takes ``tx``: the transaction it runs in, or the service's database for a plain read.
Every write to an application also bumps its ``version``: two transactions that touch the same
application therefore collide (a write conflict, retried by ``transact``) instead of each acting on a
stale snapshot, e.g. two reviewers submitting the last two reviews at the same moment. Short lists
answer ``(items, total)``; a programme's applications and its ranking, which may be 100,000 long,
answer a page and the cursor of the next (``grants_shared.paging``).
"""

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, PlainSerializer, StrictInt
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.budget import create_budget_indexes
from grants_shared.clock import utcnow
from grants_shared.documents import Document, Joined, Part, read_together
from grants_shared.events import OrganisationSummary, QuestionAnswer, RubricCriterion
from grants_shared.money import Money
from grants_shared.paging import After, offset_page, window_page
from grants_shared.privacy import ERASED_EMAIL, ERASED_NAME, PERSON, PSEUDONYM, PersonalData
from grants_shared.unit_of_work import Db, Transaction
from scoring.domain import (
    MAX_SCORE,
    BlindField,
    OPEN_REVIEW,
    UNDER_REVIEW,
    WITHDRAWABLE,
    ApplicationScore,
    AccessNeed,
    ApplicationStatus,
    ConflictStatus,
    Course,
    DecisionMethod,
    ItemStatus,
    MemberKind,
    Outcome,
    Recommendation,
    ProgrammeStatus,
    RankedApplication,
    RankingCandidate,
    RankingWalk,
    ReviewStatus,
    ranking_shortfall,
    walk,
)
from scoring.domain import ClaimKind, ClaimStatus, ExpenseCategory, Involvement, RateUnit, TimeEntryKind

Score = Annotated[StrictInt, Field(ge=0, le=MAX_SCORE)]
Comment = Annotated[str, Field(max_length=2_000)]

# --- documents -----------------------------------------------------------------------------------


class PanelMember(Part):
    member_id: str
    kind: MemberKind


class QuorumRule(Part):
    members: int
    experts: int


class DecisionRule(Part):
    """How the programme decides: its decision panel, quorum and method; or delegated to a named role."""

    method: DecisionMethod
    members: list[PanelMember] = []
    quorum: QuorumRule | None = None
    delegated_to: Literal["programme_manager", "admin"] | None = None
    set_by: str
    set_at: datetime

    @property
    def kinds(self) -> dict[str, MemberKind]:
        return {m.member_id: m.kind for m in self.members}


class Programme(Document):
    """A programme as scoring keeps it: rubric, panel and budget. What is left of the budget to award
    is in the budget's buckets (grants_shared.budget), not here: awards must not all update one document."""

    name: str
    status: ProgrammeStatus = ProgrammeStatus.OPEN
    budget: Money
    maximum_award: Money
    criteria: list[RubricCriterion]
    reviewers_per_application: int
    panel: list[str]
    opened_at: datetime
    closed_at: datetime | None = None
    #: None until a manager sets it: nothing can be decided before then.
    decision_rule: DecisionRule | None = None
    #: Courses a member must have completed before they are assigned reviews, score or vote here.
    required_courses: list[Course] = []
    #: Blind review: the fields of its applications that reviewers are never shown.
    hidden_from_reviewers: list[BlindField] = []
    #: Who opened the programme (the actor of programme.opened): told when a review is overdue.
    manager_id: str | None = None
    version: int = 1
    #: The changes from applications (programme.changed, budget_decreased) already applied, each once.
    applied_changes: list[str] = []

    @property
    def weights(self) -> dict[str, int]:
        return {c.key: c.weight for c in self.criteria}


def record_id(application_id: str, stage: str) -> str:
    """The id scoring keeps a submission under: the application's, or a stage's own for an expression of interest."""
    return application_id if stage == "full" else f"{application_id}:interest"


class Moderation(Part):
    moderated_by: str
    note: str
    weighted_score: float
    computed_weighted_score: float
    moderated_at: datetime


class ScoreChange(Part):
    """One change to an application's weighted score, kept in order and never changed: the score
    computed from the reviews, or a moderation (who, when, before, after and why)."""

    kind: Literal["computed", "moderated"]
    by: str | None = None
    at: datetime
    before: float | None = None
    after: float
    why: str


class Decision(Part):
    outcome: Outcome
    amount_awarded: Money | None = None
    feedback: str = ""
    decided_at: datetime
    recorded_by: str
    #: v1 decisions named the whole panel; the panel's and delegated decisions name their basis instead.
    panel: list[str] = []
    #: "panel" (in a meeting: its id and tally) or "delegated" (to a role).
    by: Literal["panel", "delegated"] | None = None
    meeting_id: str | None = None
    delegated_to: str | None = None
    #: The budget buckets the award was taken from (grants_shared.budget), to give it back if ever undone.
    reserved: list[dict[str, Any]] = []


#: What the ranking holds; and the field that orders it, kept only on those (``Application.ranked``).
RANKED = frozenset({ApplicationStatus.SCORED, ApplicationStatus.DECIDED})
RANKING_KEY = "ranking_shortfall"


class Application(Document):
    programme_id: str
    organisation: OrganisationSummary
    title: str
    summary: str
    amount_requested: Money
    submitted_at: datetime
    status: ApplicationStatus
    #: The answers to the programme's own questions, for its reviewers (text about people: personal).
    answers: list[QuestionAnswer] = []
    #: The stage this record scores. A scored expression of interest is a record of its own
    #: (``<application id>:interest``, see ``record_id``), so the full application that follows is
    #: reviewed afresh; only a full application is ranked and decided.
    stage: Literal["expression_of_interest", "full"] = "full"
    #: The application's id in applications (the record's own id but for an expression of interest).
    application_id: str | None = None

    @property
    def source_id(self) -> str:
        return self.application_id or self.id
    reviewers_required: int
    #: Reviewers whose review is open or completed (cancelled reviews drop out).
    reviewer_ids: list[str] = []
    #: Reviewers who declined to review it: never asked again.
    declined_by: list[str] = []
    reviewers_missing: int = 0
    reviews_completed: int = 0
    criterion_means: dict[str, float] | None = None
    computed_weighted_score: float | None = None
    #: The score the ranking uses: the computed one, or the moderator's.
    weighted_score: float | None = None
    needs_moderation: bool = False
    moderation: Moderation | None = None
    #: Append-only: every change to the weighted score, oldest first.
    score_history: list[ScoreChange] = []
    decision: Decision | None = None
    withdrawn_at: datetime | None = None
    version: int = 1

    @property
    def ranked(self) -> bool:
        """In the ranking: a full application, scored or decided."""
        return self.stage == "full" and self.status in RANKED

    def to_doc(self) -> dict[str, Any]:
        doc = super().to_doc()
        if self.ranked:
            doc[RANKING_KEY] = ranking_shortfall(self.weighted_score or 0.0)
        return doc

    def ranking_candidate(self) -> RankingCandidate:
        return RankingCandidate(
            application_id=self.id,
            weighted_score=self.weighted_score or 0.0,
            submitted_at=self.submitted_at,
            amount_requested=self.amount_requested.amount,
            status=self.status,
            outcome=self.decision.outcome if self.decision else None,
        )


class ApplicantOrganisation(Part):
    """An organisation that applied to a programme, as a panel member needs it to declare a conflict."""

    id: str
    name: str


class CriterionScore(Part):
    score: Score
    comment: Comment = ""


class Review(Document):
    application_id: str
    application_title: str
    programme_id: str
    organisation_id: str
    reviewer_id: str
    status: ReviewStatus
    scores: dict[str, CriterionScore] = {}
    assigned_at: datetime
    due_date: date
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    #: When the review watcher reminds the reviewer, and tells them and the manager it is overdue;
    #: each cleared once done, or when the review is completed or cancelled (absent: nothing to send).
    remind_at: datetime | None = None
    overdue_at: datetime | None = None
    version: int = 1

    def to_doc(self) -> dict[str, Any]:
        doc = super().to_doc()
        doc["due_date"] = self.due_date.isoformat()  # BSON has no date-only type
        # Absent rather than null, so the sparse indexes the watcher reads hold only what is to send.
        for watched in _REVIEW_WATCH:
            if doc.get(watched) is None:
                doc.pop(watched, None)
        return doc


#: The review watcher's fields (``Review.remind_at``, ``Review.overdue_at``).
_REVIEW_WATCH = ("remind_at", "overdue_at")


class ConflictEntry(Part):
    """Something someone did with a conflict of interest: declared it, asked for it to be resolved,
    resolved it. Kept in order, never changed."""

    action: Literal["declared", "resolution_requested", "resolved"]
    by: str
    at: datetime
    note: str = ""


class ConflictOfInterest(Document):
    reviewer_id: str
    organisation_id: str
    reason: str
    status: ConflictStatus = ConflictStatus.DECLARED
    declared_at: datetime
    resolution_requested_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    history: list[ConflictEntry] = []


# --- what this service holds about people (grants_shared.privacy) --------------------------------

PERSONAL_DATA = (
    PersonalData("reviews", "reviewer_id", {"reviewer_id": PSEUDONYM},
                 about="Reviews you were asked to make, with your scores and comments"),  # fmt: skip
    PersonalData("conflicts", "reviewer_id", {"reviewer_id": PSEUDONYM, "reason": ERASED_NAME},
                 about="Conflicts of interest you declared"),  # fmt: skip
    PersonalData("conflicts", "resolved_by", {"resolved_by": PSEUDONYM}, about="Conflicts of interest you resolved"),
    PersonalData("conflicts", "history.by", {"history.$[entry].by": PSEUDONYM}, array_filters=[{"entry.by": PERSON}],
                 about="What you did with conflicts of interest"),  # fmt: skip
    PersonalData("programmes", "panel", {"panel.$[member]": PSEUDONYM}, array_filters=[{"member": PERSON}],
                 about="Programmes whose panel you sit on"),  # fmt: skip
    # The application's own text is the applicant's, not the reviewer's: not in a reviewer's copy.
    PersonalData("applications", "reviewer_ids", {"reviewer_ids.$[member]": PSEUDONYM},
                 array_filters=[{"member": PERSON}], withhold=("summary",),
                 about="Applications you were asked to review"),  # fmt: skip
    PersonalData("applications", "moderation.moderated_by", {"moderation.moderated_by": PSEUDONYM},
                 withhold=("summary",), about="Scores you moderated"),  # fmt: skip
    PersonalData("applications", "decision.recorded_by", {"decision.recorded_by": PSEUDONYM},
                 withhold=("summary",), about="Decisions you recorded"),  # fmt: skip
    PersonalData("applications", "decision.panel", {"decision.panel.$[member]": PSEUDONYM},
                 array_filters=[{"member": PERSON}], withhold=("summary",),
                 about="Decisions made while you sat on the panel"),  # fmt: skip
    PersonalData("applications", "declined_by", {"declined_by.$[member]": PSEUDONYM}, array_filters=[{"member": PERSON}],
                 withhold=("summary",), about="Applications you declined to review"),  # fmt: skip
    PersonalData("applications", "score_history.by", {"score_history.$[change].by": PSEUDONYM},
                 array_filters=[{"change.by": PERSON}], withhold=("summary",), about="Scores you changed"),  # fmt: skip
    PersonalData("programmes", "decision_rule.members.member_id", {"decision_rule.members.$[m].member_id": PSEUDONYM},
                 array_filters=[{"m.member_id": PERSON}], about="Decision panels you sit on"),  # fmt: skip
    PersonalData("programmes", "decision_rule.set_by", {"decision_rule.set_by": PSEUDONYM},
                 about="Decision rules you set"),  # fmt: skip
    PersonalData("meetings", "attendance", {"attendance.$[member]": PSEUDONYM}, array_filters=[{"member": PERSON}],
                 about="Decision meetings you attended"),  # fmt: skip
    PersonalData("meetings", "rule.members.member_id", {"rule.members.$[m].member_id": PSEUDONYM},
                 array_filters=[{"m.member_id": PERSON}], about="Decision meetings of panels you sit on"),  # fmt: skip
    PersonalData("meetings", "called_by", {"called_by": PSEUDONYM}, about="Decision meetings you called"),
    PersonalData("programmes", "manager_id", {"manager_id": PSEUDONYM},
                 about="Programmes you opened, whose overdue reviews you are told of"),  # fmt: skip
    PersonalData("meeting_items", "recusals.member_id", {"recusals.$[r].member_id": PSEUDONYM},
                 array_filters=[{"r.member_id": PERSON}], about="Items you were recused from"),  # fmt: skip
    PersonalData("meeting_items", "decision.dissent.member_id", {"decision.dissent.$[d].member_id": PSEUDONYM},
                 array_filters=[{"d.member_id": PERSON}], about="Dissent recorded in your name"),  # fmt: skip
    PersonalData("meeting_items", "decision.closed_by", {"decision.closed_by": PSEUDONYM},
                 about="Meeting items you closed"),  # fmt: skip
    # A recommendation's id names its member: it goes (a closed item keeps its tally and dissent).
    PersonalData("recommendations", "member_id", {}, delete=True, about="Your recommendations in decision meetings"),
    # A member's profile (name, contact, access needs) is theirs alone: erased, it goes entirely.
    PersonalData("member_profiles", "_id", {}, delete=True,
                 about="Your panel member profile: preferred name, contact and access needs"),  # fmt: skip
    PersonalData("training_records", "member_id", {"member_id": PSEUDONYM},
                 about="Courses you completed as a panel member"),  # fmt: skip
    PersonalData("training_records", "recorded_by", {"recorded_by": PSEUDONYM},
                 about="Panel members' courses you recorded"),  # fmt: skip
    # Involvement: time and claims are records of money paid, kept; the member's name goes, and so do
    # their own words about an expense (which may say where they went or whom they care for).
    PersonalData("time_entries", "member_id", {"member_id": PSEUDONYM}, about="Time recorded for your involvement"),
    PersonalData("involvement_claims", "member_id", {"member_id": PSEUDONYM, "note": ""},
                 about="Involvement claims you made"),  # fmt: skip
    PersonalData("involvement_claims", "decided_by", {"decided_by": PSEUDONYM, "reason": ""},
                 about="Involvement claims you approved or rejected"),  # fmt: skip
    PersonalData("involvement_policies", "set_by", {"set_by": PSEUDONYM}, about="Involvement policies you set"),
)

#: What this service holds about an application that goes when its retention period ends (reviews'
#: comments are cleared by ``clear_review_comments``: their criteria differ by programme).
APPLICATION_DATA = (
    PersonalData("applications", "_id", {"summary": ""}, about="The project's description"),
    PersonalData("applications", "_id", {"answers": []}, about="The answers to the programme's questions"),
    PersonalData("applications", "_id", {"decision.feedback": ""}, where={"decision": {"$ne": None}},
                 about="The panel's feedback"),  # fmt: skip
    PersonalData("applications", "_id", {"moderation.note": ""}, where={"moderation": {"$ne": None}},
                 about="Why its score was moderated"),  # fmt: skip
)


async def clear_review_comments(tx: Db, application_id: str) -> int:
    """Every reviewer's comments on the application emptied; the scores stay."""
    changed = 0
    async for review in tx.db.reviews.find({"application_id": application_id}, {"scores": 1}, session=tx.session):
        cleared = {f"scores.{key}.comment": "" for key in review.get("scores") or {}}
        if cleared:
            await tx.db.reviews.update_one({"_id": review["_id"]}, {"$set": cleared}, session=tx.session)
            changed += 1
    return changed


async def _rank_what_was_scored_before_the_ranking_had_its_key(db: AsyncDatabase) -> None:
    """Give the ranking's key to applications scored before it was kept (once: then remembered in
    ``upgrades``), so that none of them drops out of the ranking."""
    if await db.upgrades.find_one({"_id": RANKING_KEY}):
        return
    async for programme in db.programmes.find({}, {"_id": 1}):
        query = {"programme_id": programme["_id"], "status": {"$in": list(RANKED)}, RANKING_KEY: {"$exists": False}}
        async for doc in db.applications.find(query):
            application = Application.from_doc(doc)
            if application.ranked:
                await db.applications.update_one(  # unless it changed meanwhile (and so has its key)
                    {"_id": application.id, "version": application.version},
                    {"$set": {RANKING_KEY: application.to_doc()[RANKING_KEY]}},
                )
    await db.upgrades.update_one({"_id": RANKING_KEY}, {"$set": {"done_at": utcnow()}}, upsert=True)


async def create_indexes(db: AsyncDatabase) -> None:
    await create_budget_indexes(db)
    await create_meeting_indexes(db)
    await create_member_indexes(db)
    await create_involvement_indexes(db)
    await db.programmes.create_index("panel")
    await db.applications.create_index(
        [("programme_id", ASCENDING), ("status", ASCENDING), ("submitted_at", ASCENDING)]
    )
    await db.applications.create_index([("programme_id", ASCENDING), ("organisation.id", ASCENDING)])
    await db.applications.create_index([("programme_id", ASCENDING), ("submitted_at", ASCENDING)])  # the list of all
    await db.applications.create_index(  # the ranking's order (ranking_page)
        [("programme_id", ASCENDING), (RANKING_KEY, ASCENDING), ("submitted_at", ASCENDING)]
    )
    await _rank_what_was_scored_before_the_ranking_had_its_key(db)
    await db.reviews.create_index([("reviewer_id", ASCENDING), ("status", ASCENDING)])
    await db.reviews.create_index([("reviewer_id", ASCENDING), ("organisation_id", ASCENDING), ("status", ASCENDING)])
    await db.reviews.create_index("application_id")
    await db.reviews.create_index("remind_at", sparse=True)  # reminders to send (the review watcher)
    await db.reviews.create_index("overdue_at", sparse=True)  # overdue notices to send
    await db.conflicts.create_index("reviewer_id")
    await db.conflicts.create_index("organisation_id")
    await db.conflicts.create_index([("declared_at", ASCENDING), ("_id", ASCENDING)])  # managers' list of all
    # One standing declaration per reviewer and organisation; resolved ones stay as history.
    await db.conflicts.create_index(
        [("reviewer_id", ASCENDING), ("organisation_id", ASCENDING)],
        unique=True,
        partialFilterExpression={"status": ConflictStatus.DECLARED},
        name="one_declared_conflict",
    )


async def _page(
    tx: Db, collection: AsyncCollection, query: dict[str, Any], limit: int, offset: int, sort: list[tuple[str, int]]
) -> tuple[list[dict[str, Any]], int]:
    return await offset_page(collection, query, sort, limit, offset, tx.session)


# --- programmes ----------------------------------------------------------------------------------

_IN_OPENING_ORDER = [("opened_at", ASCENDING), ("_id", ASCENDING)]


async def get_programme(tx: Db, programme_id: str) -> Programme | None:
    return Programme.maybe(await tx.db.programmes.find_one({"_id": programme_id}, session=tx.session))


async def list_programmes(
    tx: Db, panel_member: str | None, limit: int, offset: int
) -> tuple[list[Programme], int]:
    """Every programme, or those whose panel ``panel_member`` sits on, in the order they opened."""
    query = {"panel": panel_member} if panel_member else {}
    docs, total = await _page(tx, tx.db.programmes, query, limit, offset, _IN_OPENING_ORDER)
    return [Programme.from_doc(d) for d in docs], total


async def programmes_of_panel_member(tx: Db, reviewer_id: str) -> list[Programme]:
    cursor = tx.db.programmes.find({"panel": reviewer_id}, session=tx.session).sort(_IN_OPENING_ORDER)
    return [Programme.from_doc(d) async for d in cursor]


async def insert_programme(tx: Db, programme: Programme) -> None:
    await tx.db.programmes.insert_one(programme.to_doc(), session=tx.session)


async def close_programme(tx: Db, programme_id: str, closed_at: datetime) -> None:
    await tx.db.programmes.update_one(
        {"_id": programme_id, "status": ProgrammeStatus.OPEN},
        {"$set": {"status": ProgrammeStatus.CLOSED, "closed_at": closed_at}, "$inc": {"version": 1}},
        session=tx.session,
    )


async def set_hidden_from_reviewers(tx: Db, programme: Programme, hidden: list[BlindField]) -> bool:
    """Hide these fields from the programme's reviewers, if nobody changed it since it was read."""
    result = await tx.db.programmes.update_one(
        {"_id": programme.id, "version": programme.version},
        {"$set": {"hidden_from_reviewers": [str(f) for f in hidden]}, "$inc": {"version": 1}},
        session=tx.session,
    )
    return result.modified_count == 1


async def apply_programme_change(tx: Db, programme_id: str, change_id: str, fields: dict[str, Any]) -> bool:
    """Set the changed terms, once per change: False if this change was applied already."""
    result = await tx.db.programmes.update_one(
        {"_id": programme_id, "applied_changes": {"$ne": change_id}},
        {"$set": fields, "$push": {"applied_changes": change_id}, "$inc": {"version": 1}},
        session=tx.session,
    )
    return result.modified_count == 1


async def replace_panel(tx: Db, programme: Programme, panel: list[str]) -> bool:
    """Give the programme this panel, if nobody changed the programme since ``programme`` was read."""
    result = await tx.db.programmes.update_one(
        {"_id": programme.id, "version": programme.version},
        {"$set": {"panel": panel}, "$inc": {"version": 1}},
        session=tx.session,
    )
    return result.modified_count == 1


# --- applications --------------------------------------------------------------------------------

_IN_SUBMISSION_ORDER = [("submitted_at", ASCENDING), ("_id", ASCENDING)]


async def get_application(tx: Db, application_id: str) -> Application | None:
    return Application.maybe(await tx.db.applications.find_one({"_id": application_id}, session=tx.session))


def _of_programme(programme_id: str, statuses: Iterable[ApplicationStatus] | None) -> dict[str, Any]:
    query: dict[str, Any] = {"programme_id": programme_id}
    if statuses is not None:
        query["status"] = {"$in": list(statuses)}
    return query


#: Before any application could have been submitted: the lowest bound of a list by submission time.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LISTED = {"answers": 0, "score_history": 0}


async def list_applications(
    tx: Db, programme: Programme, status: ApplicationStatus | None, limit: int, after: After | None
) -> tuple[list[Application], After | None]:
    """A page of the programme's applications (in one status, or all), oldest submission first, and
    where the next page starts (None at the end): a window of submission times at a time on the
    index of the programme (and status), so a deep page costs what the first does."""
    query: dict[str, Any] = {"programme_id": programme.id} | ({"status": status} if status else {})
    # Submissions come after scoring heard of the opening, but for those made while it was away: the
    # first window reaches from the earliest time past the opening, so it finds those too.
    docs, following = await window_page(
        tx, "applications", query, "submitted_at", lowest=EARLIEST, highest=utcnow() + timedelta(days=1),
        limit=limit, after=after, projection=_LISTED, likely_end=programme.opened_at,
    )  # fmt: skip
    return [Application.from_doc(d) for d in docs], following


async def applications_of_programme(
    tx: Db, programme_id: str, statuses: Iterable[ApplicationStatus]
) -> list[Application]:
    """Every application of the programme in one of ``statuses``, oldest submission first."""
    cursor = tx.db.applications.find(_of_programme(programme_id, statuses), session=tx.session)
    return [Application.from_doc(d) async for d in cursor.sort(_IN_SUBMISSION_ORDER)]


#: What a page of the ranking needs of each application (not the answers, nor the score's history).
_IN_THE_RANKING = {"answers": 0, "score_history": 0, "criterion_means": 0}


async def ranking_page(
    tx: Db, programme_id: str, walked: RankingWalk, after: After | None, limit: int,
    hidden_organisations: Collection[str] = (),
) -> tuple[list[tuple[RankedApplication, Application]], RankingWalk, After | None]:
    """Up to ``limit`` of the programme's ranked applications in the ranking's order
    (``domain.ranking_order``: highest score first, then earliest submission, then id), walked on
    from ``walked`` (``domain.walk``) starting after ``after``; those of ``hidden_organisations`` are
    walked past but not shown. Answers the page, the walk where the page ends and where the next page
    starts (None at the end). Each read takes a window of scores on the ranking's index, so a deep page
    of a programme of 100,000 costs what the first does."""
    shown: list[tuple[RankedApplication, Application]] = []
    while len(shown) < limit:
        docs, following = await window_page(
            tx, "applications", {"programme_id": programme_id}, RANKING_KEY, lowest=0.0, highest=float(MAX_SCORE),
            limit=limit - len(shown), after=after, then="submitted_at", projection=_IN_THE_RANKING,
        )  # fmt: skip
        found = [Application.from_doc(d) for d in docs]
        ranked, walked = walk((a.ranking_candidate() for a in found), walked)
        shown += [(r, a) for r, a in zip(ranked, found, strict=True) if a.organisation.id not in hidden_organisations]
        if following is None:
            return shown, walked, None
        after = following
    return shown, walked, after


async def oldest_waiting(tx: Db, programme_id: str, limit: int) -> list[Application]:
    """The programme's ``limit`` oldest applications waiting for reviewers, oldest submission first."""
    query = {"programme_id": programme_id, "status": ApplicationStatus.AWAITING_REVIEWERS}  # the index's prefix
    cursor = tx.db.applications.find(query, session=tx.session).sort(_IN_SUBMISSION_ORDER).limit(limit)
    return [Application.from_doc(d) async for d in cursor]


async def programmes_with_waiting_applications(tx: Db) -> list[str]:
    """The programmes with an application waiting for reviewers (the waiting watcher): every programme's
    id (one document each), then one indexed look at each programme's waiting applications."""
    waiting = []
    async for programme in tx.db.programmes.find({}, {"_id": 1}, session=tx.session):
        query = {"programme_id": programme["_id"], "status": ApplicationStatus.AWAITING_REVIEWERS}
        if await tx.db.applications.find_one(query, {"_id": 1}, session=tx.session):
            waiting.append(programme["_id"])
    return waiting


async def organisations_of_programme(
    tx: Db, programme_id: str, limit: int, offset: int
) -> tuple[list[ApplicantOrganisation], int]:
    """The organisations that applied to the programme, by name."""
    grouped: list[dict[str, Any]] = [
        {"$match": {"programme_id": programme_id}},
        {"$group": {"_id": "$organisation.id", "name": {"$first": "$organisation.name"}}},
    ]
    page = [*grouped, {"$sort": {"name": 1, "_id": 1}}, {"$skip": offset}, {"$limit": limit}]
    docs = await (await tx.db.applications.aggregate(page, session=tx.session)).to_list(None)
    counted = await (await tx.db.applications.aggregate([*grouped, {"$count": "n"}], session=tx.session)).to_list(None)
    total = counted[0]["n"] if counted else 0
    return [ApplicantOrganisation(id=d["_id"], name=d["name"]) for d in docs], total


async def insert_application(tx: Db, application: Application) -> None:
    await tx.db.applications.insert_one(application.to_doc(), session=tx.session)


def insert_application_later(tx: Transaction, application: Application) -> None:
    """With the transaction's events (``insert_later``), for what nothing in it reads back."""
    tx.insert_later("applications", application.to_doc())


async def add_reviewers(
    tx: Db, application_id: str, reviewer_ids: Iterable[str], missing: int, status: ApplicationStatus
) -> None:
    """Record reviewers newly assigned to an application still under review, and how many it still lacks."""
    await tx.db.applications.update_one(
        {"_id": application_id, "status": {"$in": list(UNDER_REVIEW)}},
        {
            "$push": {"reviewer_ids": {"$each": list(reviewer_ids)}},
            "$set": {"reviewers_missing": missing, "status": status},
            "$inc": {"version": 1},
        },
        session=tx.session,
    )


async def record_decline(tx: Db, application_id: str, reviewer_id: str) -> None:
    await tx.db.applications.update_one(
        {"_id": application_id}, {"$addToSet": {"declined_by": reviewer_id}, "$inc": {"version": 1}}, session=tx.session
    )


async def drop_reviewer(tx: Db, application_id: str, reviewer_id: str) -> None:
    await tx.db.applications.update_one(
        {"_id": application_id}, {"$pull": {"reviewer_ids": reviewer_id}, "$inc": {"version": 1}}, session=tx.session
    )


def count_completed_review_later(
    tx: Transaction, application: Application, scored: tuple[ApplicationScore, ScoreChange] | None
) -> None:
    """One review more is complete and, when it was the last, the application is scored: written with
    the transaction's events (``update_later``), for an application read in the same transaction."""
    update: dict[str, Any] = {"$inc": {"reviews_completed": 1, "version": 1}}
    if scored is not None:
        score, change = scored
        update["$set"] = {
            "status": ApplicationStatus.SCORED,
            "criterion_means": score.criterion_means,
            "computed_weighted_score": score.weighted_score,
            "weighted_score": score.weighted_score,
            "needs_moderation": score.needs_moderation,
        }
        if application.stage == "full":  # into the ranking
            update["$set"][RANKING_KEY] = ranking_shortfall(score.weighted_score)
        update["$push"] = {"score_history": change.model_dump()}
    tx.update_later("applications", {"_id": application.id}, update)


async def record_moderation(tx: Db, application: Application, moderation: Moderation, change: ScoreChange) -> bool:
    """Record the moderation of a scored application, if nobody changed it since it was read; the
    change is appended to its score history (earlier moderations stay there)."""
    result = await tx.db.applications.update_one(
        {"_id": application.id, "status": ApplicationStatus.SCORED, "version": application.version},
        {
            "$set": {
                "weighted_score": moderation.weighted_score,
                "needs_moderation": False,
                "moderation": moderation.model_dump(),
            } | ({RANKING_KEY: ranking_shortfall(moderation.weighted_score)} if application.ranked else {}),
            "$push": {"score_history": change.model_dump()},
            "$inc": {"version": 1},
        },
        session=tx.session,
    )
    return result.modified_count == 1


def record_decision_later(tx: Transaction, application_id: str, decision: Decision) -> None:
    """Decide an application that is scored and needs no moderation, with the transaction's events
    (``update_later``): for an application this transaction read and found so."""
    tx.update_later(
        "applications", {"_id": application_id, "status": ApplicationStatus.SCORED, "needs_moderation": False},
        {"$set": {"status": ApplicationStatus.DECIDED, "decision": decision.model_dump()}, "$inc": {"version": 1}},
    )  # fmt: skip


async def withdraw_application(tx: Db, application_id: str, withdrawn_at: datetime) -> None:
    await tx.db.applications.update_one(
        {"_id": application_id, "status": {"$in": list(WITHDRAWABLE)}},
        {
            "$set": {"status": ApplicationStatus.WITHDRAWN, "withdrawn_at": withdrawn_at, "reviewers_missing": 0},
            "$unset": {RANKING_KEY: ""},  # out of the ranking, if it was in it
            "$inc": {"version": 1},
        },
        session=tx.session,
    )


async def record_early_withdrawal(tx: Db, application_id: str) -> None:
    """A withdrawal that overtook its submission: remembered so the submission is not reviewed."""
    await tx.db.early_withdrawals.update_one(
        {"_id": application_id}, {"$setOnInsert": {"_id": application_id}}, upsert=True, session=tx.session
    )


@dataclass(frozen=True)
class SubmissionMeets:
    """What a submission arriving meets (``what_a_submission_meets``)."""

    programme: Programme | None
    #: The application already kept under its record id (a repeat).
    kept: Application | None
    withdrawn_early: bool
    #: The panel members who declared a conflict with the applicant organisation.
    conflicted: set[str]
    #: The courses each panel member has completed (none: not a key).
    completed_courses: dict[str, set[Course]]


async def what_a_submission_meets(tx: Db, programme_id: str, record_id: str, organisation_id: str) -> SubmissionMeets:
    """For a submission arriving, in one round trip: its programme, a repeat, an early withdrawal, and
    what choosing its reviewers needs but the panel's loads (conflicts with the organisation, the
    panel's training). Not the loads: joined by reviewer, every review the panel ever had would be
    read, more with each programme (``open_review_loads`` reads only the open ones, on an index)."""
    found = await read_together(
        tx, {"programme": programme_id, "record": record_id, "organisation": organisation_id},
        Joined("programme", "programmes", "programme"), Joined("kept", "applications", "record"),
        Joined("withdrawal", "early_withdrawals", "record"),
        # By the panel's ids (an array: every member's records, a few courses each).
        Joined("trained", "training_records", "programme.panel", "member_id", many=True,
               only=("member_id", "course")),
        Joined("conflicts", "conflicts", "organisation", "organisation_id", many=True,
               where={"status": ConflictStatus.DECLARED}, only=("reviewer_id",)),
    )  # fmt: skip
    programme = Programme.maybe(found["programme"])
    panel = set(programme.panel) if programme else set()
    completed: dict[str, set[Course]] = {}
    for record in found["trained"] or []:
        completed.setdefault(record["member_id"], set()).add(Course(record["course"]))
    return SubmissionMeets(
        programme=programme, kept=Application.maybe(found["kept"]), withdrawn_early=found["withdrawal"] is not None,
        conflicted={doc["reviewer_id"] for doc in found["conflicts"] or []} & panel,
        completed_courses=completed,
    )  # fmt: skip


# --- reviews -------------------------------------------------------------------------------------


async def get_review(tx: Db, review_id: str) -> Review | None:
    return Review.maybe(await tx.db.reviews.find_one({"_id": review_id}, session=tx.session))


async def application_in_context(tx: Db, application_id: str) -> tuple[Application | None, Programme | None]:
    """The application and its programme, in one round trip."""
    found = await read_together(
        tx, application_id, Joined("application", "applications"),
        Joined("programme", "programmes", "application.programme_id"),
    )  # fmt: skip
    return Application.maybe(found["application"]), Programme.maybe(found["programme"])


#: A review, the application it reviews and the programme whose rubric it follows (``read_together``).
_REVIEW_IN_CONTEXT = (
    Joined("review", "reviews"), Joined("application", "applications", "review.application_id"),
    Joined("programme", "programmes", "review.programme_id"),
)


async def review_in_context(tx: Db, review_id: str) -> tuple[Review | None, Application | None, Programme | None]:
    """The review, the application it reviews and the programme whose rubric it follows, in one round trip."""
    found = await read_together(tx, review_id, *_REVIEW_IN_CONTEXT)
    return Review.maybe(found["review"]), Application.maybe(found["application"]), Programme.maybe(found["programme"])


async def review_to_submit(
    tx: Db, review_id: str
) -> tuple[Review | None, Application | None, Programme | None, list[Review]]:
    """As ``review_in_context``, with the application's completed reviews besides, in the same round
    trip (its few reviews are read and the completed kept). Not the reviewer's open reviews: joined
    by reviewer, every review they ever had would be read, more with each programme."""
    found = await read_together(
        tx, review_id, *_REVIEW_IN_CONTEXT,
        Joined("completed", "reviews", "review.application_id", "application_id", many=True,
               where={"status": ReviewStatus.COMPLETED}),
    )  # fmt: skip
    completed = sorted((Review.from_doc(doc) for doc in found["completed"] or []), key=lambda r: r.assigned_at)
    return (
        Review.maybe(found["review"]), Application.maybe(found["application"]), Programme.maybe(found["programme"]),
        completed,
    )  # fmt: skip


async def list_reviews_of_reviewer(
    tx: Db,
    reviewer_id: str,
    statuses: Iterable[ReviewStatus],
    hidden_organisations: Iterable[str],
    limit: int,
    offset: int,
) -> tuple[list[Review], int]:
    query = {
        "reviewer_id": reviewer_id,
        "status": {"$in": list(statuses)},
        "organisation_id": {"$nin": list(hidden_organisations)},
    }
    in_assignment_order = [("assigned_at", ASCENDING), ("_id", ASCENDING)]
    docs, total = await _page(tx, tx.db.reviews, query, limit, offset, in_assignment_order)
    return [Review.from_doc(d) for d in docs], total


async def reviews_of_application(tx: Db, application_id: str, statuses: Iterable[ReviewStatus]) -> list[Review]:
    query = {"application_id": application_id, "status": {"$in": list(statuses)}}
    cursor = tx.db.reviews.find(query, session=tx.session).sort("assigned_at", ASCENDING)
    return [Review.from_doc(d) async for d in cursor]


async def _open_reviews(tx: Db, query: dict[str, Any]) -> list[Review]:
    cursor = tx.db.reviews.find({**query, "status": {"$in": list(OPEN_REVIEW)}}, session=tx.session)
    return [Review.from_doc(d) async for d in cursor]


async def open_reviews_in_programme(tx: Db, programme_id: str, reviewer_ids: Iterable[str]) -> list[Review]:
    return await _open_reviews(tx, {"programme_id": programme_id, "reviewer_id": {"$in": list(reviewer_ids)}})


async def open_reviews_of_organisation(tx: Db, reviewer_id: str, organisation_id: str) -> list[Review]:
    return await _open_reviews(tx, {"reviewer_id": reviewer_id, "organisation_id": organisation_id})


async def insert_reviews(tx: Db, reviews: Iterable[Review]) -> None:
    await tx.db.reviews.insert_many([r.to_doc() for r in reviews], session=tx.session)


def insert_reviews_later(tx: Transaction, reviews: Iterable[Review]) -> None:
    """With the transaction's events (``insert_later``), for what nothing in it reads back: the
    reviewers' loads count open reviews, so only where no load is read after."""
    for review in reviews:
        tx.insert_later("reviews", review.to_doc())


async def save_scores(tx: Db, review: Review, scores: Mapping[str, CriterionScore]) -> bool:
    """Save the scores as a draft, if the review is still open and nobody changed it since it was read."""
    result = await tx.db.reviews.update_one(
        {"_id": review.id, "version": review.version, "status": {"$in": list(OPEN_REVIEW)}},
        {
            "$set": {"scores": {k: s.model_dump() for k, s in scores.items()}, "status": ReviewStatus.DRAFT},
            "$inc": {"version": 1},
        },
        session=tx.session,
    )
    return result.modified_count == 1


def complete_review_later(tx: Transaction, review_id: str, completed_at: datetime) -> None:
    """Written with the transaction's events (``update_later``), for a draft this transaction read."""
    tx.update_later(
        "reviews", {"_id": review_id, "status": ReviewStatus.DRAFT},
        {"$set": {"status": ReviewStatus.COMPLETED, "completed_at": completed_at}, "$inc": {"version": 1},
         "$unset": {watched: "" for watched in _REVIEW_WATCH}},
    )  # fmt: skip


async def _cancel_open_reviews(tx: Db, query: dict[str, Any], reason: str, at: datetime) -> int:
    result = await tx.db.reviews.update_many(
        {**query, "status": {"$in": list(OPEN_REVIEW)}},
        {
            "$set": {"status": ReviewStatus.CANCELLED, "cancelled_at": at, "cancel_reason": reason},
            "$inc": {"version": 1},
            "$unset": {watched: "" for watched in _REVIEW_WATCH},
        },
        session=tx.session,
    )
    return result.modified_count


async def cancel_review(tx: Db, review_id: str, reason: str, at: datetime) -> bool:
    """Cancel the review if it is still open; False if it was not."""
    return await _cancel_open_reviews(tx, {"_id": review_id}, reason, at) == 1


async def cancel_open_reviews_of_application(tx: Db, application_id: str, reason: str, at: datetime) -> None:
    await _cancel_open_reviews(tx, {"application_id": application_id}, reason, at)


async def open_review_loads(tx: Db, reviewer_ids: Iterable[str]) -> dict[str, int]:
    """How many open reviews each reviewer has, across every programme."""
    pipeline: list[dict[str, Any]] = [
        {"$match": {"reviewer_id": {"$in": list(reviewer_ids)}, "status": {"$in": list(OPEN_REVIEW)}}},
        {"$group": {"_id": "$reviewer_id", "open": {"$sum": 1}}},
    ]
    cursor = await tx.db.reviews.aggregate(pipeline, session=tx.session)
    return {d["_id"]: d["open"] async for d in cursor}


async def reviews_due(tx: Db, field: Literal["remind_at", "overdue_at"], now: datetime, limit: int) -> list[Review]:
    """Reviews whose reminder (``remind_at``) or overdue notice (``overdue_at``) is due, oldest first."""
    cursor = tx.db.reviews.find({field: {"$lte": now}}, session=tx.session).sort(field, ASCENDING)
    return [Review.from_doc(d) async for d in cursor.limit(limit)]


async def take_review_watch(tx: Db, review_id: str, field: Literal["remind_at", "overdue_at"], now: datetime) -> bool:
    """Clear the review's ``field`` if it is due; True for the one transaction that does (it sends).
    Once overdue, a reminder not sent yet is no longer worth sending: both go."""
    cleared = _REVIEW_WATCH if field == "overdue_at" else (field,)
    result = await tx.db.reviews.update_one(
        {"_id": review_id, field: {"$lte": now}}, {"$unset": {f: "" for f in cleared}}, session=tx.session
    )
    return result.modified_count == 1


# --- conflicts of interest -----------------------------------------------------------------------


async def get_conflict(tx: Db, conflict_id: str) -> ConflictOfInterest | None:
    return ConflictOfInterest.maybe(await tx.db.conflicts.find_one({"_id": conflict_id}, session=tx.session))


async def declared_conflict(tx: Db, reviewer_id: str, organisation_id: str) -> ConflictOfInterest | None:
    query = {"reviewer_id": reviewer_id, "organisation_id": organisation_id, "status": ConflictStatus.DECLARED}
    return ConflictOfInterest.maybe(await tx.db.conflicts.find_one(query, session=tx.session))


async def list_conflicts(
    tx: Db, reviewer_id: str | None, limit: int, offset: int
) -> tuple[list[ConflictOfInterest], int]:
    query = {"reviewer_id": reviewer_id} if reviewer_id else {}
    in_declaration_order = [("declared_at", ASCENDING), ("_id", ASCENDING)]
    docs, total = await _page(tx, tx.db.conflicts, query, limit, offset, in_declaration_order)
    return [ConflictOfInterest.from_doc(d) for d in docs], total


async def conflicted_organisations(tx: Db, reviewer_id: str) -> set[str]:
    query = {"reviewer_id": reviewer_id, "status": ConflictStatus.DECLARED}
    cursor = tx.db.conflicts.find(query, {"organisation_id": 1}, session=tx.session)
    return {d["organisation_id"] async for d in cursor}


async def conflicted_reviewers(tx: Db, organisation_id: str, reviewer_ids: Iterable[str]) -> set[str]:
    query = {
        "organisation_id": organisation_id,
        "reviewer_id": {"$in": list(reviewer_ids)},
        "status": ConflictStatus.DECLARED,
    }
    cursor = tx.db.conflicts.find(query, {"reviewer_id": 1}, session=tx.session)
    return {d["reviewer_id"] async for d in cursor}


async def insert_conflict(tx: Db, conflict: ConflictOfInterest) -> None:
    await tx.db.conflicts.insert_one(conflict.to_doc(), session=tx.session)


async def resolve_conflict(tx: Db, resolved: ConflictOfInterest, entry: ConflictEntry) -> bool:
    """Store the resolution of a conflict that is still declared, and log it."""
    result = await tx.db.conflicts.update_one(
        {"_id": resolved.id, "status": ConflictStatus.DECLARED},
        {"$set": {"status": resolved.status, "resolved_at": resolved.resolved_at, "resolved_by": resolved.resolved_by},
         "$push": {"history": entry.model_dump()}},
        session=tx.session,
    )
    return result.modified_count == 1


async def request_resolution(tx: Db, conflict_id: str, entry: ConflictEntry) -> bool:
    """Log a reviewer's request that a standing conflict be resolved (by a manager)."""
    result = await tx.db.conflicts.update_one(
        {"_id": conflict_id, "status": ConflictStatus.DECLARED},
        {"$set": {"resolution_requested_at": entry.at}, "$push": {"history": entry.model_dump()}},
        session=tx.session,
    )
    return result.modified_count == 1


# --- decision meetings ---------------------------------------------------------------------------
# ``meetings``: a decision meeting with its attendance and the rule it decides by (as the rule stood
# when it was called). ``meeting_items``: one per application it considers, with its recusals and, once
# closed, the decision. ``recommendations``: one per member and item, so members recording at the same
# moment write different documents.


class Recusal(Part):
    member_id: str
    reason: str
    at: datetime


class TallyRecord(Part):
    fund: int
    fund_different_amount: int
    do_not_fund: int
    abstain: int
    recused: int


class DissentRecord(Part):
    recommendation: Recommendation
    amount: Money | None = None
    reason: str = ""
    #: Only when the member agreed to be named.
    member_id: str | None = None


class ItemDecision(Part):
    outcome: Outcome
    amount_awarded: Money | None = None
    tally: TallyRecord
    dissent: list[DissentRecord] = []
    rationale: str
    feedback: str = ""
    decided_at: datetime
    closed_by: str


class DecisionMeeting(Document):
    programme_id: str
    held_on: date
    rule: DecisionRule
    attendance: list[str]
    application_ids: list[str]
    called_by: str
    called_at: datetime
    #: When the vote watcher reminds members present of the recommendations they have not recorded;
    #: cleared once it has (absent: nothing to send).
    vote_reminder_at: datetime | None = None
    version: int = 1

    def to_doc(self) -> dict[str, Any]:
        doc = super().to_doc()
        doc["held_on"] = self.held_on.isoformat()  # BSON has no date-only type
        # Absent rather than null, so the sparse index the vote watcher reads holds only what is to send.
        if doc.get("vote_reminder_at") is None:
            doc.pop("vote_reminder_at", None)
        return doc


class MeetingItem(Document):
    """One application a meeting considers (its id: ``<meeting id>:<application id>``)."""

    meeting_id: str
    programme_id: str
    application_id: str
    title: str
    organisation_id: str
    organisation_name: str
    amount_requested: Money
    status: ItemStatus = ItemStatus.OPEN
    recusals: list[Recusal] = []
    decision: ItemDecision | None = None
    version: int = 1

    @property
    def recused(self) -> set[str]:
        return {r.member_id for r in self.recusals}


class PanelRecommendation(Document):
    """A member's recommendation on one item (its id: ``<item id>:<member id>``); recorded again, it is replaced."""

    meeting_id: str
    application_id: str
    member_id: str
    recommendation: Recommendation
    amount: Money | None = None
    reason: str = ""
    may_be_named: bool = False
    recorded_at: datetime


def item_id(meeting_id: str, application_id: str) -> str:
    return f"{meeting_id}:{application_id}"


async def create_meeting_indexes(db: AsyncDatabase) -> None:
    await db.meetings.create_index([("programme_id", ASCENDING), ("held_on", ASCENDING)])
    await db.meetings.create_index("vote_reminder_at", sparse=True)  # vote reminders to send (the vote watcher)
    await db.meeting_items.create_index("meeting_id")
    # An application is on the agenda of at most one meeting at a time.
    await db.meeting_items.create_index(
        "application_id", unique=True, partialFilterExpression={"status": ItemStatus.OPEN}, name="one_open_item"
    )
    await db.recommendations.create_index([("meeting_id", ASCENDING), ("application_id", ASCENDING)])


async def set_decision_rule(tx: Db, programme: Programme, rule: DecisionRule) -> bool:
    """Give the programme this rule, if nobody changed the programme since ``programme`` was read."""
    result = await tx.db.programmes.update_one(
        {"_id": programme.id, "version": programme.version},
        {"$set": {"decision_rule": rule.model_dump()}, "$inc": {"version": 1}},
        session=tx.session,
    )
    return result.modified_count == 1


async def insert_meeting(tx: Db, meeting: DecisionMeeting, items: Iterable[MeetingItem]) -> None:
    await tx.db.meetings.insert_one(meeting.to_doc(), session=tx.session)
    await tx.db.meeting_items.insert_many([i.to_doc() for i in items], session=tx.session)


async def get_meeting(tx: Db, meeting_id: str) -> DecisionMeeting | None:
    return DecisionMeeting.maybe(await tx.db.meetings.find_one({"_id": meeting_id}, session=tx.session))


async def list_meetings(
    tx: Db, programme_id: str, member_id: str | None, limit: int, offset: int
) -> tuple[list[DecisionMeeting], int]:
    """The programme's meetings by date, or those whose panel ``member_id`` sits on."""
    query: dict[str, Any] = {"programme_id": programme_id}
    if member_id:
        query["rule.members.member_id"] = member_id
    docs, total = await _page(tx, tx.db.meetings, query, limit, offset, [("held_on", ASCENDING), ("_id", ASCENDING)])
    return [DecisionMeeting.from_doc(d) for d in docs], total


async def set_attendance(tx: Db, meeting: DecisionMeeting, attendance: list[str]) -> bool:
    result = await tx.db.meetings.update_one(
        {"_id": meeting.id, "version": meeting.version},
        {"$set": {"attendance": attendance}, "$inc": {"version": 1}},
        session=tx.session,
    )
    return result.modified_count == 1


async def meetings_due_vote_reminder(tx: Db, now: datetime, limit: int) -> list[DecisionMeeting]:
    """Meetings whose day has come and whose members have not been reminded yet, oldest first."""
    cursor = tx.db.meetings.find({"vote_reminder_at": {"$lte": now}}, session=tx.session)
    return [DecisionMeeting.from_doc(d) async for d in cursor.sort("vote_reminder_at", ASCENDING).limit(limit)]


async def take_vote_reminder(tx: Db, meeting_id: str, now: datetime) -> bool:
    """Clear the meeting's ``vote_reminder_at`` if it is due; True for the one transaction that does
    (it sends). The version stays: a manager's If-Match on attendance is not spoiled by the watcher."""
    result = await tx.db.meetings.update_one(
        {"_id": meeting_id, "vote_reminder_at": {"$lte": now}}, {"$unset": {"vote_reminder_at": ""}},
        session=tx.session,
    )
    return result.modified_count == 1


async def items_of_meeting(tx: Db, meeting_id: str) -> list[MeetingItem]:
    cursor = tx.db.meeting_items.find({"meeting_id": meeting_id}, session=tx.session)
    return [MeetingItem.from_doc(d) async for d in cursor]


async def get_item(tx: Db, meeting_id: str, application_id: str) -> MeetingItem | None:
    found = await tx.db.meeting_items.find_one({"_id": item_id(meeting_id, application_id)}, session=tx.session)
    return MeetingItem.maybe(found)


async def open_items_of_applications(tx: Db, application_ids: Iterable[str]) -> list[MeetingItem]:
    query = {"application_id": {"$in": list(application_ids)}, "status": ItemStatus.OPEN}
    return [MeetingItem.from_doc(d) async for d in tx.db.meeting_items.find(query, session=tx.session)]


async def open_items_of_organisation(tx: Db, organisation_id: str) -> list[MeetingItem]:
    query = {"organisation_id": organisation_id, "status": ItemStatus.OPEN}
    return [MeetingItem.from_doc(d) async for d in tx.db.meeting_items.find(query, session=tx.session)]


async def add_recusals(tx: Db, item: MeetingItem, recusals: list[Recusal]) -> None:
    await tx.db.meeting_items.update_one(
        {"_id": item.id},
        {"$push": {"recusals": {"$each": [r.model_dump() for r in recusals]}}, "$inc": {"version": 1}},
        session=tx.session,
    )


async def record_recommendation(tx: Db, recommendation: PanelRecommendation) -> None:
    await tx.db.recommendations.replace_one(
        {"_id": recommendation.id}, recommendation.to_doc(), upsert=True, session=tx.session
    )


async def recommendations_of_meeting(tx: Db, meeting_id: str) -> list[PanelRecommendation]:
    cursor = tx.db.recommendations.find({"meeting_id": meeting_id}, session=tx.session)
    return [PanelRecommendation.from_doc(d) async for d in cursor]


async def recommendations_of_item(tx: Db, meeting_id: str, application_id: str) -> list[PanelRecommendation]:
    query = {"meeting_id": meeting_id, "application_id": application_id}
    return [PanelRecommendation.from_doc(d) async for d in tx.db.recommendations.find(query, session=tx.session)]


async def close_item(tx: Db, item: MeetingItem, decision: ItemDecision) -> bool:
    """Record the decision of an item still open; False if it was closed meanwhile."""
    result = await tx.db.meeting_items.update_one(
        {"_id": item.id, "status": ItemStatus.OPEN},
        {"$set": {"status": ItemStatus.DECIDED, "decision": decision.model_dump()}, "$inc": {"version": 1}},
        session=tx.session,
    )
    return result.modified_count == 1


def drop_open_items_later(tx: Transaction, application_id: str) -> None:
    """An application withdrawn (or decided by delegation) leaves any agenda it is on, with the
    transaction's events (``update_later``): nothing that follows reads the agenda."""
    tx.update_later(
        "meeting_items", {"application_id": application_id, "status": ItemStatus.OPEN},
        {"$set": {"status": ItemStatus.DROPPED}, "$inc": {"version": 1}}, many=True,
    )  # fmt: skip


# --- panel members supported: profiles and training records ----------------------------------------
# ``member_profiles`` (one per member, _id their subject id) and ``training_records`` (one per course
# a manager recorded as completed). Both are personal data (PERSONAL_DATA above).


class MemberProfile(Document):
    """What a panel member tells the programme about themself: shown only to them and to managers."""

    preferred_name: str | None = None
    email: str | None = None
    phone: str | None = None
    access_needs: list[AccessNeed] = []
    #: Access needs in the member's own words.
    access_notes: str | None = None
    updated_at: datetime | None = None
    #: 1 for the empty profile of a member who has not saved one yet; each save adds one.
    version: int = 1


class TrainingRecord(Document):
    member_id: str
    course: Course
    completed_on: date
    recorded_by: str
    recorded_at: datetime

    def to_doc(self) -> dict[str, Any]:
        doc = super().to_doc()
        doc["completed_on"] = self.completed_on.isoformat()  # BSON has no date-only type
        return doc


async def create_member_indexes(db: AsyncDatabase) -> None:
    await db.training_records.create_index([("member_id", ASCENDING), ("completed_on", ASCENDING)])


async def get_profile(tx: Db, member_id: str) -> MemberProfile | None:
    return MemberProfile.maybe(await tx.db.member_profiles.find_one({"_id": member_id}, session=tx.session))


async def profiles_of(tx: Db, member_ids: Iterable[str]) -> dict[str, MemberProfile]:
    cursor = tx.db.member_profiles.find({"_id": {"$in": list(member_ids)}}, session=tx.session)
    return {d["_id"]: MemberProfile.from_doc(d) async for d in cursor}


async def save_profile(tx: Db, profile: MemberProfile, read_version: int, exists: bool) -> bool:
    """Write the profile if nobody changed it since ``read_version`` (or created it, if it did not exist)."""
    if not exists:
        if await tx.db.member_profiles.find_one({"_id": profile.id}, {"_id": 1}, session=tx.session):
            return False
        await tx.db.member_profiles.insert_one(profile.to_doc(), session=tx.session)
        return True
    replaced = await tx.db.member_profiles.replace_one(
        {"_id": profile.id, "version": read_version}, profile.to_doc(), session=tx.session
    )
    return replaced.matched_count == 1


async def insert_training(tx: Db, record: TrainingRecord) -> None:
    await tx.db.training_records.insert_one(record.to_doc(), session=tx.session)


async def training_of(tx: Db, member_ids: Iterable[str]) -> dict[str, list[TrainingRecord]]:
    """Each member's completed courses, oldest first."""
    ids = list(dict.fromkeys(member_ids))
    found: dict[str, list[TrainingRecord]] = {m: [] for m in ids}
    if not ids:
        return found
    cursor = tx.db.training_records.find({"member_id": {"$in": ids}}, session=tx.session).sort(
        [("member_id", ASCENDING), ("completed_on", ASCENDING)]
    )
    async for doc in cursor:
        record = TrainingRecord.from_doc(doc)
        found[record.member_id].append(record)
    return found


async def completed_courses(tx: Db, member_ids: Iterable[str]) -> dict[str, set[Course]]:
    return {m: {r.course for r in records} for m, records in (await training_of(tx, member_ids)).items()}


async def set_required_courses(tx: Db, programme: Programme, courses: list[Course]) -> bool:
    result = await tx.db.programmes.update_one(
        {"_id": programme.id, "version": programme.version},
        {"$set": {"required_courses": [str(c) for c in courses]}, "$inc": {"version": 1}},
        session=tx.session,
    )
    return result.modified_count == 1
# --- involvement payments to panel members -------------------------------------------------------
# ``involvement_policies`` (one per programme, ``_id`` = programme id), ``time_entries`` (one per
# meeting attended or review completed: a unique index on what it is for and whom, so an entry is
# recorded once however often attendance is saved), ``involvement_claims`` (time or an expense).


#: BSON has no date-only type: a day is stored as its ISO text (which sorts as the day does).
IsoDate = Annotated[date, PlainSerializer(lambda day: day.isoformat(), return_type=str)]


class InvolvementPolicy(Document):
    """What a programme pays its panel members for their involvement: ``rate`` per ``unit``; for an
    hourly rate ``meeting`` and ``review`` are minutes, for a rate per session they are sessions."""

    unit: RateUnit
    rate: Money
    meeting: Annotated[int, Field(ge=0)]
    review: Annotated[int, Field(ge=0)]
    expenses_allowed: bool = False
    expense_categories: list[ExpenseCategory] = []
    set_by: str
    set_at: datetime
    version: int = 1

    def involvement(self) -> Involvement:
        return Involvement(self.unit, self.rate, self.meeting, self.review)


class TimeEntry(Document):
    programme_id: str
    member_id: str
    kind: TimeEntryKind
    #: What it is for: ``meeting:<id>`` or ``review:<id>`` (unique with the member).
    source: str
    title: str
    on: IsoDate
    recorded_at: datetime
    #: The claim it is part of (None until claimed; None again if that claim was rejected).
    claim_id: str | None = None


class ClaimLine(Part):
    entry_id: str
    kind: TimeEntryKind
    title: str
    on: IsoDate
    quantity: str
    amount: Money


class InvolvementClaim(Document):
    programme_id: str
    member_id: str
    kind: ClaimKind
    status: ClaimStatus
    amount: Money
    #: A time claim: each entry as valued when it was claimed.
    lines: list[ClaimLine] = []
    #: An expense claim: what, when and the member's note (a receipt is not required).
    category: ExpenseCategory | None = None
    incurred_on: IsoDate | None = None
    note: str = ""
    submitted_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str = ""
    version: int = 1


async def create_involvement_indexes(db: AsyncDatabase) -> None:
    await db.time_entries.create_index([("source", ASCENDING), ("member_id", ASCENDING)], unique=True)
    await db.time_entries.create_index([("member_id", ASCENDING), ("programme_id", ASCENDING), ("on", ASCENDING)])
    await db.time_entries.create_index("claim_id")
    await db.involvement_claims.create_index([("member_id", ASCENDING), ("submitted_at", ASCENDING)])
    await db.involvement_claims.create_index(
        [("programme_id", ASCENDING), ("status", ASCENDING), ("submitted_at", ASCENDING)]
    )


async def get_involvement_policy(tx: Db, programme_id: str) -> InvolvementPolicy | None:
    return InvolvementPolicy.maybe(await tx.db.involvement_policies.find_one({"_id": programme_id}, session=tx.session))


async def save_involvement_policy(tx: Db, policy: InvolvementPolicy, read_version: int | None) -> bool:
    """Insert the first policy, or replace the one read (its version); False if it changed meanwhile."""
    if read_version is None:
        result = await tx.db.involvement_policies.update_one(
            {"_id": policy.id}, {"$setOnInsert": policy.to_doc()}, upsert=True, session=tx.session
        )
        return result.upserted_id is not None
    replaced = await tx.db.involvement_policies.replace_one(
        {"_id": policy.id, "version": read_version}, policy.to_doc(), session=tx.session
    )
    return replaced.modified_count == 1


def _unless_recorded(entry: TimeEntry) -> tuple[dict[str, Any], dict[str, Any]]:
    """The upsert that records ``entry`` unless one for the same thing and member exists."""
    return {"source": entry.source, "member_id": entry.member_id}, {"$setOnInsert": entry.to_doc()}


def record_time_entry_later(tx: Transaction, entry: TimeEntry) -> None:
    """As :func:`record_time_entry`, with the transaction's events (``update_later``)."""
    tx.update_later("time_entries", *_unless_recorded(entry), upsert=True)


async def record_time_entry(tx: Db, entry: TimeEntry) -> bool:
    """Record the entry unless one for the same thing and member exists; True if it is new."""
    result = await tx.db.time_entries.update_one(*_unless_recorded(entry), upsert=True, session=tx.session)
    return result.upserted_id is not None


async def drop_unclaimed_time(tx: Db, source: str, member_ids: list[str]) -> int:
    """Members no longer recorded as present lose the meeting's entry, unless it was claimed."""
    if not member_ids:
        return 0
    result = await tx.db.time_entries.delete_many(
        {"source": source, "member_id": {"$in": member_ids}, "claim_id": None}, session=tx.session
    )
    return result.deleted_count


async def time_entries_of(tx: Db, member_id: str, programme_id: str | None) -> list[TimeEntry]:
    query: dict[str, Any] = {"member_id": member_id}
    if programme_id:
        query["programme_id"] = programme_id
    cursor = tx.db.time_entries.find(query, session=tx.session).sort([("on", ASCENDING), ("_id", ASCENDING)])
    return [TimeEntry.from_doc(d) async for d in cursor.limit(1_000)]


async def claim_time_entries(tx: Db, entry_ids: list[str], claim_id: str) -> int:
    """Put unclaimed entries on a claim; how many it took (fewer: another claim took some first)."""
    result = await tx.db.time_entries.update_many(
        {"_id": {"$in": entry_ids}, "claim_id": None}, {"$set": {"claim_id": claim_id}}, session=tx.session
    )
    return result.modified_count


async def free_time_entries(tx: Db, claim_id: str) -> None:
    await tx.db.time_entries.update_many({"claim_id": claim_id}, {"$set": {"claim_id": None}}, session=tx.session)


async def insert_claim(tx: Db, claim: InvolvementClaim) -> None:
    await tx.db.involvement_claims.insert_one(claim.to_doc(), session=tx.session)


async def get_claim(tx: Db, claim_id: str) -> InvolvementClaim | None:
    return InvolvementClaim.maybe(await tx.db.involvement_claims.find_one({"_id": claim_id}, session=tx.session))


async def decide_claim(tx: Db, claim: InvolvementClaim, fields: Mapping[str, Any]) -> bool:
    """Approve or reject a submitted claim as it was read; False if it changed meanwhile."""
    result = await tx.db.involvement_claims.update_one(
        {"_id": claim.id, "version": claim.version, "status": ClaimStatus.SUBMITTED},
        {"$set": dict(fields), "$inc": {"version": 1}}, session=tx.session,
    )  # fmt: skip
    return result.modified_count == 1


async def claims_of_member(tx: Db, member_id: str, limit: int, offset: int) -> tuple[list[InvolvementClaim], int]:
    docs, total = await _page(
        tx, tx.db.involvement_claims, {"member_id": member_id}, limit, offset, [("submitted_at", ASCENDING)]
    )
    return [InvolvementClaim.from_doc(d) for d in docs], total


async def claims_of_programme(
    tx: Db, programme_id: str, status: ClaimStatus | None, limit: int, offset: int
) -> tuple[list[InvolvementClaim], int]:
    query: dict[str, Any] = {"programme_id": programme_id}
    if status:
        query["status"] = status
    docs, total = await _page(tx, tx.db.involvement_claims, query, limit, offset, [("submitted_at", ASCENDING)])
    return [InvolvementClaim.from_doc(d) for d in docs], total
