"""The rules of training for funded groups: the booking's bounds, attendance against the booking,
the steps a group's offer moves through and the share of funded groups trained."""

import pytest

from disbursement.domain import (
    TrainingShare, TrainingStatus, attendance_problem, booking_problem, can_move_training,
)  # fmt: skip


def test_a_booking_takes_between_one_place_and_the_places_offered_with_at_most_a_name_each() -> None:
    assert booking_problem(1, [], 4) is None
    assert booking_problem(4, ["Ann", "Bo"], 4) is None
    assert "at least one" in (booking_problem(0, [], 4) or "")
    assert "4 places" in (booking_problem(5, [], 4) or "")
    assert "one name per place" in (booking_problem(1, ["Ann", "Bo"], 4) or "")


def test_attendance_is_at_most_what_was_booked() -> None:
    assert attendance_problem(0, 3) is None  # nobody came: recorded as such
    assert attendance_problem(3, 3) is None
    assert attendance_problem(4, 3) is not None


def test_an_offer_is_booked_rebooked_then_attended_and_then_final() -> None:
    assert can_move_training(TrainingStatus.OFFERED, TrainingStatus.BOOKED)
    assert can_move_training(TrainingStatus.BOOKED, TrainingStatus.BOOKED)  # the group changes its booking
    assert can_move_training(TrainingStatus.BOOKED, TrainingStatus.ATTENDED)
    assert not can_move_training(TrainingStatus.OFFERED, TrainingStatus.ATTENDED)  # nothing booked to attend
    assert not can_move_training(TrainingStatus.ATTENDED, TrainingStatus.BOOKED)
    assert not can_move_training(TrainingStatus.ATTENDED, TrainingStatus.ATTENDED)


@pytest.mark.parametrize("funded, booked, attended, booked_percent, attended_percent", [
    (0, 0, 0, 0, 0),  # no funded groups yet: nothing to divide
    (4, 2, 1, 50, 25),
    (3, 2, 1, 67, 33),  # rounded half up to whole percent
    (8, 1, 0, 13, 0),  # 12.5 rounds up
    (5, 5, 5, 100, 100),
])  # fmt: skip
def test_the_share_of_funded_groups_trained_is_in_whole_percent(
    funded: int, booked: int, attended: int, booked_percent: int, attended_percent: int
) -> None:
    share = TrainingShare(funded=funded, booked=booked, attended=attended)
    assert (share.booked_percent, share.attended_percent) == (booked_percent, attended_percent)
