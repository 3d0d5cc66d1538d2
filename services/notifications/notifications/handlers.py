"""What other services tell us: kept where later messages need it, told to the people it concerns,
and queued for the integrators who subscribed to it.

Each handler says what its event tells whom (the ``domain`` builds the notice); the commands find the
person, put the notification in their inbox and queue its email. After each handler,
``commands.tell_integrators`` queues one webhook delivery per subscription in the same transaction
(``integrators_too``, around every handler in HANDLERS).
"""

from functools import wraps
from typing import Any

from grants_shared.consumer import Handler, registry
from grants_shared.events import (
    ApplicationAnonymised,
    ApplicationDecided,
    ApplicationDecidedV2,
    DecisionMeetingCalled,
    ApplicationIneligible,
    ApplicationInvited,
    ApplicationReturnedForCorrection,
    ApplicationScored,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    Event,
    InvolvementClaimApproved,
    InvolvementClaimPaid,
    InvolvementClaimRejected,
    InvolvementPaymentFailed,
    GrantAccepted,
    GrantOffered,
    GrantOfferDeclined,
    GrantRepaymentRecorded,
    GrantVaried,
    GrantOfferExpired,
    GrantOfferReminder,
    MonitoringReportAccepted,
    MonitoringReportChangesRequested,
    MonitoringReportDue,
    InterestDeclined,
    InterestSubmitted,
    MonitoringReportSubmitted,
    GroupTrainingAttended,
    GroupTrainingBooked,
    GroupTrainingOffered,
    GroupTrainingReminder,
    MeetingVoteReminder,
    PaymentFailed,
    PaymentHeld,
    PaymentReleased,
    PaymentRunApproved,
    PaymentRunAwaitingApproval,
    PaymentRunExported,
    PaymentScheduled,
    PaymentSent,
    PersonErasureRequested,
    ProgrammeBudgetDecreased,
    ProgrammeBudgetDecreaseRefused,
    ProgrammeBudgetDecreaseRequested,
    ProgrammeChanged,
    ProgrammeClosed,
    ProgrammeOpened,
    ReviewAssigned,
    ReviewOverdue,
    ReviewReminderDue,
    TrancheHeldForReport,
    TrancheReleased,
)
from grants_shared.unit_of_work import Transaction
from notifications import commands, domain
from notifications.commands import Tx


async def on_programme_opened(event: Event[ProgrammeOpened], tx: Tx) -> None:
    data = event.data
    await commands.record_programme_opened(tx, data.programme_id, data.name, data.closes_at)


async def on_programme_closed(event: Event[ProgrammeClosed], tx: Tx) -> None:
    await commands.record_programme_closed(tx, event.data.programme_id, event.time)


async def on_programme_changed(event: Event[ProgrammeChanged], tx: Tx) -> None:
    """A new name or a later closing date is what later messages about the programme must say."""
    data = event.data
    await commands.record_programme_changed(tx, data.programme_id, data.name, data.closes_at)


async def on_programme_budget_decrease_requested(event: Event[ProgrammeBudgetDecreaseRequested], tx: Tx) -> None:
    """Concerns no applicant or reviewer (the manager sees the answer in the programme's history):
    consumed so that integrators can subscribe to it."""


async def on_programme_budget_decreased(event: Event[ProgrammeBudgetDecreased], tx: Tx) -> None:
    """Consumed only so that integrators can subscribe to it."""


async def on_programme_budget_decrease_refused(event: Event[ProgrammeBudgetDecreaseRefused], tx: Tx) -> None:
    """Consumed only so that integrators can subscribe to it."""


async def on_application_submitted(event: Event[ApplicationSubmitted], tx: Tx) -> None:
    data = event.data
    introduced = await commands.introduce_application(tx, event)
    if data.stage != "full":
        return  # an expression of interest sent to reviewers: the group heard of it from interest_submitted
    await commands.tell_about(
        tx, event, introduced,
        lambda app, programme: domain.application_received(app, programme, data.amount_requested),
    )  # fmt: skip


