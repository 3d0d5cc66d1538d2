"""Every change to the scoring database, each run inside the caller's transaction (``tx``) and
emitting the events it causes there: routes and event handlers call these.

Anything outside the caller's scope is NotFound (404), so its existence is not revealed
(``scoring.access``). A change to what a person wrote checks the version they read (If-Match). Every
transition is conditional in the store, so an event handled late, twice or out of order changes
nothing it should not.
"""

import logging
import random
from datetime import datetime, timedelta
from uuid import uuid4

from grants_shared.api import check_version, is_manager
from grants_shared.auth import Caller
from grants_shared import budget, privacy
from grants_shared.clock import utcnow
from grants_shared.errors import (
    Conflict, Forbidden, NotFound, NotYetKnown, PreconditionFailed, PreconditionRequired, RuleViolation,
)  # fmt: skip
from grants_shared.auth import Role
from grants_shared.events import (
    ApplicationDecidedV2,
    ApplicationScored,
    ApplicationSubmitted,
    DecisionBasis,
    DecisionMeetingCalled,
    DecisionTally,
    MeetingVoteReminder,
    ProgrammeBudgetDecreased,
    ProgrammeChanged,
    ProgrammeOpened,
    ReviewAssigned,
    ReviewOverdue,
    ReviewReminderDue,
)
from grants_shared.events import InvolvementClaimApproved, InvolvementClaimRejected
from grants_shared.money import Money
from grants_shared.unit_of_work import Db, Transaction
from scoring import access, domain, store
from scoring.config import Settings
from scoring.domain import (
    ApplicationStatus, ConflictStatus, DecisionMethod, ItemStatus, ProgrammeStatus, ReviewStatus,
)  # fmt: skip
from scoring.schemas import (
    BlindReviewUpdate, ConflictDeclaration, DecisionRequest, DecisionRuleUpdate, ItemClosing, MeetingRequest,
    ModerationRequest, ProfileUpdate, RecommendationRequest, RequiredCoursesUpdate, ReviewDecline, ScoreSheet,
    TrainingRecordRequest,
)  # fmt: skip
from scoring.store import (
    Application, ConflictEntry, ConflictOfInterest, Decision, DecisionMeeting, DecisionRule, DissentRecord,
    ItemDecision, MeetingItem, MemberProfile, Moderation, PanelMember, PanelRecommendation, Programme, QuorumRule,
    Recusal, Review, ScoreChange, TallyRecord, TrainingRecord,
)  # fmt: skip
from scoring.schemas import ExpenseClaimIn, InvolvementPolicyIn
from scoring.store import ClaimLine, InvolvementClaim, InvolvementPolicy, TimeEntry

log = logging.getLogger(__name__)

Tx = Transaction[Settings]


# --- programmes and their panel -------------------------------------------------------------------
# Scoring takes a programme over when applications opens it; from then on its panel is scoring's
# (applications only proposes one while the programme is a draft).


class ProgrammeNotKnownYet(NotYetKnown):
    """Transient: the programme's opening has not reached scoring yet, so the event is retried later."""


async def take_over_programme(tx: Tx, opened: ProgrammeOpened, opened_by: str | None = None) -> None:
    """Keep the programme as it opened, with no awards yet; a repeated opening changes nothing.
    ``opened_by`` (the event's actor) is the manager told of overdue reviews."""
    if await store.get_programme(tx, opened.programme_id):
        return
    await store.insert_programme(tx, Programme(
        id=opened.programme_id, name=opened.name, budget=opened.budget, maximum_award=opened.maximum_award,
        criteria=opened.criteria, reviewers_per_application=opened.reviewers_per_application,
        panel=list(dict.fromkeys(opened.panel)), opened_at=utcnow(), manager_id=opened_by,
    ))  # fmt: skip
    await budget.open_budget(tx, opened.programme_id, opened.budget)


async def close_programme(tx: Tx, programme_id: str) -> None:
    """Reviews of applications already submitted carry on; closing only stops new submissions upstream."""
    programme = await store.get_programme(tx, programme_id)
    if programme is None:
        raise ProgrammeNotKnownYet(f"programme {programme_id} closed before scoring heard it opened")
    if domain.can_move(programme.status, ProgrammeStatus.CLOSED):
        await store.close_programme(tx, programme.id, utcnow())


async def set_blind_review(
    tx: Tx, caller: Caller, programme_id: str, update: BlindReviewUpdate, version: int
) -> Programme:
    """Choose the fields reviewers of the programme are not shown (from now on, on every endpoint)."""
    programme = await access.visible_programme(tx, programme_id, caller)
    check_version(version, programme.version)
    hidden = sorted(set(update.hidden_from_reviewers))
    if not await store.set_hidden_from_reviewers(tx, programme, hidden):
        raise PreconditionFailed("the programme changed since you read it; read it again and retry")
    log.info("programme %s hides %d fields from its reviewers", programme.id, len(hidden))
    return programme.model_copy(update={"hidden_from_reviewers": hidden, "version": programme.version + 1})


async def apply_programme_change(tx: Tx, changed: ProgrammeChanged) -> None:
    """Applications changed an open programme: keep its new name and terms, and add a budget increase
    to what decisions may award. Each change is applied once (a repeat changes nothing)."""
    programme = await store.get_programme(tx, changed.programme_id)
    if programme is None:
        raise ProgrammeNotKnownYet(f"programme {changed.programme_id} changed before scoring heard it opened")
    fields: dict[str, object] = {}
    if changed.name is not None:
        fields["name"] = changed.name
    if changed.budget is not None:
        fields["budget"] = changed.budget.model_dump()
    if changed.maximum_award is not None:
        fields["maximum_award"] = changed.maximum_award.model_dump()
    if not await store.apply_programme_change(tx, programme.id, changed.change_id, fields):
        return
    if changed.budget_added is not None and changed.budget_added.amount > 0:
        await budget.add(tx, programme.id, changed.budget_added)


async def apply_budget_decrease(tx: Tx, decreased: ProgrammeBudgetDecreased) -> None:
    """Disbursement lowered the programme's budget (it holds what is committed and agreed): decisions
    may award that much less. Scoring takes the reduction from what it has left to award; if awards
    decided here have not reached disbursement yet, it may have less left than the reduction, and
    takes what there is (disbursement holds any grant the lower budget cannot cover, for finance)."""
    programme = await store.get_programme(tx, decreased.programme_id)
    if programme is None:
        raise ProgrammeNotKnownYet(f"programme {decreased.programme_id} changed before scoring heard it opened")
    fields = {"budget": decreased.budget.model_dump()}
    if not await store.apply_programme_change(tx, programme.id, decreased.change_id, fields):
        return
    taken = await budget.take_up_to(tx, programme.id, decreased.reduction)
    if taken.amount < decreased.reduction.amount:
        log.warning("programme %s: only %d of a %d reduction was left to award", programme.id, taken.amount,
                    decreased.reduction.amount)  # fmt: skip


async def replace_panel(
    tx: Tx, caller: Caller, programme_id: str, reviewer_ids: list[str], version: int
) -> Programme:
    """Give the programme a new panel: the open reviews of those who leave it go to other members, and
    applications waiting for reviewers get them from the new panel. Completed reviews stand."""
    programme = await access.visible_programme(tx, programme_id, caller)
    check_version(version, programme.version)
    problem = domain.panel_problem(reviewer_ids, programme.reviewers_per_application)
    if problem:
        raise RuleViolation(problem)
    if not await store.replace_panel(tx, programme, reviewer_ids):
        raise PreconditionFailed("the programme changed since you read it; read it again and retry")
    left = sorted(set(programme.panel) - set(reviewer_ids))
    programme = programme.model_copy(update={"panel": reviewer_ids, "version": programme.version + 1})
    # Someone off the panel no longer reads this programme's applications.
    for review in await store.open_reviews_in_programme(tx, programme.id, left):
        await _replace_reviewer(tx, review, "reviewer left the panel")
    await _retry_waiting_applications(tx, programme)
    return programme


