"""Who a programme reaches (applications.reach): the funnel's steps, counts and rates, small numbers
suppressed, and the breakdowns by community served and by area."""

from applications.reach import SUPPRESSED, ApplicationFacts, funnel, reach_report, report_rows, steps_reached


def facts(status: str = "draft", **overrides: object) -> ApplicationFacts:
    values: dict[str, object] = {"status": status, "returned": False, "invited": False, "two_stage": False,
                                 "scored": False, "awarded": False, "paid": False, "area": "Brent"}  # fmt: skip
    values.update(overrides)
    return ApplicationFacts(**values)  # type: ignore[arg-type]


def test_each_application_counts_in_every_step_it_reached() -> None:
    assert steps_reached(facts()) == {"started"}
    assert steps_reached(facts(returned=True)) == {"started", "submitted"}, "returned for correction: sent once"
    assert steps_reached(facts("ineligible")) == {"started", "submitted"}
    assert steps_reached(facts("submitted")) == {"started", "submitted", "eligible", "shortlisted"}
    assert steps_reached(facts("paid", scored=True, awarded=True, paid=True)) == {
        "started", "submitted", "eligible", "shortlisted", "scored", "awarded", "paid"}
    # A payment that arrived before its score still implies every step before it
    assert "scored" in steps_reached(facts("paid", paid=True))
    assert steps_reached(facts("declined", scored=True)) == {"started", "submitted", "eligible", "shortlisted", "scored"}


def test_with_an_expression_of_interest_shortlisted_means_invited() -> None:
    assert steps_reached(facts("interest_submitted", two_stage=True)) == {"started", "submitted", "eligible"}
    assert steps_reached(facts("interest_declined", two_stage=True)) == {"started", "submitted", "eligible"}
    assert "shortlisted" in steps_reached(facts("draft", two_stage=True, invited=True))


def test_counts_and_rates_with_fewer_than_five_suppressed() -> None:
    many = [facts("submitted")] * 8 + [facts("scored", scored=True)] * 6 + [facts()] * 6
    steps = {row["step"]: row for row in funnel(many)["steps"]}
    assert steps["started"]["count"] == 20 and steps["started"]["rate_of_previous"] is None
    assert steps["submitted"]["count"] == 14 and steps["submitted"]["rate_of_started"] == 0.7
    assert steps["scored"]["count"] == 6 and steps["scored"]["rate_of_previous"] == round(6 / 14, 3)
    assert steps["awarded"]["count"] == SUPPRESSED and steps["awarded"]["rate_of_previous"] == SUPPRESSED
    few = {row["step"]: row for row in funnel([facts("submitted")] * 3)["steps"]}
    assert few["started"]["count"] == SUPPRESSED and few["submitted"]["rate_of_started"] == SUPPRESSED


def test_breakdowns_by_community_served_and_by_area() -> None:
    served = [facts("submitted", communities=("men", "older_people"), area="Harrow")] * 5 + [facts("submitted")] * 5
    report = reach_report(served)
    assert report["by_community"]["men"]["steps"][0]["count"] == 5
    assert report["by_community"]["men"]["label"] == "Men"
    assert report["by_community"]["refugees"]["steps"][0]["count"] == SUPPRESSED
    assert report["not_answered"]["steps"][0]["count"] == 5
    assert set(report["by_area"]) == {"Brent", "Harrow"}
    rows = report_rows(report)
    assert rows[0] == ["breakdown", "group", "step", "count", "rate_of_previous", "rate_of_started"]
    assert ["overall", "all", "started", "10", "", ""] in rows
    assert ["community_served", "refugees", "started", SUPPRESSED, "", ""] in rows
    assert ["area", "Harrow", "submitted", "5", "1.0", "1.0"] in rows
