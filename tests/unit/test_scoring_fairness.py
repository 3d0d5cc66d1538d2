"""The rules of scoring that is fair and explained, without a database: what blind review hides,
when a review is reminded and becomes overdue, and scoring guidance as the rubric and the portal
read it."""

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from grants_shared.auth import Caller, Role
from grants_shared.events import RubricCriterion, ScoreGuidance
from grants_shared.money import Money
from portal.pages.programme_form import guidance_of, guidance_text
from scoring import access, domain
from scoring.domain import BlindField, ReviewStatus
from scoring.store import Programme


def _programme(hidden: list[BlindField]) -> Programme:
    gbp = Money(amount=100_000, currency="GBP")
    return Programme(
        id="prog-1", name="Fund", budget=gbp, maximum_award=gbp, criteria=[], reviewers_per_application=1,
        panel=["rev-a"], opened_at=datetime(2026, 12, 1, tzinfo=UTC), hidden_from_reviewers=hidden,
    )


def _caller(*roles: Role) -> Caller:
    return Caller(subject="someone", roles=frozenset(roles))


def test_blind_review_hides_from_reviewers_only() -> None:
    programme = _programme([BlindField.ORGANISATION_NAME])
    reviewer = access.hidden_from(_caller(Role.REVIEWER), programme)
    assert reviewer == {BlindField.ORGANISATION_NAME}
    assert access.hidden_from(_caller(Role.PROGRAMME_MANAGER), programme) == frozenset()
    assert access.hidden_from(_caller(Role.ADMIN, Role.REVIEWER), programme) == frozenset()
    # a programme scoring cannot find hides everything it could, rather than nothing
    assert access.hidden_from(_caller(Role.REVIEWER), None) == frozenset(BlindField)
    assert domain.shown("Harbour Lights", BlindField.ORGANISATION_NAME, reviewer) is None
    assert domain.shown("Calderdale", BlindField.ORGANISATION_AREA, reviewer) == "Calderdale"


def test_a_review_is_reminded_days_before_its_due_date_and_overdue_the_day_after() -> None:
    assigned = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    remind_at, overdue_at = domain.reminder_times(date(2026, 12, 16), 3, assigned)
    assert remind_at == datetime(2026, 12, 13, tzinfo=UTC)
    assert overdue_at == datetime(2026, 12, 17, tzinfo=UTC)
    # already that close to due when assigned: the assignment notice gives the date, no reminder
    assert domain.reminder_times(date(2026, 12, 4), 3, assigned)[0] is None
    assert domain.reminder_times(date(2026, 12, 16), 0, assigned)[0] == datetime(2026, 12, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "today", "remind", "overdue"),
    [
        (ReviewStatus.ASSIGNED, date(2026, 12, 14), True, False),
        (ReviewStatus.DRAFT, date(2026, 12, 16), True, False),  # the due day itself is not late
        (ReviewStatus.DRAFT, date(2026, 12, 17), False, True),
        (ReviewStatus.COMPLETED, date(2026, 12, 17), False, False),
        (ReviewStatus.CANCELLED, date(2026, 12, 14), False, False),
    ],
)
def test_only_an_open_review_is_reminded_or_overdue(status: ReviewStatus, today: date, remind: bool, overdue: bool) -> None:
    now = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    assert domain.reminder_due(status, date(2026, 12, 16), now) is remind
    assert domain.is_overdue(status, date(2026, 12, 16), now) is overdue


def test_a_criterion_s_guidance_is_one_meaning_per_score_in_order() -> None:
    criterion = RubricCriterion(key="need", title="Need", weight=1, guidance=[
        ScoreGuidance(score=5, meaning="Strong"), ScoreGuidance(score=0, meaning="None"),
    ])  # fmt: skip
    assert [g.score for g in criterion.guidance] == [0, 5]
    assert RubricCriterion(key="need", title="Need", weight=1).guidance == []  # criteria from before guidance
    with pytest.raises(ValidationError, match="more than once"):
        RubricCriterion(key="need", title="Need", weight=1, guidance=[
            ScoreGuidance(score=2, meaning="a"), ScoreGuidance(score=2, meaning="b"),
        ])  # fmt: skip
    with pytest.raises(ValidationError):
        ScoreGuidance(score=6, meaning="beyond the scale")


def test_the_programme_form_reads_guidance_one_line_per_score() -> None:
    typed = "0: No need described\r\n\r\n5 – Clear evidence, in the community's words\n3. Local evidence"
    guidance = guidance_of(typed, "criterion 1")
    assert guidance == [
        {"score": 0, "meaning": "No need described"},
        {"score": 3, "meaning": "Local evidence"},
        {"score": 5, "meaning": "Clear evidence, in the community's words"},
    ]
    assert guidance_of(guidance_text(guidance), "criterion 1") == guidance  # what the edit form shows reads back
    assert guidance_of("", "criterion 1") == []
    assert "a score from 0 to 5" in guidance_of("Strong evidence", "criterion 1")  # type: ignore[operator]
    assert "more than once" in guidance_of("1: a\n1: b", "criterion 2")  # type: ignore[operator]
    assert "a score from 0 to 5" in guidance_of("7: too high", "criterion 1")  # type: ignore[operator]