# --- applications as they reach scoring -----------------------------------------------------------
# Both are safe to run late, twice or out of order.


async def receive_application(tx: Tx, submitted: ApplicationSubmitted) -> None:
    """Keep a submitted application (not its contact) and assign it reviewers; a repeat changes nothing."""
    record = store.record_id(submitted.application_id, submitted.stage)
    meets = await store.what_a_submission_meets(tx, submitted.programme_id, record, submitted.organisation.id)
    programme = meets.programme
    if programme is None:
        raise ProgrammeNotKnownYet(
            f"application {submitted.application_id} arrived before programme {submitted.programme_id}"
        )
    if meets.kept:
        return
    if submitted.amount_requested.currency != programme.budget.currency:
        raise RuleViolation(
            f"application {submitted.application_id} asks for {submitted.amount_requested.currency}; "
            f"programme {programme.id} pays in {programme.budget.currency}"
        )
    application = Application(
        id=record, programme_id=programme.id, organisation=submitted.organisation, stage=submitted.stage,
        application_id=submitted.application_id if record != submitted.application_id else None,
        title=submitted.title, summary=submitted.summary, amount_requested=submitted.amount_requested,
        submitted_at=submitted.submitted_at, status=ApplicationStatus.AWAITING_REVIEWERS, answers=submitted.answers,
        reviewers_required=programme.reviewers_per_application,
        reviewers_missing=programme.reviewers_per_application,
    )  # fmt: skip
    if meets.withdrawn_early:
        withdrawn = {"status": ApplicationStatus.WITHDRAWN, "withdrawn_at": utcnow()}
        await store.insert_application(tx, application.model_copy(update=withdrawn))
        return
    trained = domain.trained_panel(programme.panel, programme.required_courses, meets.completed_courses)
    choice = _assignment(tx, application, trained, await _open_loads(tx, programme), meets.conflicted)
    application = application.model_copy(update={
        "reviewer_ids": list(choice.reviewer_ids), "reviewers_missing": choice.missing,
        "status": domain.status_after_assignment(choice.missing),
    })  # fmt: skip
    # Written with the events (nothing here reads them back; the next event of a batch sees them).
    store.insert_application_later(tx, application)
    await _create_reviews(tx, programme, application, choice.reviewer_ids, later=True)
    if choice.missing:
        log.warning("application %s is waiting for %d more reviewers", application.id, choice.missing)


async def withdraw_application(tx: Tx, application_id: str) -> None:
    """Withdraw the application and cancel its open reviews; a decision stands. A withdrawal that
    overtakes its submission is remembered, so the submission is kept as withdrawn and never reviewed."""
    application = await store.get_application(tx, application_id)
    if application is None:
        await store.record_early_withdrawal(tx, application_id)
        return
    if not domain.can_move(application.status, ApplicationStatus.WITHDRAWN):
        return  # already withdrawn, or decided
    now = utcnow()
    await store.withdraw_application(tx, application.id, now)
    await store.cancel_open_reviews_of_application(tx, application.id, "application withdrawn", now)
    store.drop_open_items_later(tx, application.id)
    await _reviewers_freed(tx, list(application.reviewer_ids))


async def end_interest_stage(tx: Tx, application_id: str) -> None:
    """The team invited or declined an expression of interest: if its stage was scored and reviewers
    are still at it, their open reviews are cancelled (the stage is over) and the record withdrawn;
    a score already given stands. A programme that does not score the stage has no record: nothing."""
    record = await store.get_application(tx, store.record_id(application_id, "expression_of_interest"))
    if record is None or not domain.can_move(record.status, ApplicationStatus.WITHDRAWN):
        return
    if record.status is ApplicationStatus.SCORED:
        return  # scored: the score stands, and there is nothing open to cancel
    now = utcnow()
    await store.withdraw_application(tx, record.id, now)
    await store.cancel_open_reviews_of_application(tx, record.id, "the expression of interest stage ended", now)


# --- who reviews what -----------------------------------------------------------------------------
# Least loaded first (``domain.assign_reviewers``), never a reviewer conflicted with the applicant
# organisation; with too few free, the application waits in ``awaiting_reviewers``. Receiving an
# application, changing a panel and declaring or resolving a conflict all come here.

#: How many open reviews each reviewer has, across every programme.
Loads = dict[str, int]


async def _open_loads(tx: Tx, programme: Programme) -> Loads:
    return await store.open_review_loads(tx, programme.panel)


async def _choose_reviewers(
    tx: Tx, programme: Programme, application: Application, loads: Loads
) -> domain.Assignment:
    conflicted = await store.conflicted_reviewers(tx, application.organisation.id, programme.panel)
    return _assignment(tx, application, await _trained_panel(tx, programme), loads, conflicted)


def _assignment(
    tx: Tx, application: Application, trained: list[str], loads: Loads, conflicted: set[str]
) -> domain.Assignment:
    needed = application.reviewers_required - len(application.reviewer_ids)
    return domain.assign_reviewers(
        trained, needed, loads, conflicted, application.reviewer_ids, application.declined_by,
        tx.settings.max_open_reviews,
    )


async def _trained_panel(tx: Tx, programme: Programme) -> list[str]:
    """The panel members who may be assigned: those with every course the programme requires."""
    if not programme.required_courses:
        return programme.panel
    completed = await store.completed_courses(tx, programme.panel)
    return domain.trained_panel(programme.panel, programme.required_courses, completed)


async def _create_reviews(
    tx: Tx, programme: Programme, application: Application, reviewer_ids: tuple[str, ...], later: bool = False
) -> None:
    """Open a review for each reviewer and tell them (ReviewAssigned). ``later``: the reviews are
    written with the events, for a caller that reads no reviewer's load after."""
    if not reviewer_ids:
        return
    now = utcnow()
    due = (now + timedelta(days=tx.settings.review_days)).date()
    remind_at, overdue_at = domain.reminder_times(due, tx.settings.review_reminder_days, now)
    reviews = [
        Review(
            id=f"rev-{uuid4().hex}", application_id=application.id, application_title=application.title,
            programme_id=programme.id, organisation_id=application.organisation.id, reviewer_id=reviewer_id,
            status=ReviewStatus.ASSIGNED, assigned_at=now, due_date=due, remind_at=remind_at, overdue_at=overdue_at,
        )  # fmt: skip
        for reviewer_id in reviewer_ids
    ]
    if later:
        store.insert_reviews_later(tx, reviews)
    else:
        await store.insert_reviews(tx, reviews)
    for review in reviews:
        await tx.emit(ReviewAssigned(
            review_id=review.id, application_id=application.id, programme_id=programme.id,
            application_title=application.title, reviewer_id=review.reviewer_id, due_date=due,
        ))  # fmt: skip


async def _top_up_reviewers(tx: Tx, programme: Programme, application: Application, loads: Loads) -> Loads:
    """Assign reviewers to an application that has fewer than it needs; return the loads afterwards."""
    choice = await _choose_reviewers(tx, programme, application, loads)
    status = domain.status_after_assignment(choice.missing)
    if not choice.reviewer_ids and (choice.missing, status) == (application.reviewers_missing, application.status):
        return loads  # nobody free for it and nothing to correct: a write would only meet other top-ups
    await _assign(tx, programme, application, choice)
    return domain.with_new_reviews(loads, choice.reviewer_ids)


