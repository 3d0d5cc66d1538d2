"""Every change to the applications database, each run inside the caller's transaction (``tx``) and
emitting the events it causes there: routes, handlers and the closing worker call these.

Applications and organisations outside the caller's scope are NotFound (404), so their existence is
not revealed. A change to what a person wrote checks the version they read (If-Match).
"""

from collections.abc import Callable
from datetime import datetime
from hashlib import sha256
from typing import Any
from uuid import uuid4

from pydantic import ValidationError

from applications import domain, reach, store
from applications.config import Settings
from applications.domain import ApplicationStatus, ContactDetails, OrganisationProfile, ProgrammeStatus, Stage
from applications.schemas import (
    ApplicationDraft, ApplicationPatch, AssistedApplicationDraft, ProgrammeChangeRequest, ProgrammeDraft, ProgrammePatch,
)  # fmt: skip
from applications.store import Application, ErasureRequest, Organisation, Programme, ProgrammeForm, TimelineEntry
from grants_shared import forms, privacy
from grants_shared.api import Transactor, check_version, is_manager
from grants_shared.auth import Caller
from grants_shared.clock import utcnow
from grants_shared.errors import Conflict, Forbidden, NotFound, PreconditionFailed, PreconditionRequired, RuleViolation
from grants_shared.events import (
    ApplicationIneligible,
    ApplicationInvited,
    ApplicationReturnedForCorrection,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    Contact,
    ApplicationAnonymised,
    Event,
    InterestDeclined,
    InterestSubmitted,
    PersonErasureRequested,
    ProgrammeBudgetDecreaseRequested,
    ProgrammeChanged,
    ProgrammeClosed,
    ProgrammeOpened,
    QuestionAnswer,
)
from grants_shared.money import Money
from grants_shared.unit_of_work import Database, Db, Transaction

Tx = Transaction[Settings]

# --- programmes ----------------------------------------------------------------------------------


async def create_programme(tx: Tx, terms: ProgrammeDraft) -> Programme:
    now = utcnow()
    programme = Programme(
        **terms.model_dump(), id=f"prg-{uuid4().hex}", status=ProgrammeStatus.DRAFT, version=1,
        created_by=tx.actor or "system", created_at=now, updated_at=now,
    )  # fmt: skip
    await store.insert_programme(tx, programme)
    return programme


async def edit_programme(tx: Tx, programme_id: str, patch: ProgrammePatch, version: int) -> Programme:
    programme = await _programme(tx, programme_id)
    check_version(version, programme.version)
    _refuse(domain.can_edit(programme.status))
    merged = programme.terms().model_dump() | patch.model_dump(exclude_unset=True)
    try:
        terms = ProgrammeDraft.model_validate(merged)
    except ValidationError as error:
        raise RuleViolation("the programme would not be valid after this change", errors=errors_of(error)) from None
    return await _save_programme(tx, programme, **dict(terms))


async def open_programme(tx: Tx, programme_id: str, version: int | None = None) -> Programme:
    programme = await _programme(tx, programme_id)
    check_version(version, programme.version)
    now = utcnow()
    _refuse(domain.can_open(programme.status, programme.closes_at, now))
    opened = await _save_programme(tx, programme, status=ProgrammeStatus.OPEN, opened_at=now)
    await tx.emit(ProgrammeOpened(
        programme_id=opened.id, name=opened.name, budget=opened.budget, maximum_award=opened.maximum_award,
        opens_at=opened.opens_at, closes_at=opened.closes_at, criteria=opened.criteria,
        reviewers_per_application=opened.reviewers_per_application, panel=opened.panel,
        payment_policy=opened.payment_policy,
    ))  # fmt: skip
    return opened


async def close_programme(tx: Tx, programme_id: str, version: int | None = None) -> Programme:
    programme = await _programme(tx, programme_id)
    check_version(version, programme.version)
    _refuse(domain.can_close(programme.status))
    closed = await _save_programme(tx, programme, status=ProgrammeStatus.CLOSED, closed_at=utcnow())
    await tx.emit(ProgrammeClosed(programme_id=closed.id))
    return closed


async def publish_form(
    tx: Tx, programme_id: str, definition: forms.FormDefinition, version: int, stage: Stage = Stage.FULL
) -> tuple[ProgrammeForm, Programme]:
    """A new version of the programme's form, for applications started from now on: a version is
    never changed, so an application already started keeps answering the one it began with."""
    programme = await _programme(tx, programme_id)
    check_version(version, programme.version)
    _refuse(domain.can_change_form(programme.status))
    if stage is Stage.EXPRESSION_OF_INTEREST and programme.expression_of_interest is None:
        raise Conflict("this programme has no expression of interest stage; give it one (expression_of_interest) first")
    problems = forms.definition_problems(definition, [c.key for c in programme.criteria])
    if problems:
        raise RuleViolation("the form is not valid: " + "; ".join(problems),
                            errors=[{"location": ["body"], "message": p, "type": "form"} for p in problems])  # fmt: skip
    next_version = programme.form_version_of(stage) + 1
    form = ProgrammeForm(
        id=store.form_key(programme.id, next_version, stage), programme_id=programme.id, stage=stage,
        version=next_version, definition=definition, created_by=tx.actor or "system", created_at=utcnow(),
    )  # fmt: skip
    await store.insert_form(tx, form)
    field = "interest_form_version" if stage is Stage.EXPRESSION_OF_INTEREST else "form_version"
    return form, await _save_programme(tx, programme, **{field: form.version})


