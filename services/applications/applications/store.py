"""The applications database: its documents, indexes and every query on it.

- ``programmes``: funding rounds.
- ``organisations``: applicant profiles, keyed by the organisation id the identity provider issues.
- ``applications``: applications with their timeline and what downstream services told us.
- ``active_submissions``: one document per (programme, organisation) with an application under
  consideration; its unique ``_id`` stops two concurrent submissions from both getting through.
- ``forms``: every version of each programme's form, never changed once written (an application
  answers the version it started on).
- ``attachments.files`` / ``attachments.chunks``: the files applications attach (GridFS), each with
  its application and question in its metadata.

Every function takes ``tx``: the transaction it runs in, or the service's database for a plain read.
Replacements are conditional on the ``version`` that was read, so a stale or concurrent change never
overwrites another.
"""

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from bson import ObjectId
from gridfs.asynchronous import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from pydantic import ConfigDict, Field

from applications import domain
from applications.domain import (
    ApplicationStatus,
    Stage,
    ContactDetails,
    OrganisationProfile,
    ProgrammeStatus,
    ProgrammeTerms,
    Progress,
    total_paid,
)
from grants_shared.clock import utcnow
from grants_shared.documents import Document, Joined, Part, read_together
from grants_shared.events import Id, OrganisationSummary, Reason
from grants_shared.forms import FormDefinition
from grants_shared.money import Money
from grants_shared.paging import After, offset_page, window_page
from grants_shared.privacy import ERASED_EMAIL, ERASED_NAME, PERSON, PSEUDONYM, PersonalData
from grants_shared.unit_of_work import Db, Transaction

_STORED = ConfigDict(extra="ignore", populate_by_name=True)


# --- documents -----------------------------------------------------------------------------------


class Programme(Document, ProgrammeTerms):
    model_config = _STORED

    id: Id = Field(alias="_id")
    status: ProgrammeStatus
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    #: The version of the form new applications answer (0: the programme asks no questions of its own).
    form_version: int = 0
    #: The same for the expression of interest, where the programme has that stage.
    interest_form_version: int = 0
    #: A budget decrease waiting for disbursement's answer: no other change is taken meanwhile.
    pending_change_id: str | None = None

    def form_version_of(self, stage: Stage) -> int:
        return self.interest_form_version if stage is Stage.EXPRESSION_OF_INTEREST else self.form_version

    def stage_dates(self, stage: Stage) -> tuple[datetime, datetime]:
        """When the stage takes submissions: the expression of interest has its own dates."""
        if stage is Stage.EXPRESSION_OF_INTEREST and self.expression_of_interest is not None:
            return self.expression_of_interest.opens_at, self.expression_of_interest.closes_at
        return self.opens_at, self.closes_at

    def terms(self) -> ProgrammeTerms:
        return ProgrammeTerms.model_validate(self.model_dump(include=set(ProgrammeTerms.model_fields)))


class Organisation(Document, OrganisationProfile):
    model_config = _STORED

    id: Id = Field(alias="_id")
    version: int
    created_at: datetime
    updated_at: datetime
    updated_by: str

    def summary(self) -> OrganisationSummary:
        return OrganisationSummary(id=self.id, name=self.name, kind=self.kind, area=self.area)


class ProgrammeForm(Document):
    """One version of a programme's form for one stage. ``_id`` is ``<programme id>|<version>`` for
    the full application, ``<programme id>|expression_of_interest|<version>`` for the first stage."""

    programme_id: str
    stage: Stage = Stage.FULL
    version: int
    definition: FormDefinition
    created_by: str
    created_at: datetime


def form_key(programme_id: str, version: int, stage: Stage = Stage.FULL) -> str:
    return f"{programme_id}|{version}" if stage is Stage.FULL else f"{programme_id}|{stage}|{version}"


class TimelineEntry(Part):
    """One thing that happened to an application, in the applicant's words."""

    id: str = Field(description="The event that caused it, so an event is recorded once")
    at: datetime
    kind: str
    words: str


