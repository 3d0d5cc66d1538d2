"""The managers' search and CSV export over HTTP, on the real database: every filter, paging, the
export's columns and quoting, and what it leaves out."""

import csv
import io

from tests.integration.applications.conftest import Running
from tests.integration.applications.support import applicant, draft, gbp, manager, open_programme, register


async def test_managers_find_a_programmes_applications_by_every_filter_and_export_them(service: Running) -> None:
    http, settings = service.http, service.settings
    programme = await open_programme(http, settings)
    other = await open_programme(http, settings)
    groups = [  # organisation, its name, area, title, pounds, submitted
        ("org-shed", "Brent Men's Shed", "Brent", "Peer support walks", 6_000, True),
        ("org-cafe", "Café Harrow, \"Listening\" Circle", "Harrow", "=Listening café evenings", 2_500, True),
        ("org-youth", "Harrow Youth Voices", "Harrow", "Peer mentors for young people", 9_000, True),
        ("org-draft", "Kilburn Carers", "Brent", "Walking group for carers", 4_000, False),
    ]
    ids: dict[str, str] = {}
    for organisation, name, area, title, pounds, submit in groups:
        await register(http, settings, organisation, name=name, area=area)
        created = await draft(http, settings, programme["id"], organisation, title=title, amount_requested=gbp(pounds))
        assert created.status_code == 201, created.text
        ids[organisation] = created.json()["id"]
        if submit:
            sent = await http.post(f"/v1/applications/{ids[organisation]}/submit", headers=applicant(settings, organisation))
            assert sent.json()["status"] == "submitted", sent.text
    await draft(http, settings, other["id"], "org-shed", title="Peer support walks")

    async def found(**params: object) -> list[str]:
        answer = await http.get(f"/v1/programmes/{programme['id']}/applications", params=params, headers=manager(settings))
        assert answer.status_code == 200, answer.text
        by_id = {v: k for k, v in ids.items()}
        return sorted(by_id[item["id"]] for item in answer.json()["items"])

    assert await found() == ["org-cafe", "org-draft", "org-shed", "org-youth"], "only this programme's"
    assert await found(q="PEER") == ["org-shed", "org-youth"], "a word of the title, in any case"
    assert await found(q="peer walks") == ["org-shed"], "every word"
    assert await found(q="cafe") == ["org-cafe"], "accents folded"
    assert await found(q="harrow") == ["org-cafe", "org-youth"], "a word of the group's name"
    assert await found(q="walk") == [], "whole words"
    assert await found(status="draft") == ["org-draft"]
    assert await found(status=["draft", "submitted"]) == ["org-cafe", "org-draft", "org-shed", "org-youth"]
    assert await found(stage="full", status="submitted") == ["org-cafe", "org-shed", "org-youth"]
    assert await found(stage="expression_of_interest") == []
    assert await found(area="Harrow") == ["org-cafe", "org-youth"]
    assert await found(amount_min=400_000, amount_max=600_000) == ["org-draft", "org-shed"]
    assert await found(amount_min=900_000) == ["org-youth"]
    assert await found(q="peer", area="Harrow", amount_max=900_000) == ["org-youth"]

    base = f"/v1/programmes/{programme['id']}/applications"

    async def pages(**params: object) -> list[list[str]]:
        by_id, listed, after = {v: k for k, v in ids.items()}, [], None
        while True:
            answer = await http.get(base, params={**params, **({"after": after} if after else {})},
                                    headers=manager(settings))  # fmt: skip
            assert answer.status_code == 200, answer.text
            listed.append([by_id[item["id"]] for item in answer.json()["items"]])
            if (after := answer.json()["next"]) is None:
                # A full page may be followed by an empty last one (the cursor does not look ahead).
                return listed[:-1] if len(listed) > 1 and not listed[-1] else listed
            assert "total" not in answer.json(), "a long list is not counted"

    newest = await pages(limit=3)
    assert newest == [["org-draft", "org-youth", "org-cafe"], ["org-shed"]], "newest first, each once, by cursor"
    assert await pages(limit=2, amount_min=0) == [["org-cafe", "org-draft"], ["org-shed", "org-youth"]], "by amount"
    first = (await http.get(base, params={"limit": 1}, headers=manager(settings))).json()
    wrong_kind = await http.get(base, params={"after": first["next"], "amount_min": 0}, headers=manager(settings))
    assert wrong_kind.status_code == 400, "a newest-first cursor is not a place in a list by amount"
    assert (await http.get(base, params={"after": "not-a-cursor"}, headers=manager(settings))).status_code == 400

    assert (await http.get(base, headers=applicant(settings, "org-shed"))).status_code == 403
    assert (await http.get(f"{base}.csv", headers=applicant(settings, "org-shed"))).status_code == 403
    assert (await http.get("/v1/programmes/nope/applications", headers=manager(settings))).status_code == 404
    wrong = await http.get(base, params={"amount_min": 5, "amount_max": 1}, headers=manager(settings))
    assert wrong.status_code == 400 and wrong.headers["content-type"].startswith("application/problem+json")
    assert (await http.get(base, params={"status": "martian"}, headers=manager(settings))).status_code == 422

    exported = await http.get(f"{base}.csv", params={"area": "Harrow"}, headers=manager(settings))
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0][:10] == ["application_id", "title", "organisation_id", "organisation_name", "organisation_kind",
                            "area", "stage", "status", "amount_requested", "currency"]  # fmt: skip
    by_id = {row[0]: row for row in rows[1:]}
    assert set(by_id) == {ids["org-cafe"], ids["org-youth"]}
    cafe = by_id[ids["org-cafe"]]
    assert cafe[1] == "'=Listening café evenings", "a formula is kept as text"
    assert cafe[3] == 'Café Harrow, "Listening" Circle', "commas and quotes survive the quoting"
    assert cafe[8:10] == ["2500.00", "GBP"]
    assert "amara" not in exported.text.lower(), "no contact person"

    everything = await http.get(f"{base}.csv", headers=manager(settings))
    assert len(list(csv.reader(io.StringIO(everything.text)))) == 5