async def on_application_ineligible(event: Event[ApplicationIneligible], tx: Tx) -> None:
    data = event.data
    introduced = await commands.introduce_application(tx, event)
    await commands.tell_about(
        tx, event, introduced,
        lambda app, programme: domain.application_ineligible(app, programme, data.reasons),
    )  # fmt: skip


async def on_application_returned_for_correction(event: Event[ApplicationReturnedForCorrection], tx: Tx) -> None:
    data = event.data
    introduced = await commands.introduce_application(tx, event)
    await commands.tell_about(
        tx, event, introduced,
        lambda app, programme: domain.application_returned(app, programme, data.reasons, data.closes_at, event.id),
    )  # fmt: skip


async def on_interest_submitted(event: Event[InterestSubmitted], tx: Tx) -> None:
    introduced = await commands.introduce_application(tx, event)
    await commands.tell_about(tx, event, introduced, domain.interest_received)


async def on_application_invited(event: Event[ApplicationInvited], tx: Tx) -> None:
    data = event.data
    introduced = await commands.introduce_application(tx, event)
    await commands.tell_about(
        tx, event, introduced, lambda app, programme: domain.application_invited(app, programme, data.closes_at)
    )


async def on_interest_declined(event: Event[InterestDeclined], tx: Tx) -> None:
    data = event.data
    introduced = await commands.introduce_application(tx, event)
    await commands.tell_about(
        tx, event, introduced, lambda app, programme: domain.interest_declined(app, programme, data.feedback)
    )


async def on_application_withdrawn(event: Event[ApplicationWithdrawn], tx: Tx) -> None:
    data = event.data
    await commands.tell_applicant(
        tx, event, data.application_id, lambda app, programme: domain.application_withdrawn(app, programme, data.reason)
    )


async def on_review_assigned(event: Event[ReviewAssigned], tx: Tx) -> None:
    data = event.data
    await commands.tell_reviewer(
        tx, event, data.reviewer_id, data.programme_id,
        lambda name, programme: domain.review_assigned(
            data.reviewer_id, name, data.review_id, data.application_id, data.application_title, programme,
            data.due_date,
        ),
    )  # fmt: skip


async def on_review_reminder_due(event: Event[ReviewReminderDue], tx: Tx) -> None:
    data = event.data
    await commands.tell_reviewer(
        tx, event, data.reviewer_id, data.programme_id,
        lambda name, programme: domain.review_reminder(
            data.reviewer_id, name, data.review_id, data.application_id, data.application_title, programme,
            data.due_date,
        ),
    )  # fmt: skip


async def on_review_overdue(event: Event[ReviewOverdue], tx: Tx) -> None:
    """The reviewer, and the programme's manager (when scoring knows who), each told once."""
    data = event.data
    await commands.tell_reviewer(
        tx, event, data.reviewer_id, data.programme_id,
        lambda name, programme: domain.review_overdue(
            data.reviewer_id, name, data.review_id, data.application_id, data.application_title, programme,
            data.due_date,
        ),
    )  # fmt: skip
    if data.manager_id:
        manager_id = data.manager_id
        await commands.tell_reviewer(
            tx, event, manager_id, data.programme_id,
            lambda name, programme: domain.review_overdue_to_manager(
                manager_id, name, data.review_id, data.application_id, data.application_title, programme,
                data.due_date,
            ),
        )  # fmt: skip


async def on_application_decided(event: Event[ApplicationDecided], tx: Tx) -> None:
    """v1, no longer published; handled so that events queued before an upgrade are still told."""
    await _tell_decision(event, event.data, tx)


async def on_application_decided_v2(event: Event[ApplicationDecidedV2], tx: Tx) -> None:
    await _tell_decision(event, event.data, tx)


async def _tell_decision(event: Event[Any], data: ApplicationDecided | ApplicationDecidedV2, tx: Tx) -> None:
    await commands.tell_applicant(
        tx, event, data.application_id,
        lambda app, programme: domain.application_decided(
            app, programme, data.outcome, data.amount_awarded, data.feedback
        ),
    )  # fmt: skip