class Score(Part):
    weighted_score: float
    criterion_means: dict[str, float]
    reviewer_count: int
    needs_moderation: bool
    scored_at: datetime


class Decision(Part):
    outcome: Literal["awarded", "declined"]
    amount_awarded: Money | None = None
    feedback: str = ""
    decided_at: datetime


class GrantRecord(Part):
    grant_id: str
    amount: Money | None = None
    instalments: int | None = None
    offered_at: datetime | None = None
    accepted_at: datetime | None = None


class PaymentRecord(Part):
    payment_id: str
    amount: Money
    provider_reference: str
    sent_at: datetime


class Assistance(Part):
    """An application a programme manager started on a group's behalf, and the group's consent to it.
    The consent names the person in the group who gave it (personal: removed with the application's
    other personal data when its retention period ends)."""

    assisted_by: str
    consent_given_by: str
    consent_method: domain.ConsentMethod
    consent_given_at: datetime
    recorded_at: datetime
    #: When the group's own people took it over; from then it is theirs alone, as any other.
    taken_over_at: datetime | None = None
    taken_over_by: str | None = None

    @property
    def active(self) -> bool:
        """The programme team may still act for the group."""
        return self.taken_over_at is None


class Application(Document):
    """An application, with what downstream services told us about it."""

    programme_id: str
    organisation_id: str
    title: str
    summary: str
    amount_requested: Money
    contact: ContactDetails
    status: ApplicationStatus
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None = None
    submitted_by: str | None = None
    organisation: OrganisationSummary | None = Field(default=None, description="As it was when submitted")
    ineligible_reasons: list[Reason] = []
    withdrawn_at: datetime | None = None
    withdrawal_reason: str | None = None
    score: Score | None = None
    decision: Decision | None = None
    grant: GrantRecord | None = None
    payments: list[PaymentRecord] = []
    timeline: list[TimelineEntry] = []
    stage: Stage = Stage.FULL
    #: The form version this application answers at its stage, pinned when the stage began (0: no form).
    form_version: int = 0
    #: The expression of interest as it was sent (an invited application's earlier answers).
    interest_answers: dict[str, Any] = {}
    invited_at: datetime | None = None
    interest_feedback: str | None = None
    #: Question id -> answer (see grants_shared.forms); a draft holds partial answers.
    answers: dict[str, Any] = {}
    #: When what it says about people was removed, its programme's retention period having ended.
    anonymised_at: datetime | None = None
    #: Started by the programme team on the group's behalf (None: by the group itself).
    assistance: Assistance | None = None
    #: The reviewers' score of its expression of interest, where that stage is scored (for shortlisting).
    interest_score: Score | None = None

    def to_doc(self) -> dict[str, Any]:
        doc = super().to_doc()
        # Which retention rule applies and since when, kept with every save so that the retention
        # worker finds applications whose time is up from one index.
        clock = None if self.anonymised_at else domain.retention_clock(
            self.status, self.submitted_at, self.withdrawn_at, self.decision.decided_at if self.decision else None
        )  # fmt: skip
        doc["retention"] = {"rule": clock[0], "since": clock[1]} if clock else None
        # The words of its title and group's name, for the managers' search (one multikey index).
        doc["search_words"] = domain.search_words(self.title, self.organisation.name if self.organisation else None)
        return doc

    @property
    def award(self) -> Money | None:
        """What the organisation is to be paid: the grant offered, else the amount the panel awarded."""
        if self.grant and self.grant.amount:
            return self.grant.amount
        return self.decision.amount_awarded if self.decision else None

    @property
    def paid(self) -> Money | None:
        return total_paid(p.amount for p in self.payments)

    def progress(self) -> Progress:
        return Progress(
            scored=self.score is not None,
            outcome=self.decision.outcome if self.decision else None,
            award=self.award,
            offered=bool(self.grant and self.grant.offered_at),
            accepted=bool(self.grant and self.grant.accepted_at),
            paid=self.paid,
        )

    def has_entry(self, entry_id: str) -> bool:
        return any(e.id == entry_id for e in self.timeline)