async def _assign(tx: Tx, programme: Programme, application: Application, choice: domain.Assignment) -> None:
    """Open the chosen reviewers' reviews and record them, with how many the application still lacks."""
    await _create_reviews(tx, programme, application, choice.reviewer_ids)
    status = domain.status_after_assignment(choice.missing)
    await store.add_reviewers(tx, application.id, choice.reviewer_ids, choice.missing, status)


async def _retry_waiting_applications(tx: Tx, programme: Programme) -> None:
    """Give waiting applications of ``programme`` the reviewers that have become free, oldest first."""
    waiting = await store.applications_of_programme(tx, programme.id, [ApplicationStatus.AWAITING_REVIEWERS])
    if not waiting:
        return
    loads = await _open_loads(tx, programme)
    for application in waiting:
        loads = await _top_up_reviewers(tx, programme, application, loads)


#: A freed reviewer takes one of this many of the oldest waiting applications they may review, at
#: random: reviewers freed at the same moment would otherwise all reach for the oldest and meet on it
#: (10 write conflicts per application with 200 applications at once in the pipeline benchmark).
FREED_CHOOSE_AMONG = 8
#: How many of the oldest waiting applications are read to find those.
FREED_LOOK_AT = 50


async def _reviewers_freed(tx: Tx, reviewer_ids: list[str], still_counted: bool = False) -> None:
    """Reviewers have one open review fewer (they submitted it, or its application was withdrawn). One
    who was at the maximum load before may now take a waiting application: one of the oldest they may
    review, in any programme whose panel they sit on (loads count across programmes). One who was
    below it was free already, so nothing waited for them: one count, and nothing more is read.
    ``still_counted``: the review they are freed of is not written closed yet, so it counts in the load."""
    at_maximum_before = tx.settings.max_open_reviews - (0 if still_counted else 1)
    loads = await store.open_review_loads(tx, reviewer_ids)
    for reviewer_id in reviewer_ids:
        if loads.get(reviewer_id, 0) != at_maximum_before:
            continue
        for programme in await store.programmes_of_panel_member(tx, reviewer_id):
            if await _give_freed_reviewer(tx, programme, reviewer_id):
                break


async def offer_waiting_applications(tx: Tx, programme_id: str) -> int:
    """The waiting watcher's round for one programme: each panel member below the maximum load is given
    one of the oldest waiting applications they may review. How many were given.

    Why: an application that arrives while the panel is full waits, and a reviewer who frees up takes
    one that waits; when both happen at once, neither transaction sees the other's work (the arrival
    read the reviewer's load before the review was submitted, the submission looked for waiting
    applications before the arrival was committed), and without this the application would wait
    until some other reviewer freed up, perhaps for ever."""
    programme = await store.get_programme(tx, programme_id)
    if programme is None:
        return 0
    loads = await _open_loads(tx, programme)
    given = 0
    for reviewer_id in programme.panel:
        if loads.get(reviewer_id, 0) < tx.settings.max_open_reviews and await _give_freed_reviewer(
            tx, programme, reviewer_id
        ):
            given += 1
    return given


async def _give_freed_reviewer(tx: Tx, programme: Programme, reviewer_id: str) -> bool:
    """Assign the freed reviewer to one of the programme's oldest waiting applications they may review
    (not already theirs, not declined by them, no conflict declared); True if one was found."""
    if reviewer_id not in await _trained_panel(tx, programme):
        return False

    def choice(application: Application, conflicted: frozenset[str] | set[str] = frozenset()) -> domain.Assignment:
        # The assignment rules, with the freed reviewer as the only one free (their load is below the maximum).
        needed = application.reviewers_required - len(application.reviewer_ids)
        return domain.assign_reviewers(
            [reviewer_id], needed, {}, conflicted, application.reviewer_ids, application.declined_by
        )

    waiting = await store.oldest_waiting(tx, programme.id, FREED_LOOK_AT)
    open_to_them = [a for a in waiting if choice(a).reviewer_ids]
    candidates = open_to_them[:FREED_CHOOSE_AMONG]
    random.shuffle(candidates)
    for application in candidates + open_to_them[FREED_CHOOSE_AMONG:]:
        # Conflicts are read one application at a time: usually the first one will do.
        assignment = choice(application, await store.conflicted_reviewers(tx, application.organisation.id, [reviewer_id]))
        if assignment.reviewer_ids:
            await _assign(tx, programme, application, assignment)
            return True
    return False


async def _replace_reviewer(tx: Tx, review: Review, reason: str) -> None:
    """Cancel an open review and give its application another reviewer (or leave it waiting for one)."""
    if not await store.cancel_review(tx, review.id, reason, utcnow()):
        return
    await store.drop_reviewer(tx, review.application_id, review.reviewer_id)
    application = await store.get_application(tx, review.application_id)
    programme = await store.get_programme(tx, review.programme_id)
    if application is None or programme is None or application.status not in domain.UNDER_REVIEW:
        return
    await _top_up_reviewers(tx, programme, application, await _open_loads(tx, programme))


# --- reviews --------------------------------------------------------------------------------------


async def save_scores(
    tx: Db, caller: Caller, review_id: str, sheet: ScoreSheet, version: int
) -> tuple[Review, Programme, Application]:
    """Save the scores as a draft: every criterion of the rubric, no other. The review as saved, the
    programme whose rubric it follows and the application it reviews (for the answer).

    Outside a transaction (the service's ``Database``): a draft causes no event, and its one write
    is conditional on the version read, so a change made meanwhile is refused as it would be in one
    (a round trip fewer: no commit)."""
    review, programme, application = await _review_to_score(tx, caller, review_id)
    if review.status not in domain.OPEN_REVIEW:
        raise Conflict("this review has been submitted and can no longer change")
    check_version(version, review.version)
    problems = domain.score_sheet_problems(programme.weights, sheet.scores)
    if problems:
        raise RuleViolation("; ".join(problems), problems=problems)
    if not await store.save_scores(tx, review, sheet.scores):
        raise PreconditionFailed("the review changed since you read it; read it again and retry")
    saved = {"scores": sheet.scores, "status": ReviewStatus.DRAFT, "version": review.version + 1}
    return review.model_copy(update=saved), programme, application


async def submit_review(tx: Tx, caller: Caller, review_id: str) -> tuple[Review, Programme, Application]:
    """Submit the saved scores; the last of an application's reviews scores it. The review as
    submitted, its programme and its application as read (for the answer)."""
    read, application, programme, completed = await store.review_to_submit(tx, review_id)
    review, programme, application = await _may_score(tx, caller, review_id, read, application, programme)
    if review.status is ReviewStatus.COMPLETED:
        raise Conflict("this review has already been submitted")
    complete = not domain.score_sheet_problems(programme.weights, review.scores)
    if not (complete and domain.can_move(review.status, ReviewStatus.COMPLETED)):
        raise Conflict("save a score for every criterion before submitting")
    completed_at = utcnow()
    # The review's completion, its time and the application's count are written with the events (a
    # round trip fewer each): until then the reviewer's load, read below, still counts this review.
    store.complete_review_later(tx, review.id, completed_at)
    _record_review_time(tx, review, completed_at)
    await _count_and_score_if_complete(tx, programme, application, also=review, completed=completed)
    await _reviewers_freed(tx, [review.reviewer_id], still_counted=True)
    submitted = {"status": ReviewStatus.COMPLETED, "completed_at": completed_at, "version": review.version + 1}
    return review.model_copy(update=submitted), programme, application


async def _review_to_score(tx: Db, caller: Caller, review_id: str) -> tuple[Review, Programme, Application]:
    """The caller's review, if they may score it, the programme whose rubric it follows and the
    application it reviews (read together, one round trip)."""
    review, application, programme = await store.review_in_context(tx, review_id)
    return await _may_score(tx, caller, review_id, review, application, programme)


