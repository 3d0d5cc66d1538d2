"""One grant's journey through the four services' HTTP APIs, as the people involved would make it.

Used by `make run` (to load the demo programme), `make demo` (to show the journey) and the
end-to-end test (to check it). Each step says what it does; each wait polls the API until the
events behind it have done their work.
"""

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

import httpx

from grants_shared.auth import mint_token
from grants_shared.clock import utcnow
from grants_shared.settings import ServiceSettings

DEMO_PROGRAMME = "Community suicide-prevention fund (demo)"
MANAGER = "maya-manager"
#: The finance officers who approve payment runs; a run above the threshold needs both.
FINANCE_OFFICERS = ("femi-finance", "faith-finance")
PANEL = ["reviewer-amara", "reviewer-ben", "reviewer-chen"]
#: The demo's decision rule: its three experts by experience decide by majority, two of them a quorum.
#: NHS England's PPV partners policy pays a rate per session (a meeting, a review); expenses are repaid.
INVOLVEMENT_POLICY = {
    "unit": "session", "rate": {"amount": 7_500, "currency": "GBP"}, "meeting": 1, "review": 1,
    "expenses_allowed": True, "expense_categories": ["travel", "childcare", "carer_costs"],
}
DECISION_RULE = {
    "method": "majority",
    "members": [{"member_id": member, "kind": "expert_by_experience"} for member in PANEL],
    "quorum": {"members": 2, "experts": 2},
}


class JourneyFailed(Exception):
    pass


def demo_programme() -> dict[str, Any]:
    now = utcnow()
    return {
        "name": DEMO_PROGRAMME,
        "description": "Small grants for voluntary and community groups working to prevent suicide in North West London, "
        "co-produced with experts by experience who sit on the panel.",
        "budget": {"amount": 25_000_000, "currency": "GBP"},
        "maximum_award": {"amount": 1_000_000, "currency": "GBP"},
        "opens_at": (now - timedelta(minutes=5)).isoformat(),
        "closes_at": (now + timedelta(days=90)).isoformat(),
        "eligibility": {
            "areas_served": ["Brent", "Ealing", "Hammersmith and Fulham", "Harrow", "Hillingdon", "Hounslow",
                             "Kensington and Chelsea", "Westminster"],
            "organisation_kinds": ["charity", "community_interest_company", "community_group", "social_enterprise",
                                   "faith_group"],
            "max_annual_income": {"amount": 25_000_000, "currency": "GBP"},
        },
        "criteria": [
            # What each score means, so that every panel member reads the scale the same way.
            {"key": "need", "title": "Evidence of need in the community", "weight": 3, "guidance": [
                {"score": 0, "meaning": "No need is described"},
                {"score": 1, "meaning": "Need is asserted, with no evidence"},
                {"score": 2, "meaning": "Some evidence, not from this community"},
                {"score": 3, "meaning": "Local evidence of need"},
                {"score": 4, "meaning": "Local evidence, including what people affected say"},
                {"score": 5, "meaning": "Strong local evidence, shaped by people with lived experience"},
            ]},
            {"key": "reach", "title": "Reaches seldom-heard groups", "weight": 3},
            {"key": "deliverability", "title": "A realistic plan the group can deliver", "weight": 2},
            {"key": "value", "title": "Value for money", "weight": 2},
        ],
        "reviewers_per_application": 2,
        "panel": PANEL,
        "payment_policy": {"kind": "tranches", "tranches": [
            {"share_bps": 8_000, "due_after_days": 0}, {"share_bps": 2_000, "due_after_days": 180},
        ]},
    }


