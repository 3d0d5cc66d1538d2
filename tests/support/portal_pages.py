"""The portal's pages for each kind of person, after one journey has given them something to show;
and a signed-in browser-less client. Used by the portal benchmark and the query-plan test."""

import re
from typing import Any

import httpx

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def signed_in(portal: str, subject: str | None) -> httpx.Client:
    client = httpx.Client(base_url=portal, timeout=30, follow_redirects=False)
    if subject:
        form = client.get("/sign-in")
        token = CSRF.search(form.text).group(1)  # type: ignore[union-attr]
        answer = client.post("/sign-in", data={"csrf_token": token, "persona": subject, "next": "/"})
        assert answer.status_code == 303, answer.text
    return client


def pages_after(done: dict[str, Any]) -> dict[str | None, list[str]]:
    """``{persona (None: anyone): [path, ...]}`` for the journey ``done`` (``Journey.run``'s answer)."""
    application, grant, programme = done["application_id"], done["grant"]["id"], done["grant"]["programme_id"]
    review, meeting = done["reviews"][0], done["meeting_id"]
    return {
        None: ["/", "/programmes", f"/programmes/{programme}"],
        "sam-harrow": ["/applications", f"/applications/{application}", f"/grants/{grant}", "/inbox",
                       "/organisation", f"/grants/{grant}/training"],
        review["reviewer"]: ["/reviews", f"/reviews/{review['id']}", "/conflicts", "/panel/meetings",
                             f"/panel/meetings/{meeting}", f"/panel/meetings/{meeting}/items/{application}",
                             "/panel/profile", "/panel/training",
                             "/panel/involvement", "/panel/involvement/payment-choice", "/panel/involvement/bank-details",
                             f"/panel/involvement/programmes/{programme}/expense"],
        "maya-manager": ["/manage", f"/manage/programmes/{programme}", f"/manage/programmes/{programme}/ranking",
                         f"/manage/programmes/{programme}/applications", f"/manage/applications/{application}",
                         f"/manage/applications/{application}/history",
                         "/manage/conflicts", f"/manage/programmes/{programme}/meetings",
                         f"/manage/programmes/{programme}/decision-rule", f"/manage/meetings/{meeting}",
                         f"/manage/meetings/{meeting}/items/{application}",
                         f"/manage/programmes/{programme}/panel-support", f"/manage/programmes/{programme}/training",
                         "/manage/reports", f"/manage/grants/{grant}/conditions",
                         f"/manage/programmes/{programme}/involvement",
                         f"/manage/programmes/{programme}/changes", f"/manage/programmes/{programme}/questions",
                         f"/manage/programmes/{programme}/after-award",
                         f"/manage/programmes/{programme}/after-award/offer-terms",
                         f"/manage/programmes/{programme}/after-award/monitoring",
                         f"/manage/programmes/{programme}/after-award/tranches",
                         f"/manage/programmes/{programme}/assisted",
                         f"/manage/programmes/{programme}/assisted/new?organisation=org-harrow-mens-shed"],
        "femi-finance": ["/finance", f"/finance/grants/{grant}", "/finance/payments",
                         f"/finance/programmes/{programme}/ledger", f"/finance/grants/{grant}/change",
                         f"/finance/grants/{grant}/repayment", f"/finance/programmes/{programme}/involvement-budget"],
        "ade-admin": ["/admin/webhooks"],
    }  # fmt: skip
