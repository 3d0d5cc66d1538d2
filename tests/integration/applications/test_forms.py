"""A programme's own questions over HTTP, on the real database: a manager publishes versions of the
form, a draft pins the version it started on, saves partial answers, attaches files (GridFS), and
cannot be submitted until every required question it is shown is answered well."""

from typing import Any

from tests.integration.applications.conftest import Running
from tests.integration.applications.support import applicant, draft, manager, open_programme, register

PDF = b"%PDF-1.7\n% a safeguarding policy\n"

FORM: dict[str, Any] = {
    "questions": [
        {"kind": "long_text", "id": "need", "label": "What need will you meet?", "max_words": 20},
        {"kind": "number", "id": "volunteers", "label": "How many volunteers?", "minimum": 0},
        {"kind": "yes_no", "id": "has_policy", "label": "Do you have a safeguarding policy?"},
        {"kind": "file", "id": "policy", "label": "Upload your safeguarding policy", "max_bytes": 1_000,
         "allowed_types": ["application/pdf"], "shown_if": {"question_id": "has_policy", "any_of": ["yes"]}},
        {"kind": "multiple_choice", "id": "who", "label": "Who is it for?", "required": False,
         "options": [{"value": "men", "label": "Men"}, {"value": "young", "label": "Young people"}]},
    ],
    "criteria": {"need": ["need"], "lived_experience": ["volunteers"]},
}  # fmt: skip


async def publish(service: Running, programme: dict[str, Any], body: dict[str, Any], version: int) -> Any:
    return await service.http.put(f"/v1/programmes/{programme['id']}/form", json=body,
                                  headers={**manager(service.settings), "If-Match": f'"{version}"'})  # fmt: skip


async def test_a_group_answers_the_programmes_questions_and_submits(service: Running) -> None:
    http, settings = service.http, service.settings
    programme = await open_programme(http, settings)
    published = await publish(service, programme, FORM, programme["version"])
    assert published.status_code == 200, published.text
    assert published.json()["version"] == 1
    assert published.headers["etag"] == f'"{programme["version"] + 1}"'
    # Anyone may read an open programme's questions
    public = await http.get(f"/v1/programmes/{programme['id']}/form")
    assert public.status_code == 200 and [q["id"] for q in public.json()["questions"]][:2] == ["need", "volunteers"]

    me = applicant(settings, "org-shed")
    await register(http, settings, "org-shed")
    created = (await draft(http, settings, programme["id"], "org-shed")).json()
    url = f"/v1/applications/{created['id']}"
    assert created["form_version"] == 1
    read = await http.get(url, headers=me)
    assert {p["question_id"] for p in read.json()["unfinished"]} == {"need", "volunteers", "has_policy"}

    # Every problem named at once, nothing saved
    bad = await http.put(f"{url}/answers", json={"answers": {"volunteers": -1, "need": " ".join(["word"] * 21),
                                                             "who": ["women"]}},
                         headers={**me, "If-Match": read.headers["etag"]})  # fmt: skip
    assert bad.status_code == 422, bad.text
    assert bad.headers["content-type"] == "application/problem+json"
    assert {tuple(e["location"]): e["message"] for e in bad.json()["errors"]} == {
        ("body", "answers", "volunteers"): "Enter a number of 0 or more",
        ("body", "answers", "need"): "Use 20 words or fewer; you used 21",
        ("body", "answers", "who"): "Select only the options offered, each once",
    }

    # A draft saves partial answers
    saved = await http.put(f"{url}/answers", json={"answers": {"need": "Isolated men in Brent", "has_policy": True}},
                           headers={**me, "If-Match": read.headers["etag"]})  # fmt: skip
    assert saved.status_code == 200, saved.text
    assert saved.json()["answers"] == {"need": "Isolated men in Brent", "has_policy": True}
    assert {p["question_id"] for p in saved.json()["unfinished"]} == {"volunteers", "policy"}, "the file is now asked"

    not_ready = await http.post(f"{url}/submit", headers=me)
    assert not_ready.status_code == 422
    assert {e["location"][-1] for e in not_ready.json()["errors"]} == {"volunteers", "policy"}

    # A file is checked against its question: type by name and by content, and size
    wrong_type = await http.post(f"{url}/attachments/policy", files={"file": ("policy.png", PDF, "image/png")},
                                 headers=me)  # fmt: skip
    assert wrong_type.status_code == 422 and "The file must be a PDF" in wrong_type.text
    renamed = await http.post(f"{url}/attachments/policy", files={"file": ("policy.pdf", b"MZ\x90\x00", "application/pdf")},
                              headers=me)  # fmt: skip
    assert renamed.status_code == 422 and "not what its name says" in renamed.text
    too_big = await http.post(f"{url}/attachments/policy", files={"file": ("policy.pdf", PDF + b"x" * 1_000, "application/pdf")},
                              headers=me)  # fmt: skip
    assert too_big.status_code == 422 and "smaller than" in too_big.text
    assert await service.db["attachments.files"].count_documents({}) == 0, "refused files are never stored"

    attached = await http.post(f"{url}/attachments/policy", files={"file": ("policy.pdf", PDF, "application/pdf")},
                               headers=me)  # fmt: skip
    assert attached.status_code == 200, attached.text
    assert attached.json()["answers"]["policy"]["filename"] == "policy.pdf"
    again = await http.post(f"{url}/attachments/policy", files={"file": ("policy-v2.pdf", PDF + b"v2", "application/pdf")},
                            headers=me)  # fmt: skip
    assert again.status_code == 200
    assert await service.db["attachments.files"].count_documents({}) == 1, "the replaced file is deleted"
    download = await http.get(f"{url}/attachments/policy", headers=manager(settings))
    assert download.status_code == 200 and download.content == PDF + b"v2"
    assert download.headers["content-type"] == "application/pdf"
    assert (await http.get(f"{url}/attachments/policy", headers=applicant(settings, "org-other"))).status_code == 404

    typed_file = await http.put(f"{url}/answers", json={"answers": {"policy": {"x": 1}}},
                                headers={**me, "If-Match": again.headers["etag"]})  # fmt: skip
    assert typed_file.status_code == 422 and "Upload the file" in typed_file.text

    done = await http.put(f"{url}/answers", json={"answers": {"volunteers": 12}},
                          headers={**me, "If-Match": again.headers["etag"]})  # fmt: skip
    assert done.status_code == 200 and done.json()["unfinished"] == []
    submitted = await http.post(f"{url}/submit", headers=me)
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted", submitted.text
    late = await http.put(f"{url}/answers", json={"answers": {"volunteers": 13}}, headers={**me, "If-Match": '"99"'})
    assert late.status_code in (409, 412)


