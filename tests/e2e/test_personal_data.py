"""A person's data across the platform (UK GDPR): a copy of everything every service holds about them,
then their erasure, which each service carries out and confirms; afterwards nothing in any service's
database names them or holds their address, while the grant, its payment and the decision remain."""

import asyncio
import json
from pathlib import Path
from typing import Any
from uuid import uuid4

import aio_pika
import pytest
from bson import json_util
from pymongo import AsyncMongoClient

from grants_shared.cloudevents import to_message
from grants_shared.dev.infra import free_port
from grants_shared.dev.journey import Journey
from grants_shared.dev.stack import local_stack
from grants_shared.events import ApplicationAnonymised, Event
from grants_shared.settings import ServiceSettings
from tests.support.bus import delete_topology

pytestmark = pytest.mark.e2e

SERVICES = ("applications", "scoring", "disbursement", "notifications")


async def everything_stored(mongodb_url: str, settings: ServiceSettings) -> dict[str, str]:
    """Every document of every service's database, by collection, as text to search."""
    client: AsyncMongoClient = AsyncMongoClient(mongodb_url)
    texts = {}
    try:
        for service in SERVICES:
            db = client[settings.database(service)]
            for name in await db.list_collection_names():
                if not name.startswith("system."):
                    texts[f"{service}.{name}"] = "\n".join([json_util.dumps(doc) async for doc in db[name].find({})])
    finally:
        await client.close()
    return texts


