"""The pure rules of the applications service: programme terms, eligibility, progress, words."""

from datetime import UTC, datetime, timedelta

import pytest

from applications.domain import (
    ApplicantOrganisation,
    EligibilityRules,
    Progress,
    EligibilityTerms,
    applicant_status,
    can_close,
    can_open,
    can_withdraw,
    contradiction,
    eligibility_failures,
    implied_status,
    next_status,
    plain_money,
    programme_problems,
    total_paid,
)
from grants_shared.events import RubricCriterion
from grants_shared.money import Money

NOW = datetime(2027, 3, 15, 12, 0, tzinfo=UTC)


def gbp(pounds: int) -> Money:
    return Money(amount=pounds * 100, currency="GBP")


def terms(**overrides: object) -> EligibilityTerms:
    values: dict[str, object] = {
        "status": "open",
        "opens_at": NOW - timedelta(days=10),
        "closes_at": NOW + timedelta(days=10),
        "currency": "GBP",
        "maximum_award": gbp(10_000),
        "eligibility": EligibilityRules(
            areas_served=["Brent", "Harrow"],
            organisation_kinds=["charity", "community_group"],
            max_annual_income=gbp(250_000),
        ),
    }
    values.update(overrides)
    return EligibilityTerms(**values)  # type: ignore[arg-type]


GOOD_GROUP = ApplicantOrganisation(kind="community_group", area="Brent", annual_income=gbp(40_000))


def codes(programme: EligibilityTerms = terms(), organisation: ApplicantOrganisation = GOOD_GROUP,
          amount: Money = gbp(5_000), now: datetime = NOW, already_applied: bool = False) -> list[str]:  # fmt: skip
    return [r.code for r in eligibility_failures(programme, organisation, amount, now, already_applied)]


# --- eligibility: each rule passing and failing ----------------------------------------------------


def test_an_eligible_application_breaks_no_rule() -> None:
    assert codes() == []


def test_empty_rules_mean_any_area_kind_and_income() -> None:
    anyone = terms(eligibility=EligibilityRules())
    rich_elsewhere = ApplicantOrganisation(kind="other", area="Orkney", annual_income=gbp(9_000_000))
    assert codes(anyone, rich_elsewhere) == []


@pytest.mark.parametrize(
    ("programme", "now", "words"),
    [
        (terms(status="draft"), NOW, "not open"),
        (terms(status="closed"), NOW, "not open"),
        (terms(), NOW - timedelta(days=11), "opens for applications on 05 March 2027"),
        (terms(), NOW + timedelta(days=10), "closed for applications on 25 March 2027"),
        (terms(), NOW + timedelta(days=30), "closed"),
    ],
)
def test_a_programme_that_is_not_taking_applications(programme: EligibilityTerms, now: datetime, words: str) -> None:
    [reason] = eligibility_failures(programme, GOOD_GROUP, gbp(5_000), now, False)
    assert reason.code == "programme_not_open"
    assert words in reason.message


def test_the_programme_takes_applications_from_the_moment_it_opens() -> None:
    assert codes(now=NOW - timedelta(days=10)) == []


def test_an_organisation_of_a_kind_the_programme_does_not_fund() -> None:
    business = ApplicantOrganisation(kind="social_enterprise", area="Brent", annual_income=gbp(1_000))
    [reason] = eligibility_failures(terms(), business, gbp(5_000), NOW, False)
    assert reason.code == "organisation_kind_not_eligible"
    assert reason.message == (
        "This programme funds charity or community group; your organisation is registered as a social enterprise."
    )


def test_an_organisation_outside_the_areas_served() -> None:
    elsewhere = ApplicantOrganisation(kind="charity", area="Camden", annual_income=gbp(1_000))
    [reason] = eligibility_failures(terms(), elsewhere, gbp(5_000), NOW, False)
    assert reason.code == "area_not_served"
    assert "Camden" in reason.message and "Brent or Harrow" in reason.message


def test_areas_match_ignoring_case_and_spacing() -> None:
    typed = ApplicantOrganisation(kind="charity", area="  harrow ", annual_income=gbp(1_000))
    assert codes(organisation=typed) == []