async def _may_score(
    tx: Db, caller: Caller, review_id: str, review: Review | None, application: Application | None,
    programme: Programme | None,
) -> tuple[Review, Programme, Application]:  # fmt: skip
    """The review as read, if the caller may score it, with its programme and application."""
    review = await access.held_review(tx, review_id, review, caller)
    access.not_their_own(caller, review.organisation_id)
    if programme is None or application is None:
        raise NotFound(f"no review {review_id}")
    await _check_trained(tx, programme, caller.subject, "score applications")
    return review, programme, application


async def _count_and_score_if_complete(
    tx: Tx, programme: Programme, application: Application, also: Review, completed: list[Review]
) -> None:
    """Count one more complete review of the application (``also``, being submitted: not written
    complete yet; ``completed``: its others, as read with it) and, when every one of its reviews is
    complete, score it and say so (ApplicationScored)."""
    if not (
        domain.can_move(application.status, ApplicationStatus.SCORED)
        and application.reviews_completed + 1 >= application.reviewers_required
    ):
        store.count_completed_review_later(tx, application, scored=None)
        return
    reviews = [*completed, also]
    sheets = [{key: s.score for key, s in review.scores.items()} for review in reviews]
    score = domain.score_application(programme.weights, sheets, tx.settings.moderation_spread)
    computed = ScoreChange(
        kind="computed", by=tx.actor, at=utcnow(), after=score.weighted_score,
        why=f"every one of the {len(reviews)} reviews was submitted",
    )  # fmt: skip
    store.count_completed_review_later(tx, application, scored=(score, computed))
    await tx.emit(ApplicationScored(
        application_id=application.source_id, programme_id=programme.id, weighted_score=score.weighted_score,
        criterion_means=score.criterion_means, reviewer_count=len(reviews), needs_moderation=score.needs_moderation,
        stage=application.stage,
    ))  # fmt: skip


async def decline_review(tx: Tx, caller: Caller, review_id: str, declining: ReviewDecline) -> Review:
    """A reviewer declines an open review: it is cancelled and another panel member is asked (never
    the one who declined), or the application waits. Declining for a conflict declares it, so the
    reviewer is kept from every application of that organisation."""
    review = await access.own_review(tx, review_id, caller)
    if review.status not in domain.OPEN_REVIEW:
        raise Conflict("this review has been submitted and can no longer be declined")
    if declining.reason == "conflict":
        note = declining.note or "declared when declining a review"
        await declare_conflict(tx, caller, ConflictDeclaration(organisation_id=review.organisation_id, reason=note))
    else:
        await store.record_decline(tx, review.application_id, caller.subject)
        await _replace_reviewer(tx, review, f"declined by the reviewer ({declining.reason})")
    declined = await store.get_review(tx, review.id)
    assert declined is not None
    return declined


async def remind_of_review(tx: Tx, review_id: str) -> bool:
    """Remind the reviewer once, before it is due, of a review still open (the review watcher)."""
    review = await store.get_review(tx, review_id)
    now = utcnow()
    if review is None or review.remind_at is None or review.remind_at > now:
        return False
    if not await store.take_review_watch(tx, review.id, "remind_at", now):
        return False  # another replica took it meanwhile
    if not domain.reminder_due(review.status, review.due_date, now):
        return False
    await tx.emit(ReviewReminderDue(
        review_id=review.id, application_id=review.application_id, programme_id=review.programme_id,
        application_title=review.application_title, reviewer_id=review.reviewer_id, due_date=review.due_date,
    ))  # fmt: skip
    return True


async def notice_overdue_review(tx: Tx, review_id: str) -> bool:
    """Tell the reviewer and the programme's manager once that an open review is overdue (the review watcher)."""
    review = await store.get_review(tx, review_id)
    now = utcnow()
    if review is None or review.overdue_at is None or review.overdue_at > now:
        return False
    if not await store.take_review_watch(tx, review.id, "overdue_at", now):
        return False
    if not domain.is_overdue(review.status, review.due_date, now):
        return False
    programme = await store.get_programme(tx, review.programme_id)
    await tx.emit(ReviewOverdue(
        review_id=review.id, application_id=review.application_id, programme_id=review.programme_id,
        application_title=review.application_title, reviewer_id=review.reviewer_id,
        manager_id=programme.manager_id if programme else None, due_date=review.due_date,
    ))  # fmt: skip
    return True


# --- conflicts of interest ------------------------------------------------------------------------


async def declare_conflict(tx: Tx, caller: Caller, declaration: ConflictDeclaration) -> ConflictOfInterest:
    """Completed reviews stand; open ones are cancelled and reassigned (or the application waits)."""
    if await store.declared_conflict(tx, caller.subject, declaration.organisation_id):
        raise Conflict(f"you have already declared a conflict with {declaration.organisation_id}")
    now = utcnow()
    conflict = ConflictOfInterest(
        id=f"coi-{uuid4().hex}", reviewer_id=caller.subject, organisation_id=declaration.organisation_id,
        reason=declaration.reason, declared_at=now,
        history=[ConflictEntry(action="declared", by=caller.subject, at=now, note=declaration.reason)],
    )  # fmt: skip
    await store.insert_conflict(tx, conflict)
    for review in await store.open_reviews_of_organisation(tx, caller.subject, declaration.organisation_id):
        await _replace_reviewer(tx, review, "reviewer declared a conflict of interest")
    await _recuse_from_open_items(tx, caller.subject, declaration.organisation_id)
    return conflict


async def _recuse_from_open_items(tx: Tx, member_id: str, organisation_id: str) -> None:
    """A conflict declared after a meeting was called recuses the member from its items at once."""
    for item in await store.open_items_of_organisation(tx, organisation_id):
        meeting = await store.get_meeting(tx, item.meeting_id)
        if meeting and member_id in meeting.rule.kinds and member_id not in item.recused:
            await store.add_recusals(tx, item, [Recusal(member_id=member_id, reason=CONFLICT_RECUSAL, at=utcnow())])


async def request_resolution(tx: Tx, caller: Caller, conflict_id: str, note: str) -> ConflictOfInterest:
    """The reviewer who declared a conflict asks a manager to resolve it (a reviewer cannot resolve their
    own conflict: they could then score or decide for that organisation). The request is logged."""
    conflict = await store.get_conflict(tx, conflict_id)
    if conflict is None or conflict.reviewer_id != caller.subject:
        raise NotFound(f"no conflict {conflict_id}")
    if not domain.can_move(conflict.status, ConflictStatus.RESOLVED):
        raise Conflict("this conflict has already been resolved")
    entry = ConflictEntry(action="resolution_requested", by=caller.subject, at=utcnow(), note=note)
    if not await store.request_resolution(tx, conflict.id, entry):
        raise Conflict("this conflict has already been resolved")
    log.info("conflict %s: its reviewer asked for it to be resolved", conflict.id)
    return conflict.model_copy(update={"resolution_requested_at": entry.at, "history": [*conflict.history, entry]})


async def resolve_conflict(tx: Tx, caller: Caller, conflict_id: str, note: str = "") -> ConflictOfInterest:
    """Only a programme manager (or an admin) resolves a conflict; the declaration and every step stay
    in its history. Waiting applications may then be assigned to the reviewer."""
    if not is_manager(caller):
        raise Forbidden("only a programme manager can resolve a conflict of interest; ask for it to be resolved")
    conflict = await store.get_conflict(tx, conflict_id)
    if conflict is None:
        raise NotFound(f"no conflict {conflict_id}")
    if not domain.can_move(conflict.status, ConflictStatus.RESOLVED):
        raise Conflict("this conflict has already been resolved")
    now = utcnow()
    entry = ConflictEntry(action="resolved", by=caller.subject, at=now, note=note)
    resolved = conflict.model_copy(update={
        "status": ConflictStatus.RESOLVED, "resolved_at": now, "resolved_by": caller.subject,
        "history": [*conflict.history, entry],
    })  # fmt: skip
    if not await store.resolve_conflict(tx, resolved, entry):
        raise Conflict("this conflict has already been resolved")
    log.info("conflict %s resolved by a programme manager", conflict.id)
    for programme in await store.programmes_of_panel_member(tx, conflict.reviewer_id):
        await _retry_waiting_applications(tx, programme)
    return resolved