class ProgrammeChange(Document):
    """One change to an open programme, as asked and as it ended: the history of its terms after
    opening (``GET /v1/programmes/{id}/changes``). ``before`` and ``after`` hold the changed fields only."""

    programme_id: str
    status: domain.ChangeStatus
    before: dict[str, Any]
    after: dict[str, Any]
    note: str = ""
    requested_by: str
    requested_at: datetime
    settled_at: datetime | None = None
    #: Why disbursement refused a budget decrease.
    refusal: str | None = None


class ErasureRequest(Document):
    """An erasure asked for on a person's behalf. Keeps no trace of who: only a digest of their id,
    which answers "was this person erased?" for someone who already knows the id."""

    person_digest: str
    reason: str
    requested_by: str
    requested_at: datetime


# --- what this service holds about people (grants_shared.privacy) --------------------------------

PERSONAL_DATA = (
    PersonalData("applications", "created_by", {
        "contact.name": ERASED_NAME, "contact.email": ERASED_EMAIL, "created_by": PSEUDONYM,
    }, where={"assistance": None}, about="Applications you started, with the contact details you gave for them"),  # fmt: skip
    # An assisted application's contact is the group's person, not the manager who started it: erasing
    # the manager leaves the group's contact alone.
    PersonalData("applications", "created_by", {"created_by": PSEUDONYM}, where={"assistance": {"$ne": None}},
                 about="Applications you started on a group's behalf"),  # fmt: skip
    PersonalData("applications", "assistance.assisted_by", {"assistance.assisted_by": PSEUDONYM},
                 about="Applications you helped a group with"),  # fmt: skip
    PersonalData("applications", "assistance.taken_over_by", {"assistance.taken_over_by": PSEUDONYM},
                 about="Assisted applications you took over for your group"),  # fmt: skip
    PersonalData("applications", "submitted_by", {"submitted_by": PSEUDONYM}, about="Applications you submitted"),
    PersonalData("organisations", "updated_by", {"updated_by": PSEUDONYM},
                 about="Organisation profiles you were the last to change"),  # fmt: skip
    PersonalData("programmes", "created_by", {"created_by": PSEUDONYM}, about="Funding programmes you created"),
    PersonalData("programme_changes", "requested_by", {"requested_by": PSEUDONYM},
                 about="Changes you made to open programmes"),  # fmt: skip
    PersonalData("programmes", "panel", {"panel.$[member]": PSEUDONYM}, array_filters=[{"member": PERSON}],
                 about="Panels you were proposed for"),  # fmt: skip
)


async def create_indexes(db: AsyncDatabase) -> None:
    await db["attachments.files"].create_index("metadata.application_id")  # its files, when its time is up
    await db.applications.create_index(
        [("programme_id", ASCENDING), ("retention.rule", ASCENDING), ("retention.since", ASCENDING)], name="retention"
    )
    await db.programmes.create_index([("status", ASCENDING), ("created_at", DESCENDING)])
    await db.programmes.create_index([("status", ASCENDING), ("closes_at", ASCENDING)])
    await db.applications.create_index([("organisation_id", ASCENDING), ("created_at", DESCENDING)])
    await db.applications.create_index([("programme_id", ASCENDING), ("status", ASCENDING)])
    await db.applications.create_index([("status", ASCENDING), ("created_at", DESCENDING)])
    await db["attachments.files"].create_index([("metadata.application_id", ASCENDING)])
    # The managers' search: a programme's applications newest first, by a word, by status or by stage
    # (each filter's equality fields, then the sort); area and amount narrow what those find.
    await db.applications.create_index([("programme_id", ASCENDING), ("created_at", DESCENDING), ("_id", ASCENDING)])
    await db.applications.create_index(
        [("programme_id", ASCENDING), ("search_words", ASCENDING), ("created_at", DESCENDING)], name="search_words"
    )
    await db.applications.create_index(
        [("programme_id", ASCENDING), ("status", ASCENDING), ("created_at", DESCENDING)]
    )
    await db.applications.create_index([("programme_id", ASCENDING), ("stage", ASCENDING), ("created_at", DESCENDING)])
    await db.applications.create_index(
        [("programme_id", ASCENDING), ("organisation.area", ASCENDING), ("created_at", DESCENDING)]
    )
    await db.applications.create_index([("programme_id", ASCENDING), ("amount_requested.amount", ASCENDING)])
    await db.applications.create_index(  # words with an amount range, smallest amount first
        [("programme_id", ASCENDING), ("search_words", ASCENDING), ("amount_requested.amount", ASCENDING)]
    )
    await db.equality_monitoring.create_index([("programme_id", ASCENDING)])
    # A programme's history of changes, newest first.
    await db.programme_changes.create_index([("programme_id", ASCENDING), ("requested_at", DESCENDING)])