async def publish(settings: ServiceSettings, data: ApplicationAnonymised) -> None:
    connection = await aio_pika.connect(settings.rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(settings.exchange)
        event = Event.new(data, source="/grants/applications")
        await exchange.publish(to_message(event), routing_key=event.type)


def copies(journey: Journey, admin: dict[str, str], person: str) -> dict[str, dict[str, Any]]:
    return {service: journey.call("GET", service, f"/v1/personal-data/people/{person}", admin).json()["held"]
            for service in SERVICES}  # fmt: skip


def test_a_person_gets_a_copy_of_their_data_and_then_is_erased_everywhere(
    mongodb_url: str, rabbitmq_url: str, tmp_path: Path
) -> None:
    settings = ServiceSettings(prefix=f"pd{uuid4().hex[:8]}", mongodb_url=mongodb_url, rabbitmq_url=rabbitmq_url)
    ports = {name: free_port() for name in SERVICES}
    env = {"GRANTS_PREFIX": settings.prefix, "GRANTS_PAYMENT_POLL_SECONDS": "0.5",
           "GRANTS_EMAIL_POLL_SECONDS": "0.5", "GRANTS_OUTBOX_POLL_SECONDS": "0.5"}  # fmt: skip
    try:
        with local_stack(mongodb_url, rabbitmq_url, tmp_path / "logs", ports=ports, env=env) as stack:
            journey = Journey(stack.urls, settings, say=lambda _: None, timeout=60)
            done = journey.run()
            person, email = done["applicant"], f"{done['applicant']}@example.org"
            admin = journey.as_("ade-admin", "admin")

            # A copy: each service answers what it holds about the applicant, and nothing secret.
            held = copies(journey, admin, person)
            assert held["applications"]["applications"]["documents"][0]["contact"]["email"] == email
            assert held["notifications"]["notifications"]["documents"], "the messages sent to them"
            [grant] = held["disbursement"]["grants"]["documents"]
            assert grant["_id"] == done["grant"]["id"] and "bank_account" not in grant
            assert held["scoring"] == {}, "scoring holds nothing about an applicant"
            reviewer = done["reviews"][0]["reviewer"]
            assert copies(journey, admin, reviewer)["scoring"]["reviews"]["documents"]
            refused = journey.call("GET", "applications", f"/v1/personal-data/people/{person}",
                                   journey.as_(person, "applicant"), expect=403)  # fmt: skip
            assert refused.headers["content-type"] == "application/problem+json"
            assert email in asyncio.run(everything_stored(mongodb_url, settings))["applications.applications"]

            # The erasure: applications carries it out at once, the others when they hear of it.
            request = journey.call("POST", "applications", "/v1/erasure-requests", admin, expect=201,
                                   json={"person_id": person, "reason": "Asked by email on 2 December"}).json()  # fmt: skip
            assert person not in json.dumps(request), "the request keeps only a digest of who"

            def confirmed() -> dict[str, Any] | None:
                answers = {service: journey.http.get(f"{stack.urls[service]}/v1/personal-data/erasures/{request['id']}",
                                                     headers=admin) for service in SERVICES}  # fmt: skip
                if all(answer.status_code == 200 for answer in answers.values()):
                    return {service: answer.json() for service, answer in answers.items()}
                return None

            confirmations = journey.until("every service to confirm the erasure", confirmed)
            assert confirmations["applications"]["changed"]["applications"] >= 1
            assert confirmations["notifications"]["changed"]["notifications"] >= 3
            assert confirmations["disbursement"]["changed"]["grants"] >= 1
            assert all(c["pseudonym"] == f"erased-{request['id']}" for c in confirmations.values())

            assert copies(journey, admin, person) == {service: {} for service in SERVICES}
            stored = asyncio.run(everything_stored(mongodb_url, settings))
            naming = {where: [line for line in text.splitlines() if email in line or f'"{person}"' in line]
                      for where, text in stored.items() if email in text or f'"{person}"' in text}  # fmt: skip
            assert naming == {}, "nothing names them any more"

            # What the programme must keep stays: the application, its decision, the grant and payment.
            manager = journey.as_("maya-manager", "programme_manager")
            application = journey.call("GET", "applications", f"/v1/applications/{done['application_id']}",
                                       manager).json()  # fmt: skip
            assert application["contact"]["name"] == "Erased" and application["amount_requested"]["amount"] == 800_000
            finance = journey.as_("fin-1", "finance_officer")
            payments = journey.call("GET", "disbursement", "/v1/payments", finance,
                                    params={"grant_id": done["grant"]["id"]}).json()["items"]  # fmt: skip
            assert "sent" in {p["status"] for p in payments}
            trail = journey.call("GET", "disbursement", f"/v1/audit/applications/{done['application_id']}",
                                 manager).json()["entries"]  # fmt: skip
            accepted = next(e for e in trail if e["type"] == "grants.grant.accepted.v1")
            assert accepted["actor"] == f"erased-{request['id']}", "the audit trail keeps the act, not the person"

            # A panel member too: their reviews keep their scores, under the pseudonym.
            second = journey.call("POST", "applications", "/v1/erasure-requests", admin, expect=201,
                                  json={"person_id": reviewer}).json()  # fmt: skip
            journey.until("scoring to erase the reviewer", lambda: journey.http.get(
                f"{stack.urls['scoring']}/v1/personal-data/erasures/{second['id']}", headers=admin).status_code == 200)
            journey.until("notifications to erase the reviewer", lambda: journey.http.get(
                f"{stack.urls['notifications']}/v1/personal-data/erasures/{second['id']}", headers=admin
            ).status_code == 200)  # fmt: skip
            stored = asyncio.run(everything_stored(mongodb_url, settings))
            naming = {where: [line for line in text.splitlines() if f'"{reviewer}"' in line]
                      for where, text in stored.items() if f'"{reviewer}"' in text}  # fmt: skip
            assert naming == {}
            assert f"erased-{second['id']}" in stored["scoring.reviews"] and '"score": 5' in stored["scoring.reviews"]

            # The same request again (a redelivered event) changes nothing more.
            again = journey.call("GET", "scoring", f"/v1/personal-data/erasures/{request['id']}", admin).json()
            assert again == confirmations["scoring"]

            # The application's retention period ends (applications' worker publishes this; here the
            # test does, years being long): every other service removes what it says about people.
            application_id = done["application_id"]
            asyncio.run(publish(settings, ApplicationAnonymised(application_id=application_id,
                                                                programme_id=done["grant"]["programme_id"])))
            for service in ("scoring", "disbursement", "notifications"):
                journey.until(f"{service} to anonymise the application", lambda service=service: journey.http.get(
                    f"{stack.urls[service]}/v1/personal-data/erasures/retention-{application_id}", headers=admin
                ).status_code == 200)  # fmt: skip
            stored = asyncio.run(everything_stored(mongodb_url, settings))
            assert "peer-support circles led by trained volunteers" not in stored["scoring.applications"]
            assert "clear plan, strong lived-experience input" not in stored["scoring.reviews"]
            assert '"score": 5' in stored["scoring.reviews"], "the scores stay"
            assert "bank_account" not in stored["disbursement.grants"].replace('"bank_account": null', "")
    finally:
        asyncio.run(delete_topology(settings))