# --- moderation and decisions ---------------------------------------------------------------------


async def moderate(tx: Tx, caller: Caller, application_id: str, request: ModerationRequest) -> Application:
    """Set (or confirm) the weighted score of a scored application, with a note; no event is published."""
    application = await store.get_application(tx, application_id)
    if application is None:
        raise NotFound(f"no application {application_id}")
    computed = application.computed_weighted_score
    if application.status is not ApplicationStatus.SCORED or computed is None:
        raise Conflict(f"only a scored, undecided application can be moderated; this one is {application.status}")
    moderation = Moderation(
        moderated_by=caller.subject, note=request.note,
        weighted_score=computed if request.weighted_score is None else request.weighted_score,
        computed_weighted_score=computed, moderated_at=utcnow(),
    )  # fmt: skip
    change = ScoreChange(
        kind="moderated", by=caller.subject, at=moderation.moderated_at, before=application.weighted_score,
        after=moderation.weighted_score, why=request.note,
    )  # fmt: skip
    if not await store.record_moderation(tx, application, moderation, change):
        raise Conflict("the application changed while you moderated it; read it again")
    return application.model_copy(update={
        "weighted_score": moderation.weighted_score, "needs_moderation": False, "moderation": moderation,
        "score_history": [*application.score_history, change], "version": application.version + 1,
    })  # fmt: skip


async def decide(
    tx: Tx, caller: Caller, application_id: str, request: DecisionRequest
) -> tuple[Application, Decision]:
    """Only for a programme whose decisions are delegated, by someone holding the role they are
    delegated to: award (within the budget) or decline a scored application whose moderation is not
    pending, recorded as delegated. The application as it was before the decision, and the decision."""
    application, programme = await store.application_in_context(tx, application_id)
    if application is None or programme is None or not await _may_decide(tx, caller, programme, application):
        raise NotFound(f"no application {application_id}")
    access.not_their_own(caller, application.organisation.id)
    rule = programme.decision_rule
    if rule is None or rule.method is not DecisionMethod.DELEGATED:
        raise Conflict(
            "this programme's decisions are made by its panel in a decision meeting"
            if rule else "the programme has no decision rule yet: a manager sets it first"
        )
    if not caller.has(Role(rule.delegated_to)):
        raise Forbidden(f"this programme's decisions are delegated to the {rule.delegated_to} role")
    refusal = domain.decision_refusal(application.status, application.needs_moderation)
    if refusal:
        raise Conflict(refusal)
    basis = DecisionBasis(by="delegated", delegated_to=rule.delegated_to)
    decision = await _record_decision(
        tx, caller, programme, application, request.outcome, request.amount_awarded, request.feedback, basis
    )
    store.drop_open_items_later(tx, application.id)
    return application, decision


async def _record_decision(
    tx: Tx, caller: Caller, programme: Programme, application: Application, outcome: domain.Outcome,
    amount: Money | None, feedback: str, basis: DecisionBasis,
) -> Decision:  # fmt: skip
    """Reserve an award from the budget, record the decision and publish it (ApplicationDecidedV2)."""
    if application.stage != "full":
        raise Conflict("an expression of interest is scored to help the team shortlist; only a full application is decided")
    reservation = None
    if amount is not None:
        problems = domain.award_problems(amount, application.amount_requested, programme.maximum_award)
        if problems:
            raise RuleViolation("; ".join(problems), problems=problems)
        # Conditional updates on the budget's buckets: concurrent awards rarely meet in one, and an
        # award the budget can no longer cover abandons the decision with it. What remains is read
        # only to say why an award does not fit.
        reservation = await budget.reserve(tx, programme.id, amount)
        if reservation is None:
            remaining = await budget.available(tx, programme.id) or Money(amount=0, currency=amount.currency)
            problems = domain.award_problems(amount, application.amount_requested, programme.maximum_award, remaining)
            problems = problems or ["this award would take the programme over its budget"]
            raise RuleViolation("; ".join(problems), problems=problems)
    decision = Decision(
        outcome=outcome, amount_awarded=amount, feedback=feedback, decided_at=utcnow(), recorded_by=caller.subject,
        by=basis.by, meeting_id=basis.meeting_id, delegated_to=basis.delegated_to,
        reserved=reservation.to_doc() if reservation else [],
    )  # fmt: skip
    # Both callers read the application in this transaction and found it waiting for a decision
    # (``domain.decision_refusal``): the write cannot miss it, only meet a conflict and run again.
    store.record_decision_later(tx, application.id, decision)
    await tx.emit(ApplicationDecidedV2(
        application_id=application.id, programme_id=programme.id, organisation_id=application.organisation.id,
        outcome=decision.outcome, amount_awarded=amount, feedback=decision.feedback, decided_at=decision.decided_at,
        decided_by=basis,
    ))  # fmt: skip
    return decision


async def _may_decide(tx: Tx, caller: Caller, programme: Programme, application: Application) -> bool:
    """Managers, and the experts on the programme's panel who have no conflict with the applicant."""
    if is_manager(caller):
        return True
    if caller.subject not in programme.panel:
        return False
    return await store.declared_conflict(tx, caller.subject, application.organisation.id) is None


# --- erasing a person (UK GDPR article 17) --------------------------------------------------------


async def erase_person(tx: Tx, request_id: str, person_id: str) -> None:
    """Anonymise what this service holds about the person, once per request; the record that it did
    is this service's confirmation (GET /v1/personal-data/erasures/{request_id})."""
    await privacy.erase(tx, store.PERSONAL_DATA, person_id, request_id)


async def anonymise_application(tx: Tx, application_id: str) -> None:
    """The application's retention period ended: remove what this service holds about people in it
    (and in its scored expression of interest, if it had one)."""
    interest = store.record_id(application_id, "expression_of_interest")
    records = [application_id, *([interest] if await store.get_application(tx, interest) else [])]
    for record in records:
        done = await privacy.erase(tx, store.APPLICATION_DATA, record, f"retention-{record}", actor=False)
        if done is not None:
            await store.clear_review_comments(tx, record)


# --- decision rules and meetings ------------------------------------------------------------------
# A programme decides by its rule: a panel (experts by experience and staff) in a decision meeting,
# with a quorum and majority or consensus; or delegated to a named role (``decide`` above). A meeting
# decides by the rule as it stood when it was called. Members with a declared conflict with an
# organisation are recused from its item, at the call and again whenever the item is touched.


async def set_decision_rule(
    tx: Tx, caller: Caller, programme_id: str, update: DecisionRuleUpdate, version: int
) -> Programme:
    programme = await access.visible_programme(tx, programme_id, caller)
    check_version(version, programme.version)
    kinds = {m.member_id: m.kind for m in update.members}
    quorum = domain.Quorum(update.quorum.members, update.quorum.experts) if update.quorum else None
    problems = domain.decision_rule_problems(update.method, kinds, quorum, update.delegated_to)
    if problems:
        raise RuleViolation("; ".join(problems), problems=problems)
    rule = DecisionRule(
        method=update.method, members=[PanelMember(member_id=m.member_id, kind=m.kind) for m in update.members],
        quorum=QuorumRule(members=quorum.members, experts=quorum.experts) if quorum else None,
        delegated_to=update.delegated_to, set_by=caller.subject, set_at=utcnow(),
    )  # fmt: skip
    if not await store.set_decision_rule(tx, programme, rule):
        raise PreconditionFailed("the programme changed since you read it; read it again and retry")
    log.info("programme %s decides by %s from now on", programme.id, rule.method)
    return programme.model_copy(update={"decision_rule": rule, "version": programme.version + 1})