def test_income_above_the_ceiling_fails_and_at_the_ceiling_passes() -> None:
    at = ApplicantOrganisation(kind="charity", area="Brent", annual_income=gbp(250_000))
    above = ApplicantOrganisation(kind="charity", area="Brent", annual_income=Money(amount=25_000_001, currency="GBP"))
    assert codes(organisation=at) == []
    [reason] = eligibility_failures(terms(), above, gbp(5_000), NOW, False)
    assert reason.code == "income_above_ceiling"
    assert reason.message == (
        "This programme funds organisations with an annual income of up to £250,000.00; yours is £250,000.01."
    )


def test_income_in_another_currency_cannot_be_compared_with_the_ceiling() -> None:
    in_euros = ApplicantOrganisation(kind="charity", area="Brent", annual_income=Money(amount=1, currency="EUR"))
    assert codes(organisation=in_euros) == ["income_currency_mismatch"]


def test_an_amount_in_another_currency() -> None:
    assert codes(amount=Money(amount=500_000, currency="EUR")) == ["currency_mismatch"]


def test_an_amount_that_is_not_positive() -> None:
    assert codes(amount=gbp(0)) == ["amount_not_positive"]


def test_an_amount_above_the_maximum_award_fails_and_the_maximum_itself_passes() -> None:
    assert codes(amount=gbp(10_000)) == []
    [reason] = eligibility_failures(terms(), GOOD_GROUP, Money(amount=1_000_001, currency="GBP"), NOW, False)
    assert reason.code == "amount_above_maximum"
    assert "£10,000.00" in reason.message and "£10,000.01" in reason.message


def test_an_organisation_that_already_applied() -> None:
    assert codes(already_applied=True) == ["duplicate_application"]


def test_every_broken_rule_is_reported_together() -> None:
    misfit = ApplicantOrganisation(kind="other", area="Leeds", annual_income=gbp(1_000_000))
    found = codes(terms(status="closed"), misfit, Money(amount=0, currency="EUR"), NOW, already_applied=True)
    assert found == [
        "programme_not_open",
        "organisation_kind_not_eligible",
        "area_not_served",
        "income_above_ceiling",
        "amount_not_positive",
        "currency_mismatch",
        "duplicate_application",
    ]


def test_amount_above_maximum_and_income_above_ceiling_together() -> None:
    rich = ApplicantOrganisation(kind="charity", area="Brent", annual_income=gbp(300_000))
    assert codes(organisation=rich, amount=gbp(20_000)) == ["income_above_ceiling", "amount_above_maximum"]


def test_reasons_stay_within_the_contract_length_however_many_areas() -> None:
    many = terms(eligibility=EligibilityRules(areas_served=[f"Borough number {n}" for n in range(100)]))
    elsewhere = ApplicantOrganisation(kind="charity", area="Leeds", annual_income=gbp(1))
    [reason] = eligibility_failures(many, elsewhere, gbp(1), NOW, False)
    assert len(reason.message) == 200 and reason.message.endswith("…")


# --- programme terms -------------------------------------------------------------------------------


def problems(**overrides: object) -> list[str]:
    values: dict[str, object] = {
        "budget": gbp(100_000),
        "maximum_award": gbp(10_000),
        "opens_at": NOW,
        "closes_at": NOW + timedelta(days=30),
        "eligibility": EligibilityRules(),
        "criteria": [RubricCriterion(key="impact", title="Impact", weight=2)],
        "reviewers_per_application": 2,
        "panel": ["rev-1", "rev-2", "rev-3"],
    }
    values.update(overrides)
    return programme_problems(**values)  # type: ignore[arg-type]


def test_well_formed_programme_terms() -> None:
    assert problems() == []


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"maximum_award": gbp(100_001)}, "the maximum award cannot be more than the budget"),
        ({"maximum_award": Money(amount=100, currency="EUR")}, "the maximum award must be in the budget's currency"),
        ({"maximum_award": gbp(0)}, "the maximum award must be more than zero"),
        ({"closes_at": NOW}, "closes_at must be later than opens_at"),
        ({"eligibility": EligibilityRules(max_annual_income=Money(amount=1, currency="USD"))}, "income ceiling"),
        ({"eligibility": EligibilityRules(organisation_kinds=["charity", "charity"])}, "must not repeat"),
        ({"criteria": []}, "at least one scoring criterion"),
        (
            {"criteria": [RubricCriterion(key="impact", title=t, weight=1) for t in ("A", "B")]},
            "criterion keys must be unique",
        ),
        ({"panel": ["rev-1", "rev-1", "rev-2"]}, "a reviewer can sit on the panel only once"),
        ({"panel": ["rev-1"]}, "the panel needs at least 2 reviewers"),
        ({"panel": ["rev-1", "rev-1"]}, "the panel needs at least 2 reviewers"),
    ],
)
def test_programme_terms_that_do_not_hang_together(overrides: dict[str, object], problem: str) -> None:
    assert any(problem in p for p in problems(**overrides)), problems(**overrides)


