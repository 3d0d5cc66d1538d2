"""Who a programme reaches: the equality monitoring questions groups may answer, and the funnel from
started to paid counted overall, by community served and by area, with small numbers suppressed.

Pure (no I/O). The monitoring answers are voluntary, kept apart from applications, never shown to
reviewers or the panel and never published as they are: they are used here only to count.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from grants_shared.forms import FormDefinition

#: The communities a group may say it serves or is led by (any number, or none: answering is voluntary).
COMMUNITIES: dict[str, str] = {
    "lived_experience": "People with lived experience of suicide or mental illness",
    "racially_minoritised": "Racially minoritised communities",
    "disabled": "Disabled people",
    "lgbtq": "LGBTQ+ people",
    "men": "Men",
    "young_people": "Young people",
    "older_people": "Older people",
    "refugees": "Refugees and people seeking asylum",
    "faith": "Faith communities",
    "deprivation": "People in areas of deprivation",
}
WHY = (
    "These questions are optional. Your answers help the programme see whether it reaches the groups it "
    "is for. They are kept apart from your application, are never shown to the reviewers or the panel, "
    "do not affect any decision, and are only ever counted together with other groups' answers."
)
MONITORING_FORM = FormDefinition.model_validate({"questions": [
    {"kind": "multiple_choice", "id": "communities_served", "required": False,
     "label": "Which communities does your group mainly serve?", "help": "Select all that apply",
     "options": [{"value": k, "label": v} for k, v in COMMUNITIES.items()]},
    {"kind": "multiple_choice", "id": "led_by", "required": False,
     "label": "Is your group led by people from any of these communities?", "help": "Select all that apply",
     "options": [{"value": k, "label": v} for k, v in COMMUNITIES.items()]},
]})  # fmt: skip

#: The funnel's steps, in order; each application counts in every step it reached.
STEPS = ("started", "submitted", "eligible", "shortlisted", "scored", "awarded", "paid")
#: Fewer than this many is shown as "fewer than 5", so that no group can be picked out.
THRESHOLD = 5
SUPPRESSED = "fewer than 5"

_PASSED_ELIGIBILITY = {
    "interest_submitted", "interest_declined", "submitted", "scored", "awarded", "declined", "offered", "accepted",
    "part_paid", "paid", "withdrawn",
}  # fmt: skip


@dataclass(frozen=True)
class ApplicationFacts:
    """What the funnel needs of one application, from applications' own read model (scoring's and
    disbursement's events already recorded there)."""

    status: str
    returned: bool  # submitted at least once and returned for correction
    invited: bool
    two_stage: bool
    scored: bool
    awarded: bool
    paid: bool
    area: str | None
    communities: Sequence[str] = field(default_factory=tuple)


def steps_reached(facts: ApplicationFacts) -> set[str]:
    """Every funnel step an application reached. A later step implies the earlier ones (a payment is
    news of an award, which is news of a score), whatever order the other services' events came in."""
    eligible = facts.status in _PASSED_ELIGIBILITY or facts.invited
    flags = {
        "submitted": facts.status != "draft" or facts.returned or facts.invited,
        "eligible": eligible,
        # Invited from an expression of interest; with no such stage, sent on to the panel.
        "shortlisted": facts.invited if facts.two_stage else eligible,
        "scored": facts.scored,
        "awarded": facts.awarded,
        "paid": facts.paid,
    }
    furthest = max([0, *(STEPS.index(step) for step, reached in flags.items() if reached)])
    return set(STEPS[: furthest + 1])


def shown(count: int) -> int | str:
    return count if count >= THRESHOLD else SUPPRESSED


def _rate(count: int, of: int) -> float | str | None:
    if of == 0:
        return None
    if count < THRESHOLD or of < THRESHOLD:
        return SUPPRESSED
    return round(count / of, 3)


def funnel(applications: Iterable[ApplicationFacts]) -> dict[str, Any]:
    """Counts per step, and each step's rate of the one before and of those started."""
    counts = dict.fromkeys(STEPS, 0)
    for facts in applications:
        for step in steps_reached(facts):
            counts[step] += 1
    rows = []
    for index, step in enumerate(STEPS):
        before = counts[STEPS[index - 1]] if index else counts[step]
        rows.append({"step": step, "count": shown(counts[step]),
                     "rate_of_previous": _rate(counts[step], before) if index else None,
                     "rate_of_started": _rate(counts[step], counts["started"]) if index else None})  # fmt: skip
    return {"steps": rows}


def reach_report(applications: Sequence[ApplicationFacts]) -> dict[str, Any]:
    """The funnel overall, by community served (a group serving several counts in each) and by area."""
    by_community = {
        key: funnel(a for a in applications if key in a.communities) | {"label": label}
        for key, label in COMMUNITIES.items()
    }
    areas = sorted({a.area for a in applications if a.area})
    by_area = {area: funnel(a for a in applications if a.area == area) for area in areas}
    unanswered = funnel(a for a in applications if not a.communities)
    return {"overall": funnel(applications), "by_community": by_community, "not_answered": unanswered,
            "by_area": by_area, "suppressed_below": THRESHOLD}  # fmt: skip


def report_rows(report: Mapping[str, Any]) -> list[list[str]]:
    """The report as CSV rows: group kind, group, step, count, rate of previous, rate of started."""
    rows = [["breakdown", "group", "step", "count", "rate_of_previous", "rate_of_started"]]

    def add(breakdown: str, group: str, part: Mapping[str, Any]) -> None:
        for step in part["steps"]:
            rows.append([breakdown, group, step["step"], str(step["count"]),
                         "" if step["rate_of_previous"] is None else str(step["rate_of_previous"]),
                         "" if step["rate_of_started"] is None else str(step["rate_of_started"])])  # fmt: skip

    add("overall", "all", report["overall"])
    for key, part in report["by_community"].items():
        add("community_served", key, part)
    add("community_served", "not_answered", report["not_answered"])
    for area, part in report["by_area"].items():
        add("area", area, part)
    return rows