async def call_meeting(tx: Tx, caller: Caller, programme_id: str, request: MeetingRequest) -> DecisionMeeting:
    """A meeting on scored applications of the programme, none already on another open agenda; every
    panel member is invited (DecisionMeetingCalled); those with a declared conflict are recused."""
    programme = await access.visible_programme(tx, programme_id, caller)
    rule = programme.decision_rule
    if rule is None or rule.method is DecisionMethod.DELEGATED:
        raise Conflict(
            "this programme's decisions are delegated to a role, not made in a meeting"
            if rule else "the programme has no decision rule yet: set who decides and the quorum first"
        )
    _attending_members(rule, request.attendance)
    applications = []
    for application_id in request.application_ids:
        application = await store.get_application(tx, application_id)
        if application is None or application.programme_id != programme.id:
            raise RuleViolation(f"application {application_id} is not one of this programme's")
        if application.status is not ApplicationStatus.SCORED:
            raise Conflict(f"application {application_id} is {application.status}; a meeting decides scored applications")
        applications.append(application)
    if await store.open_items_of_applications(tx, request.application_ids):
        raise Conflict("an application is already on the agenda of another meeting that has not decided it")
    now = utcnow()
    meeting = DecisionMeeting(
        id=f"mtg-{uuid4().hex}", programme_id=programme.id, held_on=request.held_on, rule=rule,
        attendance=request.attendance, application_ids=request.application_ids, called_by=caller.subject,
        called_at=now, vote_reminder_at=domain.vote_reminder_time(request.held_on, tx.settings.vote_reminder_hours),
    )  # fmt: skip
    members = list(rule.kinds)
    items = []
    for application in applications:
        conflicted = await store.conflicted_reviewers(tx, application.organisation.id, members)
        items.append(MeetingItem(
            id=store.item_id(meeting.id, application.id), meeting_id=meeting.id, programme_id=programme.id,
            application_id=application.id, title=application.title, organisation_id=application.organisation.id,
            organisation_name=application.organisation.name, amount_requested=application.amount_requested,
            recusals=[Recusal(member_id=m, reason=CONFLICT_RECUSAL, at=now) for m in sorted(conflicted)],
        ))  # fmt: skip
    await store.insert_meeting(tx, meeting, items)
    await _record_meeting_time(tx, meeting, [])
    await tx.emit(DecisionMeetingCalled(
        meeting_id=meeting.id, programme_id=programme.id, held_on=meeting.held_on, item_count=len(items),
        member_ids=members,
    ))  # fmt: skip
    return meeting


CONFLICT_RECUSAL = "declared a conflict of interest with the organisation"


async def remind_of_votes(tx: Tx, meeting_id: str) -> int:
    """Once the meeting's day has come, remind each member present, not recused and allowed to vote
    of the open items still without their recommendation: one reminder per member per meeting (the
    vote watcher). How many members were reminded."""
    meeting = await store.get_meeting(tx, meeting_id)
    now = utcnow()
    if meeting is None or meeting.vote_reminder_at is None or meeting.vote_reminder_at > now:
        return 0
    if not await store.take_vote_reminder(tx, meeting.id, now):
        return 0  # another replica took it meanwhile
    open_items = {
        item.application_id: item.recused for item in await store.items_of_meeting(tx, meeting.id)
        if item.status is ItemStatus.OPEN
    }  # fmt: skip
    if not open_items:
        return 0
    voted = {(r.application_id, r.member_id) for r in await store.recommendations_of_meeting(tx, meeting.id)}
    programme = await store.get_programme(tx, meeting.programme_id)
    present = [m for m in meeting.attendance if m in meeting.rule.kinds]
    untrained = await access.untrained(tx, programme, present)
    awaiting = domain.awaiting_votes(present, open_items, voted, untrained)
    for member_id, count in awaiting.items():
        await tx.emit(MeetingVoteReminder(
            meeting_id=meeting.id, programme_id=meeting.programme_id, held_on=meeting.held_on, member_id=member_id,
            items_awaiting=count,
        ))  # fmt: skip
    return len(awaiting)


def _attending_members(rule: DecisionRule, attendance: list[str]) -> None:
    strangers = sorted(set(attendance) - set(rule.kinds))
    if strangers:
        raise RuleViolation(f"not on the programme's decision panel: {', '.join(strangers)}")


async def set_attendance(tx: Tx, caller: Caller, meeting_id: str, member_ids: list[str], version: int) -> DecisionMeeting:
    meeting = await _managed_meeting(tx, caller, meeting_id)
    check_version(version, meeting.version)
    _attending_members(meeting.rule, member_ids)
    if not await store.set_attendance(tx, meeting, member_ids):
        raise PreconditionFailed("the meeting changed since you read it; read it again and retry")
    updated = meeting.model_copy(update={"attendance": member_ids, "version": meeting.version + 1})
    await _record_meeting_time(tx, updated, meeting.attendance)
    return updated


async def _managed_meeting(tx: Tx, caller: Caller, meeting_id: str) -> DecisionMeeting:
    meeting = await store.get_meeting(tx, meeting_id)
    if meeting is None or not is_manager(caller):
        raise NotFound(f"no meeting {meeting_id}")
    return meeting


async def _open_item(tx: Tx, meeting: DecisionMeeting, application_id: str) -> MeetingItem:
    """The item, with anyone who has declared a conflict with its organisation since recused from it."""
    item = await store.get_item(tx, meeting.id, application_id)
    if item is None:
        raise NotFound(f"no item {application_id} in meeting {meeting.id}")
    if not domain.can_move(item.status, ItemStatus.DECIDED):
        raise Conflict(f"this item is {item.status}: recommendations can no longer change")
    conflicted = await store.conflicted_reviewers(tx, item.organisation_id, list(meeting.rule.kinds))
    newly = sorted(conflicted - item.recused)
    if newly:
        now = utcnow()
        recusals = [Recusal(member_id=m, reason=CONFLICT_RECUSAL, at=now) for m in newly]
        await store.add_recusals(tx, item, recusals)
        item = item.model_copy(update={"recusals": [*item.recusals, *recusals]})
    return item


async def record_recommendation(
    tx: Tx, caller: Caller, meeting_id: str, application_id: str, request: RecommendationRequest
) -> PanelRecommendation:
    """A panel member present and not recused records (or changes) their recommendation on an open item."""
    meeting = await store.get_meeting(tx, meeting_id)
    if meeting is None or caller.subject not in meeting.rule.kinds:
        raise NotFound(f"no meeting {meeting_id}")
    item = await _open_item(tx, meeting, application_id)
    access.not_their_own(caller, item.organisation_id)
    if caller.subject in item.recused:
        raise Conflict("you are recused from this item: you declared a conflict of interest with the organisation")
    if caller.subject not in meeting.attendance:
        raise Conflict("only members recorded as present at the meeting record recommendations")
    amount = request.amount
    if amount is not None and amount.currency != item.amount_requested.currency:
        raise RuleViolation(f"the programme pays in {item.amount_requested.currency}")
    programme = await store.get_programme(tx, meeting.programme_id)
    if programme is not None:
        await _check_trained(tx, programme, caller.subject, "vote in decision meetings")
    maximum = programme.maximum_award.amount if programme else item.amount_requested.amount
    problems = domain.vote_problems(
        request.recommendation, amount.amount if amount else None, item.amount_requested.amount, maximum
    )
    if problems:
        raise RuleViolation("; ".join(problems), problems=problems)
    recommendation = PanelRecommendation(
        id=f"{item.id}:{caller.subject}", meeting_id=meeting.id, application_id=item.application_id,
        member_id=caller.subject, recommendation=request.recommendation, amount=amount, reason=request.reason,
        may_be_named=request.may_be_named, recorded_at=utcnow(),
    )  # fmt: skip
    await store.record_recommendation(tx, recommendation)
    return recommendation