async def change_programme(
    tx: Tx, programme_id: str, request: ProgrammeChangeRequest, version: int
) -> tuple[store.ProgrammeChange, Programme]:
    """Change an open programme's terms and tell scoring and disbursement (``programme.changed``),
    recording the change in the programme's history. A budget decrease is only asked for here
    (``programme.budget_decrease_requested``): disbursement holds what is committed, applies it or
    refuses it, and the programme takes no other change until it has answered."""
    programme = await _programme(tx, programme_id)
    check_version(version, programme.version)
    _refuse(domain.can_change_open(programme.status))
    if programme.pending_change_id is not None:
        raise Conflict("a budget decrease is waiting for disbursement's answer; change the programme once it has answered")
    wanted = request.requested()
    problems = domain.change_problems(programme.terms(), wanted, utcnow())
    if problems:
        raise RuleViolation("the programme cannot be changed so: " + "; ".join(problems),
                            errors=[{"location": ["body"], "message": p, "type": "change"} for p in problems])  # fmt: skip
    now, change_id = utcnow(), f"chg-{uuid4().hex}"
    given = wanted.given()
    before = {name: _changed_value(programme, name) for name in given}
    after = {name: _json(getattr(wanted, name)) for name in given}
    change = store.ProgrammeChange(
        id=change_id, programme_id=programme.id, status=domain.ChangeStatus.APPLIED, before=before, after=after,
        note=request.note, requested_by=tx.actor or "system", requested_at=now, settled_at=now,
    )  # fmt: skip
    if domain.is_budget_decrease(programme.terms(), wanted):
        assert wanted.budget is not None
        change = change.model_copy(update={"status": domain.ChangeStatus.PENDING, "settled_at": None})
        saved = await _save_programme(tx, programme, pending_change_id=change_id)
        await tx.emit(ProgrammeBudgetDecreaseRequested(
            programme_id=programme.id, change_id=change_id, budget=wanted.budget,
            reduction=Money(amount=programme.budget.amount - wanted.budget.amount, currency=programme.budget.currency),
        ))  # fmt: skip
    else:
        updates: dict[str, object] = {n: getattr(wanted, n) for n in given if n != "expression_of_interest_closes_at"}
        if wanted.expression_of_interest_closes_at is not None and programme.expression_of_interest is not None:
            updates["expression_of_interest"] = programme.expression_of_interest.model_copy(
                update={"closes_at": wanted.expression_of_interest_closes_at})  # fmt: skip
        saved = await _save_programme(tx, programme, **updates)
        added = (Money(amount=wanted.budget.amount - programme.budget.amount, currency=programme.budget.currency)
                 if wanted.budget is not None else None)  # fmt: skip
        await tx.emit(ProgrammeChanged(
            programme_id=programme.id, change_id=change_id, name=wanted.name, description=wanted.description,
            budget=wanted.budget, budget_added=added, maximum_award=wanted.maximum_award, closes_at=wanted.closes_at,
            expression_of_interest_closes_at=wanted.expression_of_interest_closes_at,
        ))  # fmt: skip
    await store.insert_programme_change(tx, change)
    return change, saved


async def settle_budget_decrease(
    tx: Tx, programme_id: str, change_id: str, budget: Money | None, refusal: str | None
) -> None:
    """Disbursement's answer to a budget decrease: the programme takes the lower budget (``budget``),
    or keeps its own (``refusal``). An answer heard twice changes nothing."""
    change = await store.get_programme_change(tx, change_id)
    if change is None or change.programme_id != programme_id:
        raise NotFound(f"no change {change_id} of programme {programme_id}: it was never asked for here")
    if change.status is not domain.ChangeStatus.PENDING:
        return
    programme = await _programme(tx, programme_id)
    updates: dict[str, object] = {"pending_change_id": None}
    if refusal is None and budget is not None:
        updates["budget"] = budget
    try:
        await _save_programme(tx, programme, **updates)
    except PreconditionFailed:
        raise ConcurrentChange(f"programme {programme_id} changed while disbursement's answer was recorded") from None
    status = domain.ChangeStatus.REFUSED if refusal is not None else domain.ChangeStatus.APPLIED
    await store.settle_programme_change(tx, change.model_copy(update={
        "status": status, "settled_at": utcnow(), "refusal": refusal,
    }))  # fmt: skip


def _changed_value(programme: Programme, name: str) -> object:
    if name == "expression_of_interest_closes_at":
        stage = programme.expression_of_interest
        return _json(stage.closes_at) if stage else None
    return _json(getattr(programme, name))


def _json(value: object) -> object:
    """A value as the history keeps it: money as {amount, currency}, times as ISO 8601."""
    if isinstance(value, Money):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return value.isoformat()
    return value


async def _programme(tx: Tx, programme_id: str) -> Programme:
    return _found_programme(await store.get_programme(tx, programme_id), programme_id)


def _found_programme(programme: Programme | None, programme_id: str) -> Programme:
    if programme is None:
        raise NotFound(f"no programme {programme_id}")
    return programme


async def _save_programme(tx: Tx, programme: Programme, **changes: object) -> Programme:
    moved = programme.model_copy(update={**changes, "updated_at": utcnow(), "version": programme.version + 1})
    if not await store.replace_programme(tx, moved, programme.version):
        raise PreconditionFailed("the programme changed meanwhile; read it again and retry")
    return moved


# --- organisations -------------------------------------------------------------------------------