class Journey:
    def __init__(self, urls: dict[str, str], settings: ServiceSettings | None = None,
                 say: Callable[[str], None] = print, timeout: float = 60) -> None:
        self.urls = urls
        self.settings = settings or ServiceSettings()
        self.say = say
        self.timeout = timeout
        # Idle connections dropped before uvicorn's 5 s keep-alive closes them (as the portal does):
        # a request sent on one being closed fails.
        self.http = httpx.Client(timeout=10, limits=httpx.Limits(keepalive_expiry=2.0))

    # --- plumbing ---------------------------------------------------------------------------------

    def as_(self, subject: str, *roles: str, organisations: tuple[str, ...] = (), name: str | None = None,
            email: str | None = None) -> dict[str, str]:
        token = mint_token(self.settings, subject, list(roles), list(organisations), name=name, email=email)
        return {"Authorization": f"Bearer {token}"}

    def call(self, method: str, service: str, path: str, headers: dict[str, str], expect: int = 200,
             **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, f"{self.urls[service]}{path}", headers=headers, **kwargs)
        if response.status_code != expect:
            raise JourneyFailed(f"{method} {service}{path} answered {response.status_code}, not {expect}: {response.text}")
        return response

    def until(self, what: str, check: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + self.timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise JourneyFailed(f"gave up waiting for {what} after {self.timeout:.0f}s")
            time.sleep(0.25)

    # --- the programme ------------------------------------------------------------------------------

    def open_demo_programme(self) -> dict[str, Any]:
        """The open demo programme, created and opened by the programme manager if there is none."""
        manager = self.as_(MANAGER, "programme_manager")
        listed = self.call("GET", "applications", "/v1/programmes", manager, params={"limit": 100}).json()["items"]
        for programme in listed:
            if programme["name"] == DEMO_PROGRAMME and programme["status"] == "open":
                return programme
        created = self.call("POST", "applications", "/v1/programmes", manager, expect=201, json=demo_programme()).json()
        opened = self.call("POST", "applications", f"/v1/programmes/{created['id']}/open", manager).json()
        # The other services learn of it from grants.programme.opened.v1.
        self.until("scoring to hear the programme opened",
                   lambda: self.http.get(f"{self.urls['scoring']}/v1/programmes/{opened['id']}", headers=manager).status_code == 200)
        self.set_decision_rule(opened["id"], DECISION_RULE)
        self.set_involvement(opened["id"])
        return opened

    def set_involvement(self, programme_id: str) -> None:
        """The panel's experts by experience are paid for their involvement: the manager sets the
        policy (scoring) and finance the involvement budget (disbursement, once it has the ledger)."""
        manager, finance = self.as_(MANAGER, "programme_manager"), self.as_(FINANCE_OFFICERS[0], "finance_officer")
        self.call("PUT", "scoring", f"/v1/programmes/{programme_id}/involvement-policy", manager, json=INVOLVEMENT_POLICY)
        ledger = f"{self.urls['disbursement']}/v1/programmes/{programme_id}/ledger"
        self.until("disbursement to hear the programme opened",
                   lambda: self.http.get(ledger, headers=finance).status_code == 200)
        self.call("PUT", "disbursement", f"/v1/programmes/{programme_id}/involvement-budget", finance,
                  json={"total": {"amount": 200_000, "currency": "GBP"}})

    def set_decision_rule(self, programme_id: str, rule: dict[str, Any]) -> None:
        """The manager sets how the programme decides (in scoring, which owns the panel once it opens)."""
        manager = self.as_(MANAGER, "programme_manager")
        current = self.call("GET", "scoring", f"/v1/programmes/{programme_id}", manager)
        self.call("PUT", "scoring", f"/v1/programmes/{programme_id}/decision-rule",
                  {**manager, "If-Match": current.headers["etag"]}, json=rule)

    # --- the whole journey --------------------------------------------------------------------------

    def run(self, person: str | None = None, organisation_id: str | None = None) -> dict[str, Any]:
        """The journey of one application, by a new group (or by ``person`` for ``organisation_id``,
        such as one of the portal's demo people)."""
        say = self.say
        manager = self.as_(MANAGER, "programme_manager")
        programme = self.open_demo_programme()
        say(f"1. Programme manager: '{programme['name']}' is open (budget £{programme['budget']['amount'] // 100:,})")

        suffix = uuid4().hex[:8]
        organisation_id, person = organisation_id or f"org-{suffix}", person or f"sam-{suffix}"
        applicant = self.as_(person, "applicant", organisations=(organisation_id,), name="Sam Okafor",
                             email=f"{person}@example.org")
        self.call("PUT", "applications", f"/v1/organisations/{organisation_id}", applicant, expect=201, json={
            "name": f"Harrow Men's Shed {suffix}", "kind": "community_group", "area": "Harrow",
            "annual_income": {"amount": 4_000_000, "currency": "GBP"},
        })
        draft = self.call("POST", "applications", "/v1/applications", applicant, expect=201, json={
            "programme_id": programme["id"], "organisation_id": organisation_id,
            "title": "Peer support circles for men over fifty",
            "summary": "Weekly peer-support circles led by trained volunteers with lived experience, "
                       "for isolated older men in Harrow, with signposting to crisis services.",
            "amount_requested": {"amount": 800_000, "currency": "GBP"},
        }).json()
        application_id = draft["id"]
        submitted = self.call("POST", "applications", f"/v1/applications/{application_id}/submit", applicant).json()
        if submitted["status"] != "submitted":
            raise JourneyFailed(f"the application was not accepted: {submitted}")
        say(f"2. Applicant: organisation {organisation_id} submitted application {application_id} for £8,000")

        reviews = self.until("scoring to assign reviewers", lambda: self._assigned_reviews(application_id))
        say(f"3. Scoring assigned {len(reviews)} reviewers from the panel: {', '.join(r['reviewer'] for r in reviews)}")
        marks = {"need": 5, "reach": 4, "deliverability": 4, "value": 4}
        for review in reviews:
            reviewer = self.as_(review["reviewer"], "reviewer")
            current = self.call("GET", "scoring", f"/v1/reviews/{review['id']}", reviewer)
            sheet = {key: {"score": score, "comment": f"Scored {score}: clear plan, strong lived-experience input."}
                     for key, score in marks.items()}
            self.call("PUT", "scoring", f"/v1/reviews/{review['id']}/scores", {**reviewer, "If-Match": current.headers["etag"]},
                      json={"scores": sheet})
            self.call("POST", "scoring", f"/v1/reviews/{review['id']}/submit", reviewer)
            say(f"4. Reviewer {review['reviewer']} scored and submitted review {review['id']}")

        scored = self.until("the weighted score", lambda: self._scoring_status(application_id, manager, "scored"))
        say(f"5. Scoring: weighted score {scored['weighted_score']} from {len(reviews)} reviews")
        ranking = self.call("GET", "scoring", f"/v1/programmes/{programme['id']}/ranking", manager).json()
        say(f"6. Panel ranking: {len(ranking['applications'])} scored, £{ranking['remaining']['amount'] // 100:,} of the budget left")

        decided = self.panel_decides(programme["id"], application_id, {member: {"recommendation": "fund",
                                  "reason": "Led by lived experience."} for member in PANEL})  # fmt: skip
        tally = decided["decision"]["tally"]
        say(f"7. The panel met ({', '.join(PANEL)} present), each recommended funding, and it decided: "
            f"{decided['decision']['outcome']} ({tally['fund']} to fund, {tally['do_not_fund']} not to fund)")

        grant = self.until("the grant offer", lambda: self._grant_for(application_id, applicant, "offered"))
        schedule = ", ".join(f"£{p['amount']['amount'] // 100:,} after {p['due_after_days']} days" for p in grant["schedule"])
        say(f"8. Disbursement offered grant {grant['id']}: {schedule}")
        accepted = self.call("POST", "disbursement", f"/v1/grants/{grant['id']}/accept", applicant, json={
            "bank_account": {"account_name": "Harrow Mens Shed", "sort_code": "20-00-00", "account_number": "55779911"},
            "signatory": {"name": "Dev Patel", "position": "Treasurer"},
        }).json()
        say(f"9. Grantee's signatory accepted the offer; bank account stored as {accepted['bank_account']['account_number']}")
        run = self.approve_payment_run(grant["id"])
        say(f"   Finance approved payment run {run['id']} ({len(run['payment_ids'])} payments, "
            f"£{run['total']['amount'] // 100:,}) by {', '.join(a['by'] for a in run['approvals'])}")

        timeline = self.until("the first payment", lambda: self._status_in(application_id, applicant, ("part_paid", "paid")))
        say(f"10. Payment sent; the applicant's application is now '{timeline['status']}'")

        inbox = self.until("the decision and payment notifications", lambda: self._inbox_has(
            applicant, {"application_awarded", "payment_sent"}))
        for item in inbox:
            say(f"    inbox: {item['subject']}")
        say("Journey complete: submitted, reviewed, decided, offered, accepted, approved by finance, paid, notified.")
        return {"application_id": application_id, "grant": grant, "timeline": timeline, "inbox": inbox,
                "organisation_id": organisation_id, "applicant": person, "reviews": reviews,
                "meeting_id": decided["meeting_id"]}

    def panel_decides(
        self, programme_id: str, application_id: str, recommendations: dict[str, dict[str, Any]],
        feedback: str = "The panel was moved by the lived-experience leadership of this project.",
    ) -> dict[str, Any]:
        """The manager calls a decision meeting with these members present, each records their
        recommendation, and the manager closes the item: the panel's decision (the item, decided)."""
        manager = self.as_(MANAGER, "programme_manager")
        meeting = self.call("POST", "scoring", f"/v1/programmes/{programme_id}/meetings", manager, expect=201, json={
            "held_on": utcnow().date().isoformat(), "application_ids": [application_id],
            "attendance": list(recommendations),
        }).json()
        for member, recommendation in recommendations.items():
            self.call("PUT", "scoring", f"/v1/meetings/{meeting['id']}/items/{application_id}/recommendation",
                      self.as_(member, "reviewer"), json=recommendation)
        item = self.call("POST", "scoring", f"/v1/meetings/{meeting['id']}/items/{application_id}/close", manager, json={
            "rationale": "The panel agreed the need is well evidenced and the group can deliver.", "feedback": feedback,
        }).json()
        return {**item, "meeting_id": meeting["id"]}

    # --- what the waits look at ---------------------------------------------------------------------

    def approve_payment_run(self, grant_id: str) -> dict[str, Any]:
        """Finance gathers what is due into a run and approves the run holding the grant's first payment
        (with a second officer if its total needs one). Another journey may have gathered or approved the
        same run first: a 409 from an approval that is no longer needed is no failure."""
        first, second = (self.as_(officer, "finance_officer") for officer in FINANCE_OFFICERS)

        def in_a_run() -> str | None:
            self.call("POST", "disbursement", "/v1/payment-runs", first)
            payments = self.call("GET", "disbursement", "/v1/payments", first, params={"grant_id": grant_id}).json()
            return next((p["run_id"] for p in sorted(payments["items"], key=lambda p: p["sequence"]) if p["run_id"]), None)

        run_id = self.until("the first payment to be gathered into a run", in_a_run)
        for officer in (first, second):
            run = self.call("GET", "disbursement", f"/v1/payment-runs/{run_id}", first).json()
            if run["status"] == "approved":
                return run
            response = self.http.post(f"{self.urls['disbursement']}/v1/payment-runs/{run_id}/approve", headers=officer)
            if response.status_code not in (200, 409):
                raise JourneyFailed(f"approving payment run {run_id} answered {response.status_code}: {response.text}")
        run = self.call("GET", "disbursement", f"/v1/payment-runs/{run_id}", first).json()
        if run["status"] != "approved":
            raise JourneyFailed(f"payment run {run_id} is still {run['status']} after two approvals")
        return run

    def _assigned_reviews(self, application_id: str) -> list[dict[str, str]] | None:
        found = []
        for reviewer in PANEL:
            response = self.http.get(f"{self.urls['scoring']}/v1/reviews", headers=self.as_(reviewer, "reviewer"))
            for review in response.json()["items"] if response.status_code == 200 else []:
                if review["application_id"] == application_id and review["status"] != "cancelled":
                    found.append({"id": review["id"], "reviewer": reviewer})
        return found if len(found) >= 2 else None

    def _scoring_status(self, application_id: str, manager: dict[str, str], status: str) -> dict[str, Any] | None:
        response = self.http.get(f"{self.urls['scoring']}/v1/applications/{application_id}", headers=manager)
        return response.json() if response.status_code == 200 and response.json()["status"] == status else None

    def _grant_for(self, application_id: str, applicant: dict[str, str], status: str) -> dict[str, Any] | None:
        response = self.http.get(f"{self.urls['disbursement']}/v1/grants", headers=applicant)
        if response.status_code != 200:
            return None
        body = response.json()
        items = body["items"] if isinstance(body, dict) else body
        return next((g for g in items if g["application_id"] == application_id and g["status"] == status), None)

    def _status_in(self, application_id: str, applicant: dict[str, str], statuses: tuple[str, ...]) -> dict[str, Any] | None:
        response = self.http.get(f"{self.urls['applications']}/v1/applications/{application_id}/timeline", headers=applicant)
        return response.json() if response.status_code == 200 and response.json()["status"] in statuses else None

    def _inbox_has(self, person: dict[str, str], kinds: set[str]) -> list[dict[str, Any]] | None:
        response = self.http.get(f"{self.urls['notifications']}/v1/inbox", headers=person)
        items = response.json()["items"] if response.status_code == 200 else []
        return items if kinds <= {item["kind"] for item in items} else None


def load_demo_programme(urls: dict[str, str]) -> dict[str, Any]:
    return Journey(urls, say=lambda _: None).open_demo_programme()