def votes_of(recommendations: list[PanelRecommendation]) -> dict[str, domain.Vote]:
    return {
        r.member_id: domain.Vote(r.recommendation, r.amount.amount if r.amount else None, r.reason, r.may_be_named)
        for r in recommendations
    }


async def close_item(
    tx: Tx, caller: Caller, meeting_id: str, application_id: str, closing: ItemClosing
) -> tuple[MeetingItem, Decision]:
    """Record the panel's decision on an item once its rule is met (409 with what it still needs
    otherwise: quorum, recommendations, a majority or consensus), and publish it."""
    meeting = await _managed_meeting(tx, caller, meeting_id)
    item = await _open_item(tx, meeting, application_id)
    application = await store.get_application(tx, application_id)
    programme = await store.get_programme(tx, meeting.programme_id)
    if application is None or programme is None:
        raise NotFound(f"no item {application_id} in meeting {meeting.id}")
    refusal = domain.decision_refusal(application.status, application.needs_moderation)
    if refusal:
        raise Conflict(refusal)
    rule = meeting.rule
    assert rule.quorum is not None  # a meeting is only called under a panel's rule
    voting = domain.voters(rule.kinds, meeting.attendance, item.recused)
    # A member who may not vote yet (a required course missing) neither votes nor counts to the quorum.
    untrained = await access.untrained(tx, programme, list(voting))
    voting = {m: kind for m, kind in voting.items() if m not in untrained}
    votes = votes_of(await store.recommendations_of_item(tx, meeting.id, item.application_id))
    try:
        result = domain.decide_item(
            rule.method, domain.Quorum(rule.quorum.members, rule.quorum.experts), voting, votes, item.recused,
            item.amount_requested.amount,
        )
    except domain.NotDecided as not_yet:
        raise Conflict(f"the panel has not decided this item: {not_yet}") from None
    if result.outcome == domain.DECLINED and not closing.feedback.strip():
        raise RuleViolation("a decision not to fund needs feedback for the applicant")
    currency = item.amount_requested.currency
    amount = Money(amount=result.amount, currency=currency) if result.amount is not None else None
    counts = result.tally
    tally = DecisionTally(
        fund=counts.fund, fund_different_amount=counts.fund_different_amount, do_not_fund=counts.do_not_fund,
        abstain=counts.abstain, recused=counts.recused,
    )  # fmt: skip
    basis = DecisionBasis(by="panel", meeting_id=meeting.id, tally=tally)
    decision = await _record_decision(
        tx, caller, programme, application, result.outcome, amount, closing.feedback, basis
    )
    item_decision = ItemDecision(
        outcome=result.outcome, amount_awarded=amount, tally=TallyRecord(**tally.model_dump()),
        dissent=[
            DissentRecord(
                recommendation=d.recommendation, reason=d.reason, member_id=d.member_id,
                amount=Money(amount=d.amount, currency=currency) if d.amount is not None else None,
            )
            for d in result.dissent
        ],
        rationale=closing.rationale, feedback=closing.feedback, decided_at=decision.decided_at,
        closed_by=caller.subject,
    )  # fmt: skip
    if not await store.close_item(tx, item, item_decision):
        raise Conflict("this item was closed meanwhile")
    log.info("meeting %s decided application %s by its panel", meeting.id, application.id)
    return item.model_copy(update={"status": ItemStatus.DECIDED, "decision": item_decision}), decision


# --- panel members supported: profiles and training ------------------------------------------------
# A member keeps their own profile (preferred name, contact, access needs); managers read it to plan
# meetings. Managers record the courses members complete, and may require courses of a programme's
# panel: a member who lacks one is not assigned reviews and may not score or vote there.


async def _check_trained(tx: Db, programme: Programme, member_id: str, doing: str) -> None:
    if not programme.required_courses:
        return
    completed = (await store.completed_courses(tx, [member_id]))[member_id]
    refusal = domain.training_refusal(programme.required_courses, completed, doing)
    if refusal:
        missing = domain.missing_courses(programme.required_courses, completed)
        raise Forbidden(refusal, missing_courses=[str(c) for c in missing])


async def save_profile(tx: Tx, caller: Caller, member_id: str, update: ProfileUpdate, version: int | None) -> MemberProfile:
    """The member's own profile; nobody else writes it (managers only read it)."""
    if caller.subject != member_id:
        raise Forbidden("only the member themself can change their profile")
    stored = await store.get_profile(tx, member_id)
    current = stored or MemberProfile(id=member_id)
    check_version(version, current.version)
    profile = MemberProfile(
        id=member_id, **update.model_dump(), updated_at=utcnow(), version=current.version + 1
    )
    if not await store.save_profile(tx, profile, current.version, exists=stored is not None):
        raise PreconditionFailed("the profile changed since you read it; read it again and retry")
    return profile


async def record_training(tx: Tx, caller: Caller, member_id: str, request: TrainingRecordRequest) -> TrainingRecord:
    """A manager records a course a member completed; applications waiting for reviewers on the
    member's panels may now be given them."""
    problem = domain.training_date_problem(request.completed_on, utcnow().date())
    if problem:
        raise RuleViolation(problem)
    record = TrainingRecord(
        id=f"trn-{uuid4().hex}", member_id=member_id, course=request.course, completed_on=request.completed_on,
        recorded_by=caller.subject, recorded_at=utcnow(),
    )  # fmt: skip
    await store.insert_training(tx, record)
    # Closed programmes too: their submitted applications are still being reviewed.
    for programme in await store.programmes_of_panel_member(tx, member_id):
        if programme.required_courses:
            await _retry_waiting_applications(tx, programme)
    return record


async def set_required_courses(
    tx: Tx, caller: Caller, programme_id: str, update: RequiredCoursesUpdate, version: int
) -> Programme:
    """Require courses of the programme's panel from now on: the open reviews of members who lack one
    go to members who have them (or the application waits); completed reviews stand."""
    programme = await access.visible_programme(tx, programme_id, caller)
    check_version(version, programme.version)
    courses = list(dict.fromkeys(update.courses))
    if not await store.set_required_courses(tx, programme, courses):
        raise PreconditionFailed("the programme changed since you read it; read it again and retry")
    programme = programme.model_copy(update={"required_courses": courses, "version": programme.version + 1})
    trained = set(await _trained_panel(tx, programme))
    untrained = [m for m in programme.panel if m not in trained]
    for review in await store.open_reviews_in_programme(tx, programme.id, untrained):
        await _replace_reviewer(tx, review, "a course the programme requires is missing")
    await _retry_waiting_applications(tx, programme)
    return programme
# --- involvement payments to panel members --------------------------------------------------------
# Time is recorded from what scoring already knows: a decision meeting an expert by experience is
# recorded as attending (staff are paid by their employer), and a review completed. One entry per
# meeting and member, and per review (a unique index), however often attendance is saved. The
# member claims their unclaimed time (valued by the programme's policy as it stands then) or an
# expense; a manager approves or rejects each claim, and an approved claim goes to disbursement
# (InvolvementClaimApproved), which pays it as the member chose.