async def describe_organisation(
    tx: Db, caller: Caller, organisation_id: str, profile: OrganisationProfile, version: int | None
) -> tuple[Organisation, bool]:
    """Create the profile (no If-Match), or update it (the version last read). True when created.

    Outside a transaction (the service's ``Database``): a profile causes no event, and each way is
    one write, conditional on what the caller read; the profile is read only to say why a write
    was refused (one round trip where there were three)."""
    if not caller.represents(organisation_id):
        raise Forbidden("you can only describe an organisation you represent")
    now = utcnow()
    described = Organisation(
        **profile.model_dump(), id=organisation_id, version=1, created_at=now, updated_at=now,
        updated_by=caller.subject,
    )  # fmt: skip
    if version is None:
        if await store.insert_organisation_if_new(tx, described):
            return described, True
        raise PreconditionRequired("this organisation has a profile: send the ETag you last read in an If-Match header")
    fields = [*OrganisationProfile.model_fields, "updated_at", "updated_by"]
    updated = await store.update_organisation(tx, described, version, fields)
    if updated is not None:
        return updated, False
    existing = await store.get_organisation(tx, organisation_id)
    if existing is None:
        raise PreconditionFailed("this organisation has no profile yet; send no If-Match to create it")
    check_version(version, existing.version)
    raise PreconditionFailed("the profile changed while you were editing it; read it again and retry")


# --- applications --------------------------------------------------------------------------------


async def start_application(tx: Tx, caller: Caller, draft: ApplicationDraft) -> Application:
    if not caller.represents(draft.organisation_id):
        raise Forbidden("you can only apply for an organisation you represent")
    contact = draft.contact or _contact_from_token(caller)
    organisation, programme = await store.organisation_and_programme(tx, draft.organisation_id, draft.programme_id)
    if organisation is None:
        raise Conflict(
            f"describe your organisation first: PUT /v1/organisations/{draft.organisation_id}",
            missing="organisation_profile",
        )
    programme = _open_to_applications(programme, draft.programme_id, draft.amount_requested)
    words = f"You started a draft application to {programme.name}."
    return await _new_draft(tx, caller, programme, draft, contact, words, None)


async def start_assisted_application(tx: Tx, caller: Caller, draft: AssistedApplicationDraft) -> Application:
    """A programme manager starts a draft on behalf of a group that asked for help, recording the
    group's consent. The group's profile is created from the draft if the group has none; one it
    already has is its own and is not replaced. The team may fill and submit it until the group's
    own people take it over (``take_over_application``)."""
    read = await store.get_programme(tx, draft.programme_id)
    programme = _open_to_applications(read, draft.programme_id, draft.amount_requested)
    existing = await store.get_organisation(tx, draft.organisation_id)
    if existing is None and draft.organisation is None:
        raise Conflict("the group has no profile yet: give its organisation profile with the application",
                       missing="organisation_profile")  # fmt: skip
    if existing is not None and draft.organisation is not None:
        raise Conflict("the group already has a profile of its own; leave organisation out to use it")
    now = utcnow()
    if existing is None:
        await store.insert_organisation(tx, Organisation(
            **draft.organisation.model_dump(), id=draft.organisation_id, version=1, created_at=now, updated_at=now,
            updated_by=caller.subject,
        ))  # type: ignore[union-attr]  # fmt: skip
    consent = draft.consent
    assistance = store.Assistance(
        assisted_by=caller.subject, consent_given_by=consent.given_by, consent_method=consent.method,
        consent_given_at=consent.given_at, recorded_at=now,
    )  # fmt: skip
    words = domain.words_assisted(programme.name, consent.given_by, consent.method, consent.given_at)
    return await _new_draft(tx, caller, programme, draft, draft.contact, words, assistance)


async def take_over_application(tx: Tx, caller: Caller, application_id: str) -> Application:
    """The group's own people take over an application the programme team started for them: from
    then on it is theirs alone, as if they had started it. Taking it over twice changes nothing."""
    application = await store.get_application(tx, application_id)
    if application is None or not caller.represents(application.organisation_id):
        raise NotFound(f"no application {application_id}")
    if application.assistance is None:
        raise Conflict("your group started this application itself; there is nothing to take over")
    if not application.assistance.active:
        return application
    now = utcnow()
    assistance = application.assistance.model_copy(update={"taken_over_at": now, "taken_over_by": caller.subject})
    entry = TimelineEntry(id=f"taken-over-{uuid4().hex}", at=now, kind="taken_over", words=domain.words_taken_over())
    return await _save_application(tx, application, "it was being taken over", assistance=assistance,
                                   timeline=[*application.timeline, entry])  # fmt: skip


def _open_to_applications(programme: Programme | None, programme_id: str, amount: Money) -> Programme:
    """The programme, as read, if it takes an application for ``amount``."""
    if programme is None or programme.status is ProgrammeStatus.DRAFT:
        raise NotFound(f"no programme {programme_id}")
    if programme.status is not ProgrammeStatus.OPEN:
        raise Conflict("this programme is closed to new applications")
    _refuse_amount(programme, amount)
    return programme