# --- every stored document, read by id and replaced only if nobody changed it meanwhile ----------


async def _replace(collection: AsyncCollection, document: Document, read_version: int, tx: Db) -> bool:
    """Store ``document`` if nobody changed it since ``read_version`` was read."""
    current = {"_id": document.id, "version": read_version}
    result = await collection.replace_one(current, document.to_doc(), session=tx.session)
    return result.modified_count == 1


async def _page(collection: AsyncCollection, query: dict[str, Any], limit: int, offset: int,
                sort: list[tuple[str, int]], projection: dict[str, int] | None = None) -> tuple[list[Any], int]:
    return await offset_page(collection, query, sort, limit, offset, projection=projection)


# --- programmes ----------------------------------------------------------------------------------


async def get_programme(tx: Db, programme_id: str) -> Programme | None:
    return Programme.maybe(await tx.db.programmes.find_one({"_id": programme_id}, session=tx.session))


async def list_programmes(
    tx: Db, statuses: Iterable[ProgrammeStatus], limit: int, offset: int
) -> tuple[list[Programme], int]:
    query = {"status": {"$in": list(statuses)}}
    docs, total = await _page(tx.db.programmes, query, limit, offset, [("created_at", DESCENDING), ("_id", ASCENDING)])
    return [Programme.from_doc(d) for d in docs], total


async def programmes_due_to_close(tx: Db, now: datetime, limit: int = 100) -> list[str]:
    query = {"status": ProgrammeStatus.OPEN, "closes_at": {"$lte": now}}
    cursor = tx.db.programmes.find(query, {"_id": 1}, session=tx.session).limit(limit)
    return [doc["_id"] async for doc in cursor]


async def insert_programme(tx: Db, programme: Programme) -> None:
    await tx.db.programmes.insert_one(programme.to_doc(), session=tx.session)


async def replace_programme(tx: Db, programme: Programme, read_version: int) -> bool:
    return await _replace(tx.db.programmes, programme, read_version, tx)


# --- changes to open programmes ------------------------------------------------------------------


async def insert_programme_change(tx: Db, change: ProgrammeChange) -> None:
    await tx.db.programme_changes.insert_one(change.to_doc(), session=tx.session)


async def get_programme_change(tx: Db, change_id: str) -> ProgrammeChange | None:
    return ProgrammeChange.maybe(await tx.db.programme_changes.find_one({"_id": change_id}, session=tx.session))


async def settle_programme_change(tx: Db, change: ProgrammeChange) -> bool:
    """Record how a pending change ended, once: False if it had ended already."""
    result = await tx.db.programme_changes.replace_one(
        {"_id": change.id, "status": domain.ChangeStatus.PENDING}, change.to_doc(), session=tx.session
    )
    return result.modified_count == 1


async def programme_changes(tx: Db, programme_id: str, limit: int, offset: int) -> tuple[list[ProgrammeChange], int]:
    docs, total = await _page(tx.db.programme_changes, {"programme_id": programme_id}, limit, offset,
                              [("requested_at", DESCENDING)])  # fmt: skip
    return [ProgrammeChange.from_doc(d) for d in docs], total