async def set_involvement_policy(
    tx: Tx, caller: Caller, programme_id: str, update: InvolvementPolicyIn, version: int | None
) -> InvolvementPolicy:
    programme = await access.visible_programme(tx, programme_id, caller)
    current = await store.get_involvement_policy(tx, programme.id)
    if current is not None:
        if version is None:
            raise PreconditionRequired("send the ETag of the policy you last read in an If-Match header")
        check_version(version, current.version)
    problems = domain.involvement_policy_problems(update.unit, update.meeting, update.review)
    if update.rate.currency != programme.budget.currency:
        problems.append(f"the programme pays in {programme.budget.currency}")
    if update.expenses_allowed and not update.expense_categories:
        problems.append("say which expenses the programme pays")
    if problems:
        raise RuleViolation("; ".join(problems), problems=problems)
    policy = InvolvementPolicy(
        id=programme.id, unit=update.unit, rate=update.rate, meeting=update.meeting, review=update.review,
        expenses_allowed=update.expenses_allowed,
        expense_categories=list(dict.fromkeys(update.expense_categories)) if update.expenses_allowed else [],
        set_by=caller.subject, set_at=utcnow(), version=current.version + 1 if current else 1,
    )  # fmt: skip
    if not await store.save_involvement_policy(tx, policy, current.version if current else None):
        raise PreconditionFailed("the involvement policy changed since you read it; read it again and retry")
    return policy


async def _record_meeting_time(tx: Tx, meeting: DecisionMeeting, attended_before: list[str]) -> None:
    source = f"meeting:{meeting.id}"
    experts = [m for m in meeting.attendance if meeting.rule.kinds.get(m) is domain.MemberKind.EXPERT_BY_EXPERIENCE]
    now = utcnow()
    for member_id in experts:
        await store.record_time_entry(tx, TimeEntry(
            id=f"tim-{uuid4().hex}", programme_id=meeting.programme_id, member_id=member_id,
            kind=domain.TimeEntryKind.MEETING, source=source, title=f"Decision meeting on {meeting.held_on}",
            on=meeting.held_on, recorded_at=now,
        ))  # fmt: skip
    # Someone recorded as present by mistake loses the entry (unless they have claimed it already).
    await store.drop_unclaimed_time(tx, source, sorted(set(attended_before) - set(meeting.attendance)))


def _record_review_time(tx: Tx, review: Review, completed_at: datetime) -> None:
    store.record_time_entry_later(tx, TimeEntry(
        id=f"tim-{uuid4().hex}", programme_id=review.programme_id, member_id=review.reviewer_id,
        kind=domain.TimeEntryKind.REVIEW, source=f"review:{review.id}", title=f"Review of {review.application_title}",
        on=completed_at.date(), recorded_at=completed_at,
    ))  # fmt: skip


async def _policy_for_claims(tx: Tx, caller: Caller, programme_id: str) -> tuple[Programme, InvolvementPolicy]:
    programme = await store.get_programme(tx, programme_id)
    members = set(programme.panel) | set(programme.decision_rule.kinds if programme.decision_rule else {}) if programme else set()
    if programme is None or caller.subject not in members:
        raise NotFound(f"no programme {programme_id}")
    policy = await store.get_involvement_policy(tx, programme.id)
    if policy is None:
        raise Conflict("this programme has no involvement policy yet: its manager sets what involvement is paid")
    return programme, policy


async def claim_time(tx: Tx, caller: Caller, programme_id: str) -> InvolvementClaim:
    """Claim every unclaimed time entry of the caller's in the programme, valued by its policy now."""
    programme, policy = await _policy_for_claims(tx, caller, programme_id)
    entries = [e for e in await store.time_entries_of(tx, caller.subject, programme.id) if e.claim_id is None]
    if not entries:
        raise Conflict("you have no time in this programme that is not already claimed")
    involvement = policy.involvement()
    lines = [
        ClaimLine(entry_id=e.id, kind=e.kind, title=e.title, on=e.on, quantity=domain.describe_quantity(involvement, e.kind),
                  amount=domain.entry_amount(involvement, e.kind))
        for e in entries
    ]  # fmt: skip
    total = sum((line.amount for line in lines[1:]), lines[0].amount)
    claim = InvolvementClaim(
        id=f"clm-{uuid4().hex}", programme_id=programme.id, member_id=caller.subject, kind=domain.ClaimKind.TIME,
        status=domain.ClaimStatus.SUBMITTED, amount=total, lines=lines, submitted_at=utcnow(),
    )  # fmt: skip
    if await store.claim_time_entries(tx, [e.id for e in entries], claim.id) != len(entries):
        raise Conflict("some of this time was claimed at the same moment; read your time again")
    await store.insert_claim(tx, claim)
    return claim


async def claim_expense(tx: Tx, caller: Caller, programme_id: str, expense: ExpenseClaimIn) -> InvolvementClaim:
    programme, policy = await _policy_for_claims(tx, caller, programme_id)
    problems = domain.expense_problems(
        policy.expenses_allowed, policy.expense_categories, expense.category, expense.amount, policy.rate.currency
    )
    if expense.incurred_on > utcnow().date():
        problems.append("an expense is claimed once it has been paid, not before")
    if problems:
        raise RuleViolation("; ".join(problems), problems=problems)
    claim = InvolvementClaim(
        id=f"clm-{uuid4().hex}", programme_id=programme.id, member_id=caller.subject,
        kind=domain.ClaimKind.EXPENSES, status=domain.ClaimStatus.SUBMITTED, amount=expense.amount,
        category=expense.category, incurred_on=expense.incurred_on, note=expense.note.strip(), submitted_at=utcnow(),
    )  # fmt: skip
    await store.insert_claim(tx, claim)
    return claim


async def _claim_to_decide(tx: Tx, caller: Caller, claim_id: str, version: int) -> InvolvementClaim:
    claim = await store.get_claim(tx, claim_id)
    if claim is None or not is_manager(caller):
        raise NotFound(f"no claim {claim_id}")
    if claim.member_id == caller.subject:
        raise Forbidden("nobody approves their own claim: ask another programme manager")
    check_version(version, claim.version)
    if not domain.can_move_claim(claim.status, domain.ClaimStatus.APPROVED):
        raise Conflict(f"this claim is {claim.status} already")
    return claim


async def approve_claim(tx: Tx, caller: Caller, claim_id: str, version: int) -> InvolvementClaim:
    claim = await _claim_to_decide(tx, caller, claim_id, version)
    now = utcnow()
    fields = {"status": domain.ClaimStatus.APPROVED, "decided_by": caller.subject, "decided_at": now}
    if not await store.decide_claim(tx, claim, fields):
        raise PreconditionFailed("the claim changed since you read it; read it again and retry")
    await tx.emit(InvolvementClaimApproved(
        claim_id=claim.id, programme_id=claim.programme_id, member_id=claim.member_id, kind=claim.kind,
        amount=claim.amount, approved_at=now,
    ))  # fmt: skip
    return claim.model_copy(update={**fields, "version": claim.version + 1})


async def reject_claim(tx: Tx, caller: Caller, claim_id: str, reason: str, version: int) -> InvolvementClaim:
    """Not approved, with the reason; the time on it can be claimed again (corrected attendance, say)."""
    claim = await _claim_to_decide(tx, caller, claim_id, version)
    now = utcnow()
    fields = {"status": domain.ClaimStatus.REJECTED, "decided_by": caller.subject, "decided_at": now,
              "reason": reason.strip()}  # fmt: skip
    if not await store.decide_claim(tx, claim, fields):
        raise PreconditionFailed("the claim changed since you read it; read it again and retry")
    await store.free_time_entries(tx, claim.id)
    await tx.emit(InvolvementClaimRejected(
        claim_id=claim.id, programme_id=claim.programme_id, member_id=claim.member_id, kind=claim.kind,
        amount=claim.amount, reason=reason.strip(),
    ))  # fmt: skip
    return claim.model_copy(update={**fields, "version": claim.version + 1})