async def _new_draft(
    tx: Tx, caller: Caller, programme: Programme, draft: ApplicationDraft | AssistedApplicationDraft,
    contact: ContactDetails, words: str, assistance: store.Assistance | None,
) -> Application:  # fmt: skip
    # Where the programme asks for an expression of interest first, that is where every group starts.
    stage = Stage.EXPRESSION_OF_INTEREST if programme.expression_of_interest else Stage.FULL
    now = utcnow()
    application = Application(
        id=f"app-{uuid4().hex}", programme_id=draft.programme_id, organisation_id=draft.organisation_id,
        title=draft.title, summary=draft.summary, amount_requested=draft.amount_requested, contact=contact,
        status=ApplicationStatus.DRAFT, version=1, created_by=caller.subject, created_at=now, updated_at=now,
        stage=stage, form_version=programme.form_version_of(stage), assistance=assistance,
        timeline=[TimelineEntry(id="draft-started", at=now, kind="draft_started", words=words)],
    )  # fmt: skip
    store.insert_application(tx, application)
    return application


async def edit_application(
    tx: Tx, caller: Caller, application_id: str, patch: ApplicationPatch, version: int
) -> Application:
    application = await own_application(tx, caller, application_id)
    check_version(version, application.version)
    if application.status is not ApplicationStatus.DRAFT:
        raise Conflict(f"only a draft can be edited; this application is {domain.applicant_status(application.status)}")
    changes = {name: getattr(patch, name) for name in patch.model_fields_set}
    if patch.amount_requested is not None:
        _refuse_amount(await _programme(tx, application.programme_id), patch.amount_requested)
    return await _save_application(tx, application, "you were editing it", **changes)


def eligibility_terms(programme: Programme, stage: Stage = Stage.FULL) -> domain.EligibilityTerms:
    """What eligibility checks, with the dates of the stage the application is at."""
    opens_at, closes_at = programme.stage_dates(stage)
    return domain.EligibilityTerms(
        status=programme.status, opens_at=opens_at, closes_at=closes_at,
        currency=programme.budget.currency, maximum_award=programme.maximum_award, eligibility=programme.eligibility,
    )  # fmt: skip


def _refuse_amount(programme: Programme, amount: object) -> None:
    """The currency and the maximum are checked as soon as an amount is written, not only at submission."""
    failures = domain.amount_failures(eligibility_terms(programme), amount, draft=True)  # type: ignore[arg-type]
    if failures:
        raise RuleViolation(
            " ".join(f.message for f in failures),
            errors=[{"location": ["body", "amount_requested"], "message": f.message, "type": f.code} for f in failures],
        )


async def eligibility_now(tx: Tx, application: Application) -> list[domain.Reason] | None:
    """What a draft breaks of the programme's rules as it stands (an amount not yet given is not a
    failure yet); None once it is no longer a draft (its reasons are kept as they were found)."""
    if application.status is not ApplicationStatus.DRAFT:
        return None
    programme = await _programme(tx, application.programme_id)
    organisation = await store.get_organisation(tx, application.organisation_id)
    if organisation is None:
        return None
    other = await store.active_submission(tx, programme.id, organisation.id)
    return domain.eligibility_failures(
        eligibility_terms(programme, application.stage), _applicant(organisation), application.amount_requested, utcnow(),
        already_applied=other is not None and other != application.id, draft=True,
    )  # fmt: skip


def _applicant(organisation: Organisation) -> domain.ApplicantOrganisation:
    return domain.ApplicantOrganisation(kind=organisation.kind, area=organisation.area,
                                        annual_income=organisation.annual_income)  # fmt: skip


async def application_form(tx: Tx, application: Application) -> forms.FormDefinition | None:
    """The form version the application answers (None: its programme asks no questions of its own)."""
    if not application.form_version:
        return None
    form = await store.get_form(tx, application.programme_id, application.form_version, application.stage)
    if form is None:
        raise NotFound(f"form version {application.form_version} of programme {application.programme_id} is missing")
    return form.definition


async def save_answers(
    tx: Tx, caller: Caller, application_id: str, answers: dict[str, Any], version: int
) -> Application:
    """Save some answers to a draft (an answer of null removes it): each must be valid, none is
    required yet. Every problem is named at once, by question id."""
    application = await _own_draft(tx, caller, application_id)
    check_version(version, application.version)
    form = await application_form(tx, application)
    if form is None:
        raise Conflict("this programme asks no questions of its own")
    problems = [
        forms.AnswerProblem(question_id=qid, message="Upload the file: a file is attached, not typed")
        for qid, answer in answers.items()
        if answer is not None and getattr(form.question(qid), "kind", None) == "file"
    ]
    merged = {**application.answers, **answers}
    merged = {qid: answer for qid, answer in merged.items() if answer is not None}
    problems += [p for p in forms.answer_problems(form, merged, complete=False) if p.question_id in answers]
    _refuse_answers(problems, "some answers cannot be saved")
    return await _save_application(tx, application, "you were answering", answers=merged)


async def attach_file(
    database: Database[Settings], transact: Transactor, caller: Caller, application_id: str, question_id: str,
    filename: str, content: bytes, version: int | None,
) -> Application:  # fmt: skip
    """Answer a file question. GridFS cannot write inside a transaction, so the file is stored first
    and the answer then recorded in one; a file whose answer was not recorded is deleted again, and
    so is the file it replaces once the new one is recorded."""
    application = await _own_draft(database, caller, application_id)  # type: ignore[arg-type]
    form = await application_form(database, application)  # type: ignore[arg-type]
    question = form.question(question_id) if form else None
    if question is None or question.kind != "file":
        raise NotFound(f"no file question {question_id} on this application's form")
    content_type = forms.content_type_of(filename) or "application/octet-stream"
    problem = forms.file_problem(question, content_type, len(content), content[:16])
    _refuse_answers([forms.AnswerProblem(question_id=question_id, message=problem)] if problem else [],
                    "the file cannot be attached")  # fmt: skip
    attachment_id = await store.store_attachment(database, application.id, question_id, filename, content_type, content)
    attachment = forms.Attachment(attachment_id=attachment_id, filename=filename, content_type=content_type,
                                  size=len(content))  # type: ignore[arg-type]  # fmt: skip
    try:
        saved, replaced = await transact(_record_attachment, caller, application_id, question_id, attachment, version)
    except BaseException:
        await store.delete_attachment(database, attachment_id)
        raise
    if replaced:
        await store.delete_attachment(database, replaced)
    return saved


