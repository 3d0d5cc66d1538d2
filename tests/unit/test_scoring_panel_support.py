"""The rules of panel members' training: which required courses a member lacks, who of a panel may
be assigned, what a refusal says, and that a course is not completed in the future."""

from datetime import date

from scoring.domain import (
    Course, assign_reviewers, missing_courses, trained_panel, training_date_problem, training_refusal,
)  # fmt: skip

REQUIRED = [Course.PANEL_INDUCTION, Course.SAFEGUARDING]


def test_missing_courses_keep_the_programme_s_order_and_ignore_extra_ones() -> None:
    assert missing_courses(REQUIRED, set()) == [Course.PANEL_INDUCTION, Course.SAFEGUARDING]
    assert missing_courses(REQUIRED, {Course.SAFEGUARDING, Course.BIAS_AWARENESS}) == [Course.PANEL_INDUCTION]
    assert missing_courses(REQUIRED, {Course.PANEL_INDUCTION, Course.SAFEGUARDING}) == []
    assert missing_courses([], set()) == []
    assert missing_courses([Course.SAFEGUARDING, Course.SAFEGUARDING], set()) == [Course.SAFEGUARDING]


def test_only_members_with_every_required_course_may_be_assigned() -> None:
    completed = {"amara": {Course.PANEL_INDUCTION, Course.SAFEGUARDING}, "ben": {Course.PANEL_INDUCTION}}
    assert trained_panel(["amara", "ben", "cleo"], REQUIRED, completed) == ["amara"]
    assert trained_panel(["amara", "ben", "cleo"], [], completed) == ["amara", "ben", "cleo"]
    # assignment over the trained panel never picks the untrained, even when they are least loaded
    loads = {"amara": 5, "ben": 0, "cleo": 0}
    choice = assign_reviewers(trained_panel(["amara", "ben", "cleo"], REQUIRED, completed), 2, loads, set(), ())
    assert choice.reviewer_ids == ("amara",) and choice.missing == 1


def test_a_refusal_names_the_missing_courses_and_what_the_member_wanted_to_do() -> None:
    refusal = training_refusal(REQUIRED, {Course.SAFEGUARDING}, "score applications")
    assert refusal is not None
    assert "Panel induction" in refusal and "Safeguarding" not in refusal and "score applications" in refusal
    assert training_refusal(REQUIRED, set(REQUIRED), "vote") is None
    assert training_refusal([], set(), "vote") is None


def test_a_course_cannot_be_completed_in_the_future() -> None:
    today = date(2026, 12, 2)
    assert training_date_problem(date(2026, 12, 3), today) is not None
    assert training_date_problem(today, today) is None
    assert training_date_problem(date(2025, 1, 1), today) is None