async def on_decision_meeting_called(event: Event[DecisionMeetingCalled], tx: Tx) -> None:
    """Each panel member invited is told the date and how many applications it will decide."""
    data = event.data
    for member_id in data.member_ids:
        await commands.tell_reviewer(
            tx, event, member_id, data.programme_id,
            lambda name, programme, member_id=member_id: domain.decision_meeting_invitation(
                member_id, name, data.meeting_id, programme, data.held_on, data.item_count
            ),
        )  # fmt: skip


async def on_meeting_vote_reminder(event: Event[MeetingVoteReminder], tx: Tx) -> None:
    """A member present who has still to record recommendations is reminded, with how many and a link."""
    data = event.data
    await commands.tell_reviewer(
        tx, event, data.member_id, data.programme_id,
        lambda name, programme: domain.meeting_vote_reminder(
            data.member_id, name, data.meeting_id, programme, data.held_on, data.items_awaiting
        ),
    )  # fmt: skip


async def on_grant_offered(event: Event[GrantOffered], tx: Tx) -> None:
    data = event.data
    await commands.record_grant_offered(tx, data.grant_id, data.application_id, data.amount)
    await commands.tell_applicant(
        tx, event, data.application_id,
        lambda app, programme: domain.grant_offered(
            app, programme, data.grant_id, data.amount, data.schedule, data.expires_at
        ),
    )  # fmt: skip


async def on_grant_offer_reminder(event: Event[GrantOfferReminder], tx: Tx) -> None:
    data = event.data
    await commands.tell_applicant(
        tx, event, data.application_id,
        lambda app, programme: domain.grant_offer_reminder(app, programme, data.grant_id, data.amount, data.expires_at),
    )  # fmt: skip


async def on_monitoring_report_due(event: Event[MonitoringReportDue], tx: Tx) -> None:
    data = event.data
    await commands.tell_applicant(
        tx, event, data.application_id,
        lambda app, programme: domain.monitoring_report_due(
            app, programme, data.grant_id, data.report_id, data.name, data.due_at, data.overdue
        ),
    )  # fmt: skip


async def on_monitoring_report_changes_requested(event: Event[MonitoringReportChangesRequested], tx: Tx) -> None:
    data = event.data
    await commands.tell_applicant(
        tx, event, data.application_id,
        lambda app, programme: domain.monitoring_report_reviewed(
            app, programme, data.grant_id, event.id, data.name, data.comments
        ),
    )  # fmt: skip


async def on_monitoring_report_accepted(event: Event[MonitoringReportAccepted], tx: Tx) -> None:
    data = event.data
    await commands.tell_applicant(
        tx, event, data.application_id,
        lambda app, programme: domain.monitoring_report_reviewed(app, programme, data.grant_id, event.id, data.name, None),
    )  # fmt: skip


async def on_grant_offer_declined(event: Event[GrantOfferDeclined], tx: Tx) -> None:
    data = event.data
    await commands.tell_applicant(
        tx, event, data.application_id,
        lambda app, programme: domain.grant_offer_closed(app, programme, data.grant_id, data.released, declined=True),
    )  # fmt: skip


async def on_grant_offer_expired(event: Event[GrantOfferExpired], tx: Tx) -> None:
    data = event.data
    await commands.tell_applicant(
        tx, event, data.application_id,
        lambda app, programme: domain.grant_offer_closed(app, programme, data.grant_id, data.released, declined=False),
    )  # fmt: skip


async def on_grant_accepted(event: Event[GrantAccepted], tx: Tx) -> None:
    data = event.data
    await commands.tell_applicant_of_grant(
        tx, event, data.application_id, data.grant_id,
        lambda app, programme, amount: domain.grant_accepted(app, programme, data.grant_id, amount),
    )  # fmt: skip


async def on_payment_sent(event: Event[PaymentSent], tx: Tx) -> None:
    data = event.data
    await commands.record_payment_sent(tx, data.payment_id, data.sent_at)
    await commands.tell_applicant(
        tx, event, data.application_id,
        lambda app, programme: domain.payment_sent(
            app, programme, data.grant_id, data.payment_id, data.amount, data.provider_reference, data.sent_at
        ),
    )  # fmt: skip