async def test_a_new_form_version_does_not_change_under_an_application_already_started(service: Running) -> None:
    http, settings = service.http, service.settings
    programme = await open_programme(http, settings)
    first = await publish(service, programme, FORM, programme["version"])
    me = applicant(settings, "org-shed")
    await register(http, settings, "org-shed")
    started = (await draft(http, settings, programme["id"], "org-shed")).json()

    second_form = {"questions": [{"kind": "short_text", "id": "motto", "label": "Your motto"}]}
    second = await publish(service, programme, second_form, int(first.headers["etag"].strip('"')))
    assert second.status_code == 200 and second.json()["version"] == 2
    stale = await publish(service, programme, second_form, programme["version"])
    assert stale.status_code == 412

    url = f"/v1/applications/{started['id']}"
    read = await http.get(url, headers=me)
    assert read.json()["form_version"] == 1
    assert {p["question_id"] for p in read.json()["unfinished"]} == {"need", "volunteers", "has_policy"}
    refused = await http.put(f"{url}/answers", json={"answers": {"motto": "Walk and talk"}},
                             headers={**me, "If-Match": read.headers["etag"]})  # fmt: skip
    assert refused.status_code == 422 and "not a question on the form" in refused.text
    # Version 1 can still be read; new drafts get version 2
    assert (await http.get(f"/v1/programmes/{programme['id']}/form?version=1")).json()["version"] == 1
    await register(http, settings, "org-two", name="Harrow Mind")
    newer = (await draft(http, settings, programme["id"], "org-two")).json()
    assert newer["form_version"] == 2


async def test_a_form_must_hang_together_and_match_the_rubric(service: Running) -> None:
    http, settings = service.http, service.settings
    programme = await open_programme(http, settings)
    unknown_criterion = await publish(service, programme, {**FORM, "criteria": {"impact": ["need"]}},
                                      programme["version"])  # fmt: skip
    assert unknown_criterion.status_code == 422 and "criterion impact is not in the programme's rubric" in unknown_criterion.text
    forward = await publish(service, programme, {"questions": [
        {"kind": "long_text", "id": "b", "label": "B", "shown_if": {"question_id": "a", "any_of": ["yes"]}},
        {"kind": "yes_no", "id": "a", "label": "A"},
    ]}, programme["version"])  # fmt: skip
    assert forward.status_code == 422 and "only depend on an earlier question" in forward.text
    not_manager = await http.put(f"/v1/programmes/{programme['id']}/form", json=FORM,
                                 headers={**applicant(settings, "org-shed"), "If-Match": '"1"'})  # fmt: skip
    assert not_manager.status_code == 403
    assert (await http.get(f"/v1/programmes/{programme['id']}/form")).status_code == 404


async def test_a_file_cannot_be_attached_once_the_application_is_sent(service: Running) -> None:
    http, settings = service.http, service.settings
    programme = await open_programme(http, settings)
    await publish(service, programme, {"questions": [
        {"kind": "file", "id": "budget", "label": "Your budget", "allowed_types": ["text/csv"], "required": False},
    ]}, programme["version"])  # fmt: skip
    me = applicant(settings, "org-shed")
    await register(http, settings, "org-shed")
    created = (await draft(http, settings, programme["id"], "org-shed")).json()
    url = f"/v1/applications/{created['id']}"
    binary = await http.post(f"{url}/attachments/budget", files={"file": ("budget.csv", b"a,b\x00\x01", "text/csv")},
                             headers=me)  # fmt: skip
    assert binary.status_code == 422 and "this one is not text" in binary.text
    assert (await http.post(f"{url}/submit", headers=me)).json()["status"] == "submitted", "an optional file"
    late = await http.post(f"{url}/attachments/budget", files={"file": ("budget.csv", b"item,cost\n", "text/csv")},
                           headers=me)  # fmt: skip
    assert late.status_code == 409
    assert await service.db["attachments.files"].count_documents({}) == 0
    unknown = await http.post(f"{url}/attachments/nothing", files={"file": ("a.csv", b"x", "text/csv")}, headers=me)
    assert unknown.status_code in (404, 409)