def test_a_maximum_award_equal_to_the_budget_is_allowed() -> None:
    assert problems(maximum_award=gbp(100_000)) == []


def test_programme_transitions() -> None:
    assert can_open("draft", NOW + timedelta(days=1), NOW) is None
    assert "closing time has passed" in (can_open("draft", NOW, NOW) or "")
    assert "only a draft" in (can_open("open", NOW + timedelta(days=1), NOW) or "")
    assert "only a draft" in (can_open("closed", NOW + timedelta(days=1), NOW) or "")
    assert can_close("open") is None
    assert can_close("draft") and can_close("closed")


# --- progress after submission -------------------------------------------------------------------


def test_each_fact_moves_the_status_forward() -> None:
    award = gbp(8_000)
    assert implied_status(Progress()) == "submitted"
    assert implied_status(Progress(scored=True)) == "scored"
    assert implied_status(Progress(scored=True, outcome="declined")) == "declined"
    assert implied_status(Progress(scored=True, outcome="awarded", award=award)) == "awarded"
    assert implied_status(Progress(outcome="awarded", award=award, offered=True)) == "offered"
    assert implied_status(Progress(outcome="awarded", award=award, offered=True, accepted=True)) == "accepted"
    assert implied_status(Progress(award=award, accepted=True, paid=gbp(4_000))) == "part_paid"
    assert implied_status(Progress(award=award, accepted=True, paid=gbp(8_000))) == "paid"


def test_a_payment_before_the_award_is_known_is_part_paid_until_the_award_arrives() -> None:
    assert implied_status(Progress(paid=gbp(8_000))) == "part_paid"
    assert next_status("part_paid", Progress(paid=gbp(8_000), award=gbp(8_000), offered=True)) == "paid"


def test_the_status_never_moves_backwards() -> None:
    # the offer arrived first; the decision that comes later must not pull it back to "awarded"
    assert next_status("offered", Progress(outcome="awarded", award=gbp(1), offered=True)) == "offered"
    assert next_status("paid", Progress(scored=True)) == "paid"
    assert next_status("accepted", Progress(scored=True, outcome="awarded", award=gbp(1))) == "accepted"
    assert next_status("submitted", Progress(offered=True)) == "offered"


def test_a_declined_application_can_have_no_grant_or_payment() -> None:
    assert contradiction(Progress(scored=True, outcome="declined")) is None
    assert contradiction(Progress(outcome="awarded", award=gbp(1), offered=True, paid=gbp(1))) is None
    assert contradiction(Progress(offered=True, paid=gbp(1))) is None  # the decision is still on its way
    for fact in ({"offered": True}, {"accepted": True}, {"paid": gbp(1)}):
        assert "declined" in (contradiction(Progress(outcome="declined", **fact)) or "")


def test_applications_off_the_path_keep_their_status() -> None:
    everything = Progress(scored=True, outcome="awarded", award=gbp(1), offered=True, accepted=True, paid=gbp(1))
    for status in ("withdrawn", "draft", "ineligible"):
        assert next_status(status, everything) == status


def test_a_score_is_shown_to_the_applicant_as_under_review() -> None:
    assert applicant_status("scored") == "under_review"
    assert applicant_status("awarded") == "awarded"
    assert applicant_status("submitted") == "submitted"


def test_withdrawal_is_allowed_until_the_decision() -> None:
    assert can_withdraw("submitted") is None
    assert can_withdraw("scored") is None
    for decided in ("awarded", "declined", "offered", "accepted", "part_paid", "paid"):
        assert "already decided" in (can_withdraw(decided) or "")
    for other in ("draft", "ineligible", "withdrawn"):
        assert "only a submitted application" in (can_withdraw(other) or "")