async def _record_attachment(
    tx: Tx, caller: Caller, application_id: str, question_id: str, attachment: forms.Attachment, version: int | None
) -> tuple[Application, str | None]:
    application = await _own_draft(tx, caller, application_id)
    check_version(version, application.version)
    previous = application.answers.get(question_id)
    replaced = previous.get("attachment_id") if isinstance(previous, dict) else None
    answers = {**application.answers, question_id: attachment.model_dump()}
    return await _save_application(tx, application, "the file was being attached", answers=answers), replaced


async def attachment_of(tx: Tx, application: Application, question_id: str) -> tuple[forms.Attachment, bytes]:
    answer = application.answers.get(question_id)
    try:
        attachment = forms.Attachment.model_validate(answer)
    except ValidationError:
        raise NotFound(f"no file attached for {question_id}") from None
    content = await store.read_attachment(tx, attachment.attachment_id)
    if content is None:
        raise NotFound(f"no file attached for {question_id}")
    return attachment, content


async def _own_draft(tx: Tx, caller: Caller, application_id: str) -> Application:
    application = await own_application(tx, caller, application_id)
    if application.status is not ApplicationStatus.DRAFT:
        raise Conflict(f"only a draft can be edited; this application is {domain.applicant_status(application.status)}")
    return application


def _refuse_answers(problems: list[forms.AnswerProblem], detail: str) -> None:
    if problems:
        raise RuleViolation(
            f"{detail}: " + "; ".join(f"{p.question_id}: {p.message}" for p in problems),
            errors=[{"location": ["body", "answers", p.question_id], "message": p.message, "type": "answer"}
                    for p in problems],
        )  # fmt: skip


async def delete_draft(tx: Tx, caller: Caller, application_id: str, version: int | None) -> None:
    application = await own_application(tx, caller, application_id)
    check_version(version, application.version)
    if application.status is not ApplicationStatus.DRAFT:
        raise Conflict("only a draft can be deleted; withdraw a submitted application instead")
    if not await store.delete_draft(tx, application.id, application.version):
        raise PreconditionFailed("the application changed meanwhile; read it again and retry")
    if application.invited_at is not None:  # an invited draft held its group's place since its expression of interest
        await store.release_submission(tx, application)


async def submit_application(tx: Tx, caller: Caller, application_id: str, version: int | None) -> Application:
    """Check every answer, then every eligibility rule: the application is submitted; or, breaking a
    rule while the programme takes applications, returned to the group as a draft with the reasons;
    or, once it no longer does, ineligible with them."""
    read, read_programme, organisation, other = await store.application_in_context(tx, application_id)  # one round trip
    application = _owned(caller, application_id, read)
    check_version(version, application.version)
    if application.status is not ApplicationStatus.DRAFT:
        raise Conflict(f"this application was already submitted; it is {domain.applicant_status(application.status)}")
    programme = _found_programme(read_programme, application.programme_id)
    if organisation is None:
        raise Conflict(f"describe your organisation first: PUT /v1/organisations/{application.organisation_id}")
    form = await application_form(tx, application)
    if form is not None:
        _refuse_answers(forms.answer_problems(form, application.answers, complete=True),
                        "the application is not finished")  # fmt: skip
    now = utcnow()
    terms = eligibility_terms(programme, application.stage)
    reasons = domain.eligibility_failures(
        terms, _applicant(organisation), application.amount_requested, now,
        already_applied=other is not None and other != application.id,
    )  # fmt: skip
    contact = _event_contact(caller, application.contact)
    changes: dict[str, object] = {
        "submitted_at": now, "submitted_by": caller.subject, "organisation": organisation.summary(),
        # What was answered to questions the group was not shown is not part of what it sent.
        "answers": forms.answered(form, application.answers) if form else application.answers,
    }  # fmt: skip
    if reasons and domain.correctable(terms, now):
        event = await tx.emit(ApplicationReturnedForCorrection(
            application_id=application.id, programme_id=programme.id, title=application.title, reasons=reasons,
            closes_at=terms.closes_at, contact=contact,
        ))  # fmt: skip
        # Still a draft the group can change and submit again: nothing of it was sent anywhere.
        changes = {"ineligible_reasons": reasons}
        words = domain.words_returned(reasons, terms.closes_at)
        entry = TimelineEntry(id=event.id, at=now, kind="returned_for_correction", words=words)
    elif reasons:
        event = await tx.emit(ApplicationIneligible(
            application_id=application.id, programme_id=programme.id, title=application.title,
            reasons=reasons, contact=contact,
        ))  # fmt: skip
        changes |= {"status": ApplicationStatus.INELIGIBLE, "ineligible_reasons": reasons}
        entry = TimelineEntry(id=event.id, at=now, kind="ineligible", words=domain.words_ineligible(reasons))
    elif application.stage is Stage.EXPRESSION_OF_INTEREST:
        # One expression of interest per group: it holds the place the full application then keeps.
        store.claim_submission(tx, application)
        event = await tx.emit(InterestSubmitted(
            application_id=application.id, programme_id=programme.id, organisation=organisation.summary(),
            title=application.title, contact=contact, submitted_at=now,
        ))  # fmt: skip
        if programme.expression_of_interest is not None and programme.expression_of_interest.scored:
            # A scored stage: its reviewers score the expression of interest, to help the team shortlist.
            for_reviewers = forms.answers_for_reviewers(form, changes["answers"]) if form else []  # type: ignore[arg-type]
            await tx.emit(ApplicationSubmitted(
                application_id=application.id, programme_id=programme.id, organisation=organisation.summary(),
                title=application.title, summary=application.summary, amount_requested=application.amount_requested,
                contact=contact, submitted_at=now, stage=Stage.EXPRESSION_OF_INTEREST.value,
                answers=[QuestionAnswer.model_validate(a) for a in for_reviewers],
            ))  # fmt: skip
        changes |= {"status": ApplicationStatus.INTEREST_SUBMITTED, "ineligible_reasons": []}
        entry = TimelineEntry(id=event.id, at=now, kind="interest_submitted",
                              words=domain.words_interest_submitted(programme.name))  # fmt: skip
    else:
        if other != application.id:  # an invited application already holds its place
            store.claim_submission(tx, application)
        # Reviewers judge the answers to the programme's questions (never equality monitoring answers,
        # which are kept apart, nor files, which stay here).
        for_reviewers = forms.answers_for_reviewers(form, changes["answers"]) if form else []  # type: ignore[arg-type]
        event = await tx.emit(ApplicationSubmitted(
            application_id=application.id, programme_id=programme.id, organisation=organisation.summary(),
            title=application.title, summary=application.summary,
            amount_requested=application.amount_requested, contact=contact, submitted_at=now,
            answers=[QuestionAnswer.model_validate(a) for a in for_reviewers],
        ))  # fmt: skip
        changes |= {"status": ApplicationStatus.SUBMITTED, "ineligible_reasons": []}
        words = domain.words_submitted(programme.name, application.amount_requested)
        entry = TimelineEntry(id=event.id, at=now, kind="submitted", words=words)
    changes["timeline"] = [*application.timeline, entry]
    return _save_application_later(tx, application, **changes)