async def on_payment_failed(event: Event[PaymentFailed], tx: Tx) -> None:
    data = event.data
    if await commands.record_payment_failed(tx, data.payment_id, data.attempt, data.will_retry):
        await commands.tell_applicant(
            tx, event, data.application_id,
            lambda app, programme: domain.payment_failed(
                app, programme, data.grant_id, data.payment_id, data.attempt, data.reason, data.will_retry
            ),
        )  # fmt: skip


async def on_tranche_released(event: Event[TrancheReleased], tx: Tx) -> None:
    data = event.data
    await commands.tell_applicant(
        tx, event, data.application_id,
        lambda app, programme: domain.tranche_released(
            app, programme, data.grant_id, data.payment_id, data.sequence, data.amount, data.due_date, data.met
        ),
    )  # fmt: skip


async def on_tranche_held_for_report(event: Event[TrancheHeldForReport], tx: Tx) -> None:
    data = event.data
    await commands.tell_applicant(
        tx, event, data.application_id,
        lambda app, programme: domain.tranche_held_for_report(
            app, programme, data.grant_id, data.payment_id, data.report_id, data.sequence, data.amount,
            data.report_name,
        ),
    )  # fmt: skip


async def on_application_scored(event: Event[ApplicationScored], tx: Tx) -> None:
    """Concerns nobody: consumed only so that integrators can subscribe to it."""


async def on_payment_scheduled(event: Event[PaymentScheduled], tx: Tx) -> None:
    """Concerns nobody: consumed only so that integrators can subscribe to it."""


async def on_monitoring_report_submitted(event: Event[MonitoringReportSubmitted], tx: Tx) -> None:
    """Concerns nobody yet: consumed only so that integrators can subscribe to it."""


async def on_group_training_offered(event: Event[GroupTrainingOffered], tx: Tx) -> None:
    data = event.data
    await commands.tell_applicant(
        tx, event, data.application_id,
        lambda app, programme: domain.group_training_offered(
            app, programme, data.grant_id, data.training_id, data.course, data.provider, data.places
        ),
    )  # fmt: skip


async def on_group_training_reminder(event: Event[GroupTrainingReminder], tx: Tx) -> None:
    data = event.data
    await commands.tell_applicant(
        tx, event, data.application_id,
        lambda app, programme: domain.group_training_reminder(
            app, programme, data.grant_id, data.training_id, data.course, data.places
        ),
    )  # fmt: skip


async def on_group_training_booked(event: Event[GroupTrainingBooked], tx: Tx) -> None:
    """The group made the booking itself and sees it on its page: consumed so integrators can subscribe."""


async def on_group_training_attended(event: Event[GroupTrainingAttended], tx: Tx) -> None:
    """Concerns nobody yet: consumed only so that integrators can subscribe to it."""


async def on_grant_varied(event: Event[GrantVaried], tx: Tx) -> None:
    data = event.data
    await commands.tell_applicant(
        tx, event, data.application_id,
        lambda app, programme: domain.grant_varied(
            app, programme, data.grant_id, event.id, data.kind, data.amount, data.previous_amount, data.ends_on
        ),
    )  # fmt: skip


async def on_payment_run_awaiting_approval(event: Event[PaymentRunAwaitingApproval], tx: Tx) -> None:
    """Every finance officer is told: nothing in the run is paid until enough of them approve it."""
    data = event.data
    await commands.tell_finance_officers(
        tx, event,
        lambda officer_id, name: domain.payment_run_awaiting_approval(
            officer_id, name, data.run_id, data.total, data.payments, data.approvals_needed
        ),
    )  # fmt: skip


async def on_payment_run_approved(event: Event[PaymentRunApproved], tx: Tx) -> None:
    """Consumed only so that integrators can subscribe to it."""


async def on_payment_run_exported(event: Event[PaymentRunExported], tx: Tx) -> None:
    """Consumed only so that integrators can subscribe to it."""


async def on_payment_held(event: Event[PaymentHeld], tx: Tx) -> None:
    """Consumed only so that integrators can subscribe to it (a hold is finance's own business)."""


async def on_payment_released(event: Event[PaymentReleased], tx: Tx) -> None:
    """Consumed only so that integrators can subscribe to it."""


async def on_grant_repayment_recorded(event: Event[GrantRepaymentRecorded], tx: Tx) -> None:
    """Consumed only so that integrators can subscribe to it."""