# --- forms ---------------------------------------------------------------------------------------


async def get_form(tx: Db, programme_id: str, version: int, stage: Stage = Stage.FULL) -> ProgrammeForm | None:
    doc = await tx.db.forms.find_one({"_id": form_key(programme_id, version, stage)}, session=tx.session)
    return ProgrammeForm.maybe(doc)


async def insert_form(tx: Db, form: ProgrammeForm) -> None:
    """Raises DuplicateKeyError if this version exists: versions are written once."""
    await tx.db.forms.insert_one(form.to_doc(), session=tx.session)


# --- attachments (GridFS) ------------------------------------------------------------------------


def _attachments(tx: Db) -> AsyncGridFSBucket:
    return AsyncGridFSBucket(tx.db, bucket_name="attachments")


async def store_attachment(
    tx: Db, application_id: str, question_id: str, filename: str, content_type: str, content: bytes
) -> str:
    metadata = {"application_id": application_id, "question_id": question_id, "content_type": content_type}
    file_id = await _attachments(tx).upload_from_stream(filename, content, metadata=metadata, session=tx.session)
    return str(file_id)


async def read_attachment(tx: Db, attachment_id: str) -> bytes | None:
    try:
        stream = await _attachments(tx).open_download_stream(ObjectId(attachment_id), session=tx.session)
    except NoFile:
        return None
    return await stream.read()


async def delete_attachment(tx: Db, attachment_id: str) -> None:
    try:
        await _attachments(tx).delete(ObjectId(attachment_id), session=tx.session)
    except NoFile:
        pass  # already gone: deleting is what was wanted


async def delete_attachments_of(tx: Db, application_id: str) -> int:
    """Every file the application attached (its retention period has ended)."""
    bucket = _attachments(tx)
    ids = [doc["_id"] async for doc in tx.db["attachments.files"].find(
        {"metadata.application_id": application_id}, {"_id": 1}, session=tx.session)]  # fmt: skip
    for file_id in ids:
        try:
            await bucket.delete(file_id, session=tx.session)
        except NoFile:
            pass
    return len(ids)


# --- organisations -------------------------------------------------------------------------------


async def get_organisation(tx: Db, organisation_id: str) -> Organisation | None:
    return Organisation.maybe(await tx.db.organisations.find_one({"_id": organisation_id}, session=tx.session))


async def get_organisations(tx: Db, organisation_ids: Iterable[str]) -> dict[str, Organisation]:
    cursor = tx.db.organisations.find({"_id": {"$in": sorted(set(organisation_ids))}}, session=tx.session)
    return {doc["_id"]: Organisation.from_doc(doc) async for doc in cursor}


async def insert_organisation(tx: Db, organisation: Organisation) -> None:
    await tx.db.organisations.insert_one(organisation.to_doc(), session=tx.session)


async def insert_organisation_if_new(tx: Db, organisation: Organisation) -> bool:
    """False if the organisation has a profile already."""
    try:
        await insert_organisation(tx, organisation)
    except DuplicateKeyError:
        return False
    return True


async def update_organisation(
    tx: Db, described: Organisation, read_version: int, fields: Iterable[str]
) -> Organisation | None:
    """Set these ``fields`` of the profile to those of ``described`` (and its version one on), if it is
    still at the version read; the profile as updated, or None."""
    doc = described.to_doc()
    found = await tx.db.organisations.find_one_and_update(
        {"_id": described.id, "version": read_version},
        {"$set": {name: doc[name] for name in fields}, "$inc": {"version": 1}},
        return_document=ReturnDocument.AFTER, session=tx.session,
    )  # fmt: skip
    return Organisation.maybe(found)


# --- applications --------------------------------------------------------------------------------


async def get_application(tx: Db, application_id: str) -> Application | None:
    return Application.maybe(await tx.db.applications.find_one({"_id": application_id}, session=tx.session))