async def invite_application(tx: Tx, application_id: str) -> Application:
    """Shortlisted: the expression of interest becomes the draft of the group's full application,
    answering the full form, with every earlier answer to a question the full form asks again kept."""
    application = await _application(tx, application_id)
    _refuse(domain.can_invite(application.status))
    programme = await _programme(tx, application.programme_id)
    now = utcnow()
    if programme.status is not ProgrammeStatus.OPEN or now >= programme.closes_at:
        raise Conflict("the programme no longer takes full applications, so nobody can be invited to one")
    form_version = programme.form_version
    full = await store.get_form(tx, programme.id, form_version) if form_version else None
    asked = {q.id for q in full.definition.questions} if full else set()
    event = await tx.emit(ApplicationInvited(
        application_id=application.id, programme_id=programme.id, title=application.title,
        closes_at=programme.closes_at, contact=_submitter(application),
    ))  # fmt: skip
    entry = TimelineEntry(id=event.id, at=now, kind="invited", words=domain.words_invited(programme.closes_at))
    return await _save_application(
        tx, application, "it was being invited", status=ApplicationStatus.DRAFT, stage=Stage.FULL,
        form_version=form_version, interest_answers=application.answers, invited_at=now,
        answers={qid: answer for qid, answer in application.answers.items() if qid in asked},
        timeline=[*application.timeline, entry],
    )  # fmt: skip


async def decline_interest(tx: Tx, application_id: str, feedback: str) -> Application:
    application = await _application(tx, application_id)
    _refuse(domain.can_invite(application.status))
    now = utcnow()
    event = await tx.emit(InterestDeclined(
        application_id=application.id, programme_id=application.programme_id, title=application.title,
        feedback=feedback, contact=_submitter(application),
    ))  # fmt: skip
    entry = TimelineEntry(id=event.id, at=now, kind="interest_declined", words=domain.words_interest_declined(feedback))
    await store.release_submission(tx, application)  # the group may express interest again, another way
    return await _save_application(
        tx, application, "it was being declined", status=ApplicationStatus.INTEREST_DECLINED,
        interest_feedback=feedback, timeline=[*application.timeline, entry],
    )  # fmt: skip


async def _application(tx: Tx, application_id: str) -> Application:
    application = await store.get_application(tx, application_id)
    if application is None:
        raise NotFound(f"no application {application_id}")
    return application


def _submitter(application: Application) -> Contact:
    """Who to tell about what happens to an application sent: its contact, as the person who sent it."""
    person = application.submitted_by or application.created_by
    return Contact(person_id=person, name=application.contact.name, email=application.contact.email)


async def withdraw_application(tx: Tx, caller: Caller, application_id: str, reason: str) -> Application:
    application = await own_application(tx, caller, application_id)
    _refuse(domain.can_withdraw(application.status))
    now = utcnow()
    event = await tx.emit(ApplicationWithdrawn(
        application_id=application.id, programme_id=application.programme_id, reason=reason
    ))  # fmt: skip
    entry = TimelineEntry(id=event.id, at=now, kind="withdrawn", words=domain.words_withdrawn(reason))
    await store.release_submission(tx, application)
    return await _save_application(
        tx, application, "it was being withdrawn", status=ApplicationStatus.WITHDRAWN, withdrawn_at=now,
        withdrawal_reason=reason, timeline=[*application.timeline, entry],
    )  # fmt: skip


