"""A front end retries a create whose answer it lost: with the same Idempotency-Key it gets the first
answer again and nothing is created twice; the same key with another body is refused."""

import asyncio

from tests.integration.applications.conftest import Running
from tests.integration.applications.support import manager, programme_body
from tests.support.app import bearer


async def test_a_retried_create_with_the_same_key_gets_the_first_answer_and_creates_nothing_more(
    service: Running,
) -> None:
    http, settings = service.http, service.settings
    headers = {**manager(settings), "Idempotency-Key": '"5f0c2a8e-retry-1"'}
    body = programme_body(name="Created once")
    first = await http.post("/v1/programmes", json=body, headers=headers)
    again = await http.post("/v1/programmes", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"] and again.headers["etag"] == first.headers["etag"]
    assert await service.db.programmes.count_documents({"name": "Created once"}) == 1

    other = await http.post("/v1/programmes", json=programme_body(name="Something else"), headers=headers)
    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert "Idempotency-Key was used for another request" in other.json()["detail"]

    # Keys are each caller's own: another manager's identical key creates their own programme.
    someone_else = {**bearer(settings, "pm-2", "programme_manager"), "Idempotency-Key": "\"5f0c2a8e-retry-1\""}
    assert (await http.post("/v1/programmes", json=body, headers=someone_else)).json()["id"] != first.json()["id"]
    # Without a key, every request creates.
    plain = [await http.post("/v1/programmes", json=programme_body(name="Twice"), headers=manager(settings))
             for _ in range(2)]
    assert len({p.json()["id"] for p in plain}) == 2


async def test_two_requests_with_the_same_key_at_the_same_moment_create_one(service: Running) -> None:
    http, settings = service.http, service.settings
    headers = {**manager(settings), "Idempotency-Key": "at-once-7"}
    body = programme_body(name="Raced")
    answers = await asyncio.gather(*(http.post("/v1/programmes", json=body, headers=headers) for _ in range(4)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert await service.db.programmes.count_documents({"name": "Raced"}) == 1