def test_payments_add_up_in_one_currency_only() -> None:
    assert total_paid([]) is None
    assert total_paid([gbp(1), gbp(2)]) == gbp(3)
    with pytest.raises(ValueError):
        total_paid([gbp(1), Money(amount=1, currency="EUR")])


def test_money_in_plain_words() -> None:
    assert plain_money(Money(amount=123_456_789, currency="GBP")) == "£1,234,567.89"
    # The currency's own places and symbol, from CLDR (babel): yen have no minor unit.
    assert plain_money(Money(amount=150_000, currency="JPY")) == "JP¥150,000"
    assert plain_money(Money(amount=1_250, currency="EUR")) == "€12.50"
    assert plain_money(Money(amount=5, currency="SEK")) == "SEK0.05"


# --- eligibility before effort, and correcting a submission ---------------------------------------


def test_a_group_checks_its_facts_before_writing_anything() -> None:
    from applications.domain import eligibility_check

    big = ApplicantOrganisation(kind="social_enterprise", area="Leeds", annual_income=gbp(900_000))
    assert eligibility_check(terms(), GOOD_GROUP, None, NOW) == []
    assert [r.code for r in eligibility_check(terms(), big, None, NOW)] == [
        "organisation_kind_not_eligible", "area_not_served", "income_above_ceiling",
    ]  # fmt: skip
    with_amount = eligibility_check(terms(), GOOD_GROUP, gbp(20_000), NOW)
    assert [r.message for r in with_amount] == [
        "The largest grant this programme makes is £10,000.00; you asked for £20,000.00."
    ]


def test_a_draft_may_leave_the_amount_at_nothing_but_not_in_another_currency_or_over_the_maximum() -> None:
    from applications.domain import amount_failures

    assert amount_failures(terms(), gbp(0), draft=True) == []
    assert [r.code for r in amount_failures(terms(), gbp(0))] == ["amount_not_positive"]
    assert [r.code for r in amount_failures(terms(), Money(amount=0, currency="EUR"), draft=True)] == ["currency_mismatch"]
    assert [r.code for r in amount_failures(terms(), gbp(10_001), draft=True)] == ["amount_above_maximum"]
    assert [r.code for r in eligibility_failures(terms(), GOOD_GROUP, gbp(0), NOW, False, draft=True)] == []


def test_a_submission_can_be_corrected_only_while_the_programme_takes_applications() -> None:
    from applications.domain import correctable, words_returned

    assert correctable(terms(), NOW)
    assert correctable(terms(opens_at=NOW + timedelta(days=1)), NOW), "not open yet: it can be sent again then"
    assert not correctable(terms(closes_at=NOW), NOW)
    assert not correctable(terms(status="closed"), NOW)
    words = words_returned(eligibility_failures(terms(), GOOD_GROUP, gbp(20_000), NOW, False), NOW + timedelta(days=10))
    assert "returned it to you as a draft" in words and "£20,000.00" in words and "25 March 2027 at 12:00 UTC" in words



# --- stages ------------------------------------------------------------------------------------------


def test_an_expression_of_interest_is_invited_or_declined_once() -> None:
    from applications.domain import ApplicationStatus as S, can_invite, can_move

    assert can_move(S.DRAFT, S.INTEREST_SUBMITTED)
    assert can_move(S.INTEREST_SUBMITTED, S.DRAFT), "invited: the full application's draft"
    assert can_move(S.INTEREST_SUBMITTED, S.INTEREST_DECLINED)
    assert not can_move(S.INTEREST_DECLINED, S.DRAFT) and not can_move(S.INTEREST_SUBMITTED, S.SUBMITTED)
    assert can_invite(S.INTEREST_SUBMITTED) is None
    assert "only an expression of interest waiting" in (can_invite(S.DRAFT) or "")


def test_the_expression_of_interest_has_its_own_dates_within_the_programmes() -> None:
    from applications.domain import StageDates

    early = StageDates(opens_at=NOW - timedelta(days=5), closes_at=NOW)
    assert problems(expression_of_interest=early) == []
    backwards = StageDates(opens_at=NOW, closes_at=NOW - timedelta(days=1))
    assert "the expression of interest must close later than it opens" in problems(expression_of_interest=backwards)
    late = StageDates(opens_at=NOW, closes_at=NOW + timedelta(days=400))
    assert "the expression of interest must close before the full application closes" in problems(
        expression_of_interest=late
    )