async def own_application(tx: Tx, caller: Caller, application_id: str) -> Application:
    """An application the caller may change: one of an organisation they represent, or one the
    programme team started on a group's behalf (for a programme manager, until the group takes it over)."""
    return _owned(caller, application_id, await store.get_application(tx, application_id))


def _owned(caller: Caller, application_id: str, application: Application | None) -> Application:
    """``application``, as read, if the caller may change it (``own_application``)."""
    if application is None:
        raise NotFound(f"no application {application_id}")
    if caller.represents(application.organisation_id):
        return application
    if is_manager(caller) and application.assistance is not None and application.assistance.active:
        return application
    raise NotFound(f"no application {application_id}")


async def _represented_application(tx: Tx, caller: Caller, application_id: str) -> Application:
    """An application of an organisation the caller represents: the group's alone, never the team's."""
    application = await store.get_application(tx, application_id)
    if application is None or not caller.represents(application.organisation_id):
        raise NotFound(f"no application {application_id}")
    return application


async def _save_application(tx: Tx, application: Application, meanwhile: str, **changes: object) -> Application:
    saved = _next_version(application, changes)
    if not await store.replace_application(tx, saved, application.version):
        raise PreconditionFailed(f"the application changed while {meanwhile}; read it again and retry")
    return saved


def _save_application_later(tx: Tx, application: Application, **changes: object) -> Application:
    """As ``_save_application``, written with the transaction's events (a round trip fewer): for the
    last change of a command, to an application it read in the same transaction (so the version
    still matches, or the transaction meets a write conflict and is retried whole)."""
    saved = _next_version(application, changes)
    store.replace_application_later(tx, saved, application.version)
    return saved


def _next_version(application: Application, changes: dict[str, object]) -> Application:
    return application.model_copy(update={**changes, "version": application.version + 1, "updated_at": utcnow()})


# --- what downstream services tell us --------------------------------------------------------------

#: The changed fields and the timeline entry to add, or None when the event adds nothing we do not
#: already know.
Outcome = tuple[dict[str, object], TimelineEntry | None] | None
#: What an event changes in the application it is about.
Change = Callable[[Application], Outcome]


class ConcurrentChange(Exception):
    """What an event changes changed between our read and our write; the consumer retries the event."""


async def record_progress(
    tx: Tx, event: Event, application_id: str, change: Change, programme_id: str | None = None
) -> None:
    """Record what ``event`` says about an application and move its status as far as the facts allow
    (``domain.next_status``): facts are kept whatever order they arrive in, and the status never moves
    back. A withdrawn application keeps its status, but late events are still recorded in its timeline.

    An event about an application we do not know is NotFound (dead-lettered): every application id
    other services hold came from our own ``application.submitted``, committed here before it was
    published, so an unknown id means a bug, a foreign publisher or a lost database, none of which a
    retry can fix. Events about drafts or ineligible applications (which other services never heard
    of) and contradictory facts (a second, different decision; a grant or payment for a declined
    application) are Conflicts for the same reason."""
    application = await store.get_application(tx, application_id)
    if application is None:
        raise NotFound(f"no application {application_id}: {event.type} refers to an application we never issued")
    if application.status in (ApplicationStatus.DRAFT, ApplicationStatus.INELIGIBLE,
                              ApplicationStatus.INTEREST_SUBMITTED, ApplicationStatus.INTEREST_DECLINED):  # fmt: skip
        raise Conflict(f"application {application_id} is {application.status}; no other service should know of it")
    if programme_id is not None and programme_id != application.programme_id:
        raise Conflict(
            f"application {application_id} belongs to programme {application.programme_id}, not {programme_id}"
        )
    if application.has_entry(event.id):
        return
    outcome = change(application)
    if outcome is None:
        return
    changes, entry = outcome
    timeline = [*application.timeline, entry] if entry else application.timeline
    updated = application.model_copy(
        update={**changes, "timeline": timeline, "version": application.version + 1, "updated_at": utcnow()}
    )
    progress = updated.progress()
    refusal = domain.contradiction(progress)
    if refusal:
        raise Conflict(f"application {application_id}: {refusal}")
    updated = updated.model_copy(update={"status": domain.next_status(application.status, progress)})
    # Read in this transaction, so the version still matches when it is written, or the transaction
    # is retried whole: written with the inbox record, a round trip fewer.
    store.replace_application_later(tx, updated, application.version)


async def record_interest_score(tx: Tx, application_id: str, score: store.Score) -> None:
    """Scoring scored an expression of interest (a scored stage): the team sees it when shortlisting.
    It moves no status and the group is not told (the score only helps the team choose); a later
    score replaces an earlier one, an older one changes nothing."""
    application = await store.get_application(tx, application_id)
    if application is None:
        raise NotFound(f"no application {application_id}: its score refers to an application we never issued")
    if application.interest_score is not None and application.interest_score.scored_at >= score.scored_at:
        return
    _save_application_later(tx, application, interest_score=score)


def timeline_entry(event: Event, kind: str, words: str, at: datetime | None = None) -> TimelineEntry:
    return TimelineEntry(id=event.id, at=at or event.time, kind=kind, words=words)