async def organisation_and_programme(
    tx: Db, organisation_id: str, programme_id: str
) -> tuple[Organisation | None, Programme | None]:
    """An organisation and a programme, in one round trip."""
    found = await read_together(
        tx, {"organisation": organisation_id, "programme": programme_id},
        Joined("organisation", "organisations", "organisation"), Joined("programme", "programmes", "programme"),
    )  # fmt: skip
    return Organisation.maybe(found["organisation"]), Programme.maybe(found["programme"])


async def application_in_context(
    tx: Db, application_id: str
) -> tuple[Application | None, Programme | None, Organisation | None, str | None]:
    """The application, its programme, the organisation applying and the id of the organisation's
    application to the programme under consideration (``active_submission``), in one round trip."""
    found = await read_together(
        tx, application_id, Joined("application", "applications"),
        Joined("programme", "programmes", "application.programme_id"),
        Joined("organisation", "organisations", "application.organisation_id"),
        # Keyed as _submission_key makes the key.
        Joined("active", "active_submissions", ("application.programme_id", "application.organisation_id"),
               separator=SUBMISSION_KEY_SEPARATOR),
    )  # fmt: skip
    active = found["active"]
    return (
        Application.maybe(found["application"]), Programme.maybe(found["programme"]),
        Organisation.maybe(found["organisation"]), active["application_id"] if active else None,
    )  # fmt: skip


async def list_applications(
    tx: Db, query: dict[str, Any], limit: int, offset: int
) -> tuple[list[Application], int]:
    docs, total = await _page(
        tx.db.applications, query, limit, offset, [("created_at", DESCENDING), ("_id", ASCENDING)], {"timeline": 0}
    )
    return [Application.from_doc(d) for d in docs], total


@dataclass(frozen=True)
class ApplicationSearch:
    """The managers' search of one programme's applications: every word in its title or group's name,
    any of the statuses, the stage, the area, the amount asked for between the bounds."""

    programme_id: str
    words: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    stage: str | None = None
    area: str | None = None
    amount_min: int | None = None
    amount_max: int | None = None

    @property
    def by_amount(self) -> bool:
        return self.amount_min is not None or self.amount_max is not None

    def query(self) -> dict[str, Any]:
        """All of it as one query (the export, which reads every match anyway)."""
        query: dict[str, Any] = {"programme_id": self.programme_id}
        if self.words:
            query["search_words"] = self.words[0] if len(self.words) == 1 else {"$all": list(self.words)}
        if self.statuses:
            query["status"] = self.statuses[0] if len(self.statuses) == 1 else {"$in": list(self.statuses)}
        if self.stage:
            query["stage"] = self.stage
        if self.area:
            query["organisation.area"] = self.area
        if self.by_amount:
            query["amount_requested.amount"] = self.amount_range()
        return query

    def amount_range(self) -> dict[str, int]:
        return {"$gte": self.amount_min or 0, "$lte": MAX_AMOUNT if self.amount_max is None else self.amount_max}

    def narrowest(self) -> dict[str, Any]:
        """The part of the search one index bounds: the programme and its narrowest single equality (a
        word, the area, one status, the stage). The embedded database plans a query with more than one
        index's fields, a second word or a choice of statuses as a collection scan, so the rest is
        tested on what this finds (:meth:`matches`)."""
        query: dict[str, Any] = {"programme_id": self.programme_id}
        if self.by_amount:
            # The amount is the page's key: on its own index, or after the word on the word's.
            return query | ({"search_words": self.words[0]} if self.words else {})
        if self.words:
            query["search_words"] = self.words[0]
        elif self.area:
            query["organisation.area"] = self.area
        elif len(self.statuses) == 1:
            query["status"] = self.statuses[0]
        elif self.stage:
            query["stage"] = self.stage
        return query

    def matches(self, doc: dict[str, Any]) -> bool:
        """The whole search, tested on a stored document."""
        organisation = doc.get("organisation") or {}
        amount = doc["amount_requested"]["amount"]
        return (
            all(word in doc.get("search_words", ()) for word in self.words)
            and (not self.statuses or doc["status"] in self.statuses)
            and (not self.stage or doc.get("stage") == self.stage)
            and (not self.area or organisation.get("area") == self.area)
            and (self.amount_min is None or amount >= self.amount_min)
            and (self.amount_max is None or amount <= self.amount_max)
        )  # fmt: skip