async def on_person_erasure_requested(event: Event[PersonErasureRequested], tx: Tx) -> None:
    await commands.erase_person(tx, event.data.request_id, event.data.person_id)


async def on_application_anonymised(event: Event[ApplicationAnonymised], tx: Tx) -> None:
    await commands.anonymise_application(tx, event.data.application_id)


async def on_involvement_claim_approved(event: Event[InvolvementClaimApproved], tx: Tx) -> None:
    data = event.data
    await commands.tell_reviewer(
        tx, event, data.member_id, data.programme_id,
        lambda name, programme: domain.involvement_claim_approved(
            data.member_id, name, data.claim_id, programme, data.kind, data.amount
        ),
    )  # fmt: skip


async def on_involvement_claim_rejected(event: Event[InvolvementClaimRejected], tx: Tx) -> None:
    data = event.data
    await commands.tell_reviewer(
        tx, event, data.member_id, data.programme_id,
        lambda name, programme: domain.involvement_claim_rejected(
            data.member_id, name, data.claim_id, programme, data.kind, data.amount, data.reason
        ),
    )  # fmt: skip


async def on_involvement_claim_paid(event: Event[InvolvementClaimPaid], tx: Tx) -> None:
    data = event.data
    await commands.tell_reviewer(
        tx, event, data.member_id, data.programme_id,
        lambda name, programme: domain.involvement_claim_paid(
            data.member_id, name, data.claim_id, programme, data.amount, data.method, data.paid_at
        ),
    )  # fmt: skip


async def on_involvement_payment_failed(event: Event[InvolvementPaymentFailed], tx: Tx) -> None:
    data = event.data
    await commands.tell_reviewer(
        tx, event, data.member_id, data.programme_id,
        lambda name, programme: domain.involvement_payment_failed(
            data.member_id, name, data.claim_id, programme, data.amount
        ),
    )  # fmt: skip


def integrators_too(handler: Handler) -> Handler:
    """Every event is queued for the integrators who subscribed to it, in the same transaction as
    whatever else it causes: after the handler, whose read of the person it tells reads the
    subscriptions too (``commands.tell_integrators`` reads them only for an event that told nobody)."""

    @wraps(handler)
    async def handle(event: Event[Any], tx: Transaction[Any]) -> None:
        await handler(event, tx)
        await commands.tell_integrators(tx, event)

    return handle


# Wrapped once registered: the registry files each handler by the contract its signature names.
HANDLERS = {
    event_type: integrators_too(handler)
    for event_type, handler in registry(
        on_programme_opened,
        on_programme_closed,
        on_programme_changed,
        on_programme_budget_decrease_requested,
        on_programme_budget_decreased,
        on_programme_budget_decrease_refused,
        on_application_submitted,
        on_application_ineligible,
        on_application_returned_for_correction,
        on_interest_submitted,
        on_application_invited,
        on_interest_declined,
        on_application_withdrawn,
        on_review_assigned,
        on_review_reminder_due,
        on_review_overdue,
        on_application_decided,
        on_application_decided_v2,
        on_decision_meeting_called,
        on_meeting_vote_reminder,
        on_grant_offered,
        on_grant_accepted,
        on_grant_offer_reminder,
        on_monitoring_report_due,
        on_monitoring_report_changes_requested,
        on_monitoring_report_accepted,
        on_grant_offer_declined,
        on_grant_offer_expired,
        on_grant_varied,
        on_grant_repayment_recorded,
        on_payment_run_awaiting_approval,
        on_payment_run_approved,
        on_payment_run_exported,
        on_payment_held,
        on_payment_released,
        on_payment_sent,
        on_payment_failed,
        on_tranche_released,
        on_tranche_held_for_report,
        on_application_scored,
        on_payment_scheduled,
        on_monitoring_report_submitted,
        on_group_training_offered,
        on_group_training_reminder,
        on_group_training_booked,
        on_group_training_attended,
        on_person_erasure_requested,
        on_application_anonymised,
        on_involvement_claim_approved,
        on_involvement_claim_rejected,
        on_involvement_claim_paid,
        on_involvement_payment_failed,
    ).items()
}