# --- small helpers ---------------------------------------------------------------------------------


def _refuse(refusal: str | None) -> None:
    if refusal:
        raise Conflict(refusal)


def _contact_from_token(caller: Caller) -> ContactDetails:
    if not (caller.name and caller.email):
        raise RuleViolation("give a contact name and email: your sign-in did not include them")
    try:
        return ContactDetails(name=caller.name, email=caller.email)
    except ValidationError as error:
        raise RuleViolation("the name or email in your sign-in cannot be used as a contact; give a contact",
                            errors=errors_of(error)) from None  # fmt: skip


def _event_contact(caller: Caller, contact: ContactDetails) -> Contact:
    try:
        return Contact(person_id=caller.subject, name=contact.name, email=contact.email)
    except ValidationError as error:
        raise RuleViolation("your sign-in's subject cannot be used as a person id", errors=errors_of(error)) from None


def errors_of(error: ValidationError) -> list[dict[str, object]]:
    return [
        {"location": list(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
        for e in error.errors(include_url=False, include_context=False, include_input=False)
    ]


# --- equality monitoring and the reach report ------------------------------------------------------


async def save_monitoring(tx: Tx, caller: Caller, application_id: str, answers: dict[str, Any]) -> dict[str, Any]:
    """The group's own voluntary answers, kept apart from its application (any time, even after it is sent).
    Never the programme team's to give, even on an application it helps with."""
    application = await _represented_application(tx, caller, application_id)
    kept = {qid: answer for qid, answer in answers.items() if answer not in (None, [])}
    _refuse_answers(forms.answer_problems(reach.MONITORING_FORM, kept, complete=False), "some answers cannot be saved")
    await store.save_monitoring(tx, store.EqualityMonitoring(
        id=application.id, programme_id=application.programme_id, organisation_id=application.organisation_id,
        answers=kept, updated_at=utcnow(),
    ))  # fmt: skip
    return kept


async def reach_of_programme(tx: Tx, programme: Programme) -> dict[str, Any]:
    """The programme's funnel, from applications' own read model (what scoring and disbursement told
    us is recorded on each application) and the monitoring answers, counted together."""
    rows = await store.reach_rows(tx, programme.id)
    monitoring = await store.monitoring_of_programme(tx, programme.id)
    unsent = [r["organisation_id"] for r in rows if not (r.get("organisation") or {}).get("area")]
    profiles = await store.get_organisations(tx, unsent) if unsent else {}
    facts = []
    for row in rows:
        area = (row.get("organisation") or {}).get("area")
        if area is None and row["organisation_id"] in profiles:
            area = profiles[row["organisation_id"]].area
        answers = monitoring.get(row["_id"], {})
        facts.append(reach.ApplicationFacts(
            status=row["status"], returned=bool(row.get("ineligible_reasons")), invited=row.get("invited_at") is not None,
            two_stage=programme.expression_of_interest is not None, scored=bool(row.get("score")),
            awarded=(row.get("decision") or {}).get("outcome") == "awarded", paid=bool(row.get("payments")),
            area=" ".join(area.split()).title() if area else None, communities=tuple(answers.get("communities_served", ())),
        ))  # fmt: skip
    return reach.reach_report(facts)
# --- erasing a person (UK GDPR article 17) --------------------------------------------------------


async def request_erasure(tx: Tx, caller: Caller, person_id: str, reason: str) -> ErasureRequest:
    """Erase what this service holds about the person now, and ask the other services to do the same
    (each keeps its own confirmation: GET /v1/personal-data/erasures/{id})."""
    request = ErasureRequest(
        id=f"era-{uuid4().hex}", person_digest=sha256(person_id.encode()).hexdigest(), reason=reason,
        requested_by=caller.subject, requested_at=utcnow(),
    )  # fmt: skip
    await privacy.erase(tx, store.PERSONAL_DATA, person_id, request.id)
    await store.insert_erasure_request(tx, request)
    await tx.emit(PersonErasureRequested(request_id=request.id, person_id=person_id))
    return request


# --- the end of an application's retention period -------------------------------------------------


async def anonymise_application(tx: Tx, application_id: str) -> bool:
    """Remove what the application says about people, keep its amounts, dates and decision, and tell
    the other services to do the same with their copies. False if it was done already."""
    application = await store.get_application(tx, application_id)
    if application is None or application.anonymised_at is not None:
        return False
    kept_words = domain.words_anonymised()
    decision = application.decision.model_copy(update={"feedback": ""}) if application.decision else None
    assistance = (application.assistance.model_copy(update={"consent_given_by": privacy.ERASED_NAME})
                  if application.assistance else None)  # fmt: skip
    await tx.emit(ApplicationAnonymised(application_id=application.id, programme_id=application.programme_id))
    await _save_application(
        tx, application, "it was being anonymised", summary="", withdrawal_reason=None, decision=decision,
        contact=ContactDetails(name=privacy.ERASED_NAME, email=privacy.ERASED_EMAIL), anonymised_at=utcnow(),
        assistance=assistance,
        # what the group wrote to the programme's questions, and the feedback on its expression of interest
        answers={}, interest_answers={}, interest_feedback=None,
        timeline=[entry.model_copy(update={"words": kept_words}) for entry in application.timeline],
    )  # fmt: skip
    # Equality answers stay: they describe the communities a group serves, not a person, and the reach
    # report counts them for years. Attached files go too, after the commit (GridFS works outside
    # transactions): see workers.anonymise_due.
    return True