_SEARCH_SORT = [("created_at", DESCENDING), ("_id", ASCENDING)]
_FOUND = {"timeline": 0, "answers": 0, "interest_answers": 0}
#: The most a search's amount range can reach (the API's bound on its amount filters).
MAX_AMOUNT = 10_000_000_000_000


async def search_applications(
    tx: Db, search: ApplicationSearch, limit: int, after: After | None, *, since: datetime, likely_newest: datetime
) -> tuple[list[Application], After | None]:
    """One page of a search, and where the next starts: newest first, or, with an amount range, smallest
    amount first. Each page reads a window of its order's key on the index of the search's narrowest
    filter (so a page costs about what it shows, however many applications the programme has, and a
    deep page as much as the first). ``since`` is the earliest an application can have been created
    (its programme's creation); ``likely_newest`` when the newest probably was (its closing, once past)."""
    if search.by_amount:
        amount = search.amount_range()
        docs, following = await window_page(
            tx, "applications", search.narrowest(), "amount_requested.amount", lowest=amount["$gte"],
            highest=amount["$lte"], limit=limit, after=after, projection=_FOUND, keep=search.matches,
        )  # fmt: skip
    else:
        docs, following = await window_page(
            tx, "applications", search.narrowest(), "created_at", lowest=since - timedelta(days=1),
            highest=utcnow() + timedelta(days=1), limit=limit, descending=True, after=after, projection=_FOUND,
            keep=search.matches, likely_end=likely_newest,
        )  # fmt: skip
    return [Application.from_doc(d) for d in docs], following


async def each_application(tx: Db, query: dict[str, Any], batch: int = 500) -> AsyncIterator[Application]:
    """Every application ``query`` finds, newest first, read a batch at a time (an export of a large
    programme never holds it all in memory)."""
    cursor = tx.db.applications.find(query, {"timeline": 0, "answers": 0, "interest_answers": 0},
                                     session=tx.session).sort(_SEARCH_SORT).batch_size(batch)  # fmt: skip
    async for doc in cursor:
        yield Application.from_doc(doc)


async def awarded_applications(tx: Db, programme_id: str) -> list[Application]:
    """The programme's applications the panel awarded, except any withdrawn before the decision reached us."""
    query = {"programme_id": programme_id, "decision.outcome": "awarded", "status": {"$ne": ApplicationStatus.WITHDRAWN}}
    cursor = tx.db.applications.find(query, {"timeline": 0}, session=tx.session).sort([("_id", ASCENDING)])
    return [Application.from_doc(doc) async for doc in cursor]


def insert_application(tx: Transaction[Any], application: Application) -> None:
    """A new draft (its id is new): written with the transaction's events, as nothing reads it back."""
    tx.insert_later("applications", application.to_doc())


async def replace_application(tx: Db, application: Application, read_version: int) -> bool:
    return await _replace(tx.db.applications, application, read_version, tx)


def replace_application_later(tx: Transaction, application: Application, read_version: int) -> None:
    """Stored with the transaction's events (``update_later``): for an application read in the same
    transaction, which nothing in it reads again."""
    tx.replace_later("applications", {"_id": application.id, "version": read_version}, application.to_doc())


async def delete_draft(tx: Db, application_id: str, read_version: int) -> bool:
    result = await tx.db.applications.delete_one(
        {"_id": application_id, "status": ApplicationStatus.DRAFT, "version": read_version}, session=tx.session
    )
    return result.deleted_count == 1


# --- one application under consideration per organisation and programme --------------------------


#: Programme ids are ours ("prg-<hex>") and never hold a "|", so the key is unambiguous.
SUBMISSION_KEY_SEPARATOR = "|"


def _submission_key(programme_id: str, organisation_id: str) -> str:
    return f"{programme_id}{SUBMISSION_KEY_SEPARATOR}{organisation_id}"


