"""The rules of monitoring reports: the schedule from a programme's policy, the review cycle's
transitions, when a report is overdue and how spend is checked."""

from datetime import UTC, datetime, timedelta

import pytest

from disbursement.domain import (
    ReportPoint, ReportStatus, can_move_report, check_monitoring_points, check_report_spend, report_is_overdue,
    report_schedule,
)  # fmt: skip
from grants_shared.money import Money

ACCEPTED = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
MIDWAY_AND_END = [ReportPoint("Midway report", 90), ReportPoint("End of grant report", 180)]


def test_reports_fall_due_at_the_start_of_the_day_after_acceptance_with_their_reminders() -> None:
    midway, end = report_schedule(ACCEPTED, MIDWAY_AND_END, reminder_days=14)
    assert (midway.sequence, midway.name, midway.due_at) == (1, "Midway report", datetime(2026, 6, 8, tzinfo=UTC))
    assert midway.remind_at == datetime(2026, 5, 25, tzinfo=UTC)
    assert (end.sequence, end.due_at) == (2, datetime(2026, 9, 6, tzinfo=UTC))


def test_no_reminder_days_means_no_reminder() -> None:
    [only] = report_schedule(ACCEPTED, [ReportPoint("End", 30)], reminder_days=0)
    assert only.remind_at is None


@pytest.mark.parametrize("points, reminder_days", [
    ([ReportPoint("End", 180), ReportPoint("Midway", 90)], 7),  # out of order
    ([ReportPoint("A", 90), ReportPoint("B", 90)], 7),  # same day
    ([ReportPoint("Soon", 5)], 7),  # due before its reminder
    ([ReportPoint("Same", 30), ReportPoint("Same", 60)], 7),  # two of one name
])  # fmt: skip
def test_a_policy_that_cannot_be_followed_is_refused(points: list[ReportPoint], reminder_days: int) -> None:
    with pytest.raises(ValueError):
        check_monitoring_points(points, reminder_days)


def test_a_sensible_policy_is_allowed() -> None:
    check_monitoring_points(MIDWAY_AND_END, 14)
    check_monitoring_points([], 14)


def test_the_review_cycle_accepts_or_sends_back_and_resubmits() -> None:
    assert can_move_report(ReportStatus.DUE, ReportStatus.SUBMITTED)
    assert can_move_report(ReportStatus.SUBMITTED, ReportStatus.ACCEPTED)
    assert can_move_report(ReportStatus.SUBMITTED, ReportStatus.CHANGES_REQUESTED)
    assert can_move_report(ReportStatus.CHANGES_REQUESTED, ReportStatus.SUBMITTED)
    assert not can_move_report(ReportStatus.DUE, ReportStatus.ACCEPTED)  # nothing to accept yet
    assert not can_move_report(ReportStatus.SUBMITTED, ReportStatus.SUBMITTED)  # awaiting review
    assert not can_move_report(ReportStatus.ACCEPTED, ReportStatus.SUBMITTED)
    assert not can_move_report(ReportStatus.ACCEPTED, ReportStatus.CHANGES_REQUESTED)


def test_a_report_is_overdue_only_while_the_grantee_owes_it() -> None:
    due = datetime(2026, 6, 8, tzinfo=UTC)
    after = due + timedelta(seconds=1)
    assert not report_is_overdue(ReportStatus.DUE, due, due - timedelta(seconds=1))
    assert report_is_overdue(ReportStatus.DUE, due, after)
    assert report_is_overdue(ReportStatus.CHANGES_REQUESTED, due, after)
    assert not report_is_overdue(ReportStatus.SUBMITTED, due, after)
    assert not report_is_overdue(ReportStatus.ACCEPTED, due, after)


def test_spend_is_reported_in_the_grant_s_currency() -> None:
    award = Money(amount=500_000, currency="GBP")
    check_report_spend(Money(amount=0, currency="GBP"), award)
    check_report_spend(Money(amount=650_000, currency="GBP"), award)  # more than the grant: the group's own money
    with pytest.raises(ValueError, match="currency"):
        check_report_spend(Money(amount=100, currency="EUR"), award)
