"""Benchmark of scoring's long lists at scale, straight on the store and the embedded database with the
service's indexes: loads one programme with 10,000 applications in review, scored and decided, then up
to 100,000 (BENCH_APPLICATIONS="10000,100000"), and at each size times the ranking (its first page,
page 20 by cursor, a panel member's first page with conflicts of interest left out) and the manager's
list of applications in review (its first page, page 20, one status), each by cursor. Prints each p99 at each size,
the last against the 200 ms target as a ratio, and the growth between the sizes; writes the figures
to bench-results/scoring_lists.json. Asserts nothing about time.

Scores are what a panel gives: three reviewers' whole marks on four criteria, weighted, so many
applications share a score (the ranking's ties go to the earlier submission), and a few moderated.

    make bench
"""

import asyncio
import os
import random
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from grants_shared.events import OrganisationSummary, QuestionAnswer, RubricCriterion
from grants_shared.money import Money
from grants_shared.paging import After
from scoring import store
from scoring.domain import ApplicationStatus, RankingWalk
from scoring.store import Application, Decision, Programme
from tests.bench.at_scale import Page, Plain, database, load, report, timed

SIZES = [int(n) for n in os.environ.get("BENCH_APPLICATIONS", "10000,100000").split(",")]
REQUESTS = int(os.environ.get("BENCH_LIST_REQUESTS", "50"))
PAGE = 50
OPEN = timedelta(weeks=6)
WEIGHTS = {"need": 2, "reach": 1, "lived_experience": 1, "plan": 1}
#: The organisations a panel member has declared a conflict with (one in a hundred applicants).
CONFLICTED = frozenset(f"org-{n}" for n in range(0, max(SIZES), 100))
ANSWER = "We run weekly peer support sessions for carers in the borough, led by people who have been there. " * 4


def _score(rng: random.Random) -> float:
    """Three reviewers' whole marks (0 to 5, mostly 2 to 4) on each criterion, averaged and weighted."""
    means = {key: sum(min(5, max(0, round(rng.gauss(3.2, 1.0)))) for _ in range(3)) / 3 for key in WEIGHTS}
    return sum(WEIGHTS[key] * mean for key, mean in means.items()) / sum(WEIGHTS.values())


def application(number: int, programme_id: str, start: datetime, rng: random.Random) -> dict[str, Any]:
    status = rng.choices([ApplicationStatus.SCORED, ApplicationStatus.DECIDED, ApplicationStatus.IN_REVIEW],
                         weights=[7, 2, 1])[0]  # fmt: skip
    submitted = start + timedelta(seconds=rng.uniform(0, OPEN.total_seconds()))
    score = _score(rng) if status is not ApplicationStatus.IN_REVIEW else None
    if score is not None and rng.random() < 0.05:
        score = round(rng.uniform(1, 5), 1)  # a moderator's score
    decision = Decision(
        outcome=rng.choice(["awarded", "declined"]), decided_at=submitted + timedelta(weeks=8), recorded_by="pm-1",
        by="panel", meeting_id="meeting-1",
    ) if status is ApplicationStatus.DECIDED else None  # fmt: skip
    return Application(
        id=f"app-{number:032x}", programme_id=programme_id, title=f"Peer support circle {number}", summary="Support.",
        organisation=OrganisationSummary(id=f"org-{number}", name=f"Group {number}", kind="charity", area="Brent"),
        amount_requested=Money(amount=rng.randrange(1_000, 10_000) * 100, currency="GBP"), submitted_at=submitted,
        status=status, reviewers_required=3, reviewer_ids=["rev-a", "rev-b", "rev-c"],
        reviews_completed=3 if score is not None else 1, weighted_score=score, computed_weighted_score=score,
        answers=[QuestionAnswer(question_id=f"q{n}", label="Who will it reach?", answer=ANSWER) for n in range(3)],
        decision=decision,
    ).to_doc()  # fmt: skip


def _lists(tx: Any, programme: Programme) -> dict[str, tuple[Page, int]]:
    """Each list's page as a function of the cursor the page before gave, and which page to time."""
    budget, programme_id = RankingWalk(left=200_000_000), programme.id

    def ranking(hidden: frozenset[str]) -> Page:
        async def page(cursor: tuple[RankingWalk, After] | None) -> tuple[RankingWalk, After] | None:
            walked, after = cursor or (budget, None)
            _, walked, following = await store.ranking_page(tx, programme_id, walked, after, PAGE, hidden)
            return (walked, following) if following else None

        return page

    def listed(status: ApplicationStatus | None) -> Page:
        async def page(after: After | None) -> After | None:
            return (await store.list_applications(tx, programme, status, PAGE, after))[1]

        return page

    return {
        "ranking, first page": (ranking(frozenset()), 1),
        "ranking, page 20": (ranking(frozenset()), 20),
        "a panel member's ranking": (ranking(CONFLICTED), 1),
        "applications in review, first page": (listed(None), 1),
        "applications in review, page 20": (listed(None), 20),
        "one status (scored)": (listed(ApplicationStatus.SCORED), 1),
    }


async def run() -> dict[int, dict[str, dict[str, float]]]:
    """Figures at each size, loading the one programme up to the next size in between."""
    async with database("bench_scoring", store.create_indexes) as db:
        rng = random.Random(9)
        programme_id, start = "prg-bench", datetime(2026, 1, 1, tzinfo=UTC)
        programme = Programme(
            id=programme_id, name="Bench", budget=Money(amount=200_000_000, currency="GBP"),
            maximum_award=Money(amount=1_000_000, currency="GBP"), reviewers_per_application=3,
            criteria=[RubricCriterion(key=key, title=key, weight=weight) for key, weight in WEIGHTS.items()],
            panel=["rev-a", "rev-b", "rev-c"], opened_at=start,
        )  # fmt: skip
        tx, loaded, figures = Plain(db), 0, {}
        for size in SIZES:
            await load(db, loaded, size, lambda n: application(n, programme_id, start, rng))
            loaded = size
            lists = _lists(tx, programme)
            figures[size] = {name: await timed(page, number, REQUESTS) for name, (page, number) in lists.items()}
    return figures


def main() -> int:
    figures = asyncio.run(run())
    report(f"scoring's lists: one programme of {', then '.join(f'{n:,}' for n in SIZES)} applications, "
           f"{REQUESTS} requests each, a page of {PAGE}", "list", SIZES, figures, "scoring_lists.json",
           requests=REQUESTS, page=PAGE)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
