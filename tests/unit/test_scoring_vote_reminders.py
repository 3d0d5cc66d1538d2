"""Who is reminded to vote once a decision meeting's day has come: members present, not recused and
allowed to vote, with open items still lacking their recommendation; one count per member."""

from datetime import UTC, date, datetime

from scoring import domain

PRESENT = ["rev-a", "rev-b", "rev-c", "staff-1"]


def test_the_reminder_comes_the_given_hours_into_the_meeting_s_day() -> None:
    assert domain.vote_reminder_time(date(2026, 12, 9), 12) == datetime(2026, 12, 9, 12, tzinfo=UTC)
    assert domain.vote_reminder_time(date(2026, 12, 9), 0) == datetime(2026, 12, 9, tzinfo=UTC)


def test_each_member_present_is_told_how_many_open_items_still_await_them() -> None:
    open_items = {"app-1": set(), "app-2": {"rev-c"}, "app-3": set()}
    voted = {("app-1", "rev-a"), ("app-2", "rev-a"), ("app-3", "rev-a"),  # rev-a voted on everything
             ("app-1", "rev-b"),
             ("app-1", "rev-c")}  # fmt: skip
    assert domain.awaiting_votes(PRESENT, open_items, voted, set()) == {"rev-b": 2, "rev-c": 1, "staff-1": 3}


def test_recused_untrained_and_absent_members_are_not_reminded() -> None:
    open_items = {"app-1": {"rev-b"}}
    # rev-b is recused from the only item, staff-1 lacks a required course, rev-c is not present
    assert domain.awaiting_votes(["rev-a", "rev-b", "staff-1"], open_items, set(), {"staff-1"}) == {"rev-a": 1}


def test_nobody_is_reminded_when_no_item_is_open_or_everyone_has_voted() -> None:
    assert domain.awaiting_votes(PRESENT, {}, set(), set()) == {}
    voted = {("app-1", member) for member in PRESENT}
    assert domain.awaiting_votes(PRESENT, {"app-1": set()}, voted, set()) == {}


def test_a_member_listed_twice_in_attendance_is_reminded_once() -> None:
    assert domain.awaiting_votes(["rev-a", "rev-a"], {"app-1": set()}, set(), set()) == {"rev-a": 1}