def _submission(application: Application) -> dict[str, str]:
    key = _submission_key(application.programme_id, application.organisation_id)
    return {"_id": key, "application_id": application.id}


async def active_submission(tx: Db, programme_id: str, organisation_id: str) -> str | None:
    """The id of the organisation's application to this programme that is under consideration, if any."""
    key = _submission_key(programme_id, organisation_id)
    doc = await tx.db.active_submissions.find_one({"_id": key}, session=tx.session)
    return doc["application_id"] if doc else None


def claim_submission(tx: Transaction[Any], application: Application) -> None:
    """Written with the transaction's events (nothing reads it back in the same submission): the
    transaction raises DuplicateKeyError at its end if another submission got there first."""
    tx.insert_later("active_submissions", _submission(application))


async def release_submission(tx: Db, application: Application) -> None:
    await tx.db.active_submissions.delete_one(_submission(application), session=tx.session)


# --- equality monitoring (kept apart from applications) and what the reach report counts ---------


class EqualityMonitoring(Document):
    """A group's voluntary answers about the communities it serves and is led by, for one application.
    ``_id`` is the application id. Read back only by the group itself; counted only in aggregate."""

    programme_id: str
    organisation_id: str
    answers: dict[str, Any]
    updated_at: datetime


async def get_monitoring(tx: Db, application_id: str) -> EqualityMonitoring | None:
    return EqualityMonitoring.maybe(await tx.db.equality_monitoring.find_one({"_id": application_id}, session=tx.session))


async def save_monitoring(tx: Db, monitoring: EqualityMonitoring) -> None:
    await tx.db.equality_monitoring.replace_one(
        {"_id": monitoring.id}, monitoring.to_doc(), upsert=True, session=tx.session
    )


async def monitoring_of_programme(tx: Db, programme_id: str) -> dict[str, dict[str, Any]]:
    cursor = tx.db.equality_monitoring.find({"programme_id": programme_id}, {"answers": 1}, session=tx.session)
    return {doc["_id"]: doc["answers"] async for doc in cursor}


#: What the reach report reads of each application: never its content, contact or answers.
REACH_FIELDS = {
    "status": 1, "ineligible_reasons.code": 1, "invited_at": 1, "score.weighted_score": 1, "decision.outcome": 1,
    "payments.payment_id": 1, "organisation_id": 1, "organisation.area": 1,
}


async def reach_rows(tx: Db, programme_id: str) -> list[dict[str, Any]]:
    cursor = tx.db.applications.find({"programme_id": programme_id}, REACH_FIELDS, session=tx.session)
    return await cursor.to_list(None)
# --- erasure requests ----------------------------------------------------------------------------


async def insert_erasure_request(tx: Db, request: ErasureRequest) -> None:
    await tx.db.erasure_requests.insert_one(request.to_doc(), session=tx.session)


async def get_erasure_request(tx: Db, request_id: str) -> ErasureRequest | None:
    doc = await tx.db.erasure_requests.find_one({"_id": request_id}, session=tx.session)
    return ErasureRequest.from_doc(doc) if doc else None


# --- retention -----------------------------------------------------------------------------------


async def applications_past_retention(tx: Db, programme_id: str, rule: str, cutoff: datetime, limit: int) -> list[str]:
    """Ids of the programme's applications under ``rule`` whose clock started before ``cutoff``."""
    query = {"programme_id": programme_id, "retention.rule": rule, "retention.since": {"$lt": cutoff}}
    cursor = tx.db.applications.find(query, {"_id": 1}, session=tx.session).limit(limit)
    return [doc["_id"] async for doc in cursor]


async def all_programme_retention(tx: Db) -> list[tuple[str, dict[str, Any] | None]]:
    """Every programme's id and retention rules (few programmes: a funder runs a handful)."""
    cursor = tx.db.programmes.find({}, {"retention": 1}, session=tx.session)
    return [(doc["_id"], doc.get("retention")) async for doc in cursor]
