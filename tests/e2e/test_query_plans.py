"""No query the platform makes scans a collection that grows with the programme.

The whole platform runs as separate processes with the database's profiler on for every service's
database; one grant's journey goes from submission to payment and every portal page is read by the
people who use it. Each query the services made (find, count, aggregate's first ``$match`` and each
``$lookup``'s join field, update, delete, findAndModify; a count without a filter answers from
metadata) is then checked against the collection's indexes:

- a filter must bound the first field of one of the collection's indexes (equality, ``$in`` or a
  range), so the database walks that index instead of every document ever written;
- a top-level ``$or`` is refused (each branch would need its own index, and the pollers' ``$or`` was
  the collection scan that made throughput fall as history grew);
- an empty filter is an ordered walk only when sorted by an index's first field with a limit;
  otherwise it reads the whole collection, which is allowed only for the small collections below.

Checked against the index specifications rather than ``explain``: the embedded MongoDB-wire server's
``explain`` reports COLLSCAN for some plans that its executor serves from an index, and the question
here is whether a usable index exists at all.
"""

import asyncio
from collections import defaultdict
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient

from grants_shared.dev.infra import free_port
from grants_shared.dev.journey import Journey
from grants_shared.dev.stack import PORTS, local_stack
from grants_shared.settings import ServiceSettings
from tests.support.bus import delete_topology
from tests.support.portal_pages import pages_after, signed_in

pytestmark = pytest.mark.e2e

SERVICES = ("applications", "scoring", "disbursement", "notifications")

#: Collections read whole, and why that stays small whatever the number of applications.
SMALL = {
    ("applications", "programmes"): "one document per programme: a funder runs a handful",
    ("scoring", "programmes"): "one document per programme",
    ("disbursement", "programmes"): "one document per programme",
    ("disbursement", "ledgers"): "one document per programme's budget",
    ("notifications", "webhook_subscriptions"): "one per integrator's endpoint",
}

RANGE = {"$eq", "$in", "$gt", "$gte", "$lt", "$lte"}


def bounded_fields(query: dict[str, Any]) -> set[str]:
    """The fields an index walk could start from: those compared by equality, ``$in`` or a range."""
    fields: set[str] = set()
    for key, condition in query.items():
        if key == "$and":
            for part in condition:
                fields |= bounded_fields(part)
        elif not key.startswith("$"):
            if not isinstance(condition, dict) or not any(k.startswith("$") for k in condition):
                fields.add(key)  # an equality (on a value or a whole sub-document)
            elif RANGE & set(condition):
                fields.add(key)
    return fields


def problem(query: dict[str, Any], sort: dict[str, Any] | None, limited: bool, leading: set[str]) -> str | None:
    if "$or" in query:
        return "a top-level $or"
    if query:
        if bounded_fields(query) & leading:
            return None
        return f"no index starts with one of {sorted(bounded_fields(query)) or 'its fields (none bounded)'}"
    if sort and next(iter(sort)) in leading and limited:
        return None
    return "an empty filter reads every document"


def shapes(entry: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any] | None, bool]]:
    """(filter, sort, limited) of each query one profiled command made."""
    command = entry.get("command") or {}
    if "find" in command:
        return [(command.get("filter") or {}, command.get("sort"), bool(command.get("limit")))]
    if "count" in command:
        # Without a query the count command answers from the collection's metadata (estimated count).
        return [(command["query"], None, False)] if command.get("query") else []
    if "aggregate" in command:
        pipeline = command.get("pipeline") or []
        first = pipeline[0] if pipeline else {}
        limited = any("$limit" in stage for stage in pipeline)
        sort = next((stage["$sort"] for stage in pipeline if "$sort" in stage), None)
        return [(first.get("$match") or {}, sort, limited)]
    if "findAndModify" in command or "findandmodify" in command:
        return [(command.get("query") or {}, command.get("sort"), True)]
    if "update" in command:
        return [(u.get("q") or {}, None, not u.get("multi")) for u in command.get("updates") or []]
    if "delete" in command:
        return [(d.get("q") or {}, None, d.get("limit") == 1) for d in command.get("deletes") or []]
    return []


def lookups(entry: dict[str, Any]) -> list[tuple[str, str]]:
    """(collection, field) of each ``$lookup`` join an aggregate made: each looks up the collection by
    that field, once per document joined (a database's own aggregate, ``$documents`` first, too)."""
    command = entry.get("command") or {}
    stages = command.get("pipeline") or [] if "aggregate" in command else []
    return [(stage["$lookup"]["from"], stage["$lookup"]["foreignField"]) for stage in stages
            if "$lookup" in stage and "foreignField" in stage["$lookup"]]  # fmt: skip


def collection_of(entry: dict[str, Any]) -> str | None:
    command = entry.get("command") or {}
    for verb in ("find", "count", "aggregate", "findAndModify", "findandmodify", "update", "delete"):
        if isinstance(command.get(verb), str):
            return command[verb]
    return None


async def profile(mongodb_url: str, prefix: str, on: bool) -> dict[str, list[dict[str, Any]]]:
    """Turn each service database's profiler on (answer: nothing) or read what it recorded."""
    client: AsyncMongoClient = AsyncMongoClient(mongodb_url)
    recorded: dict[str, list[dict[str, Any]]] = {}
    try:
        for service in SERVICES:
            db = client[f"{prefix}_{service}"]
            if on:
                await db.command({"profile": 2})
            else:
                recorded[service] = [e async for e in db["system.profile"].find({})]
                indexes: dict[str, set[str]] = {}
                for name in await db.list_collection_names():
                    if not name.startswith("system."):
                        specs = [spec async for spec in await db[name].list_indexes()]
                        indexes[name] = {next(iter(spec["key"])) for spec in specs}
                recorded[f"{service}:indexes"] = [indexes]
    finally:
        await client.close()
    return recorded


def test_no_query_of_the_journey_or_the_portal_scans_a_growing_collection(
    mongodb_url: str, rabbitmq_url: str, tmp_path: Path
) -> None:
    settings = ServiceSettings(prefix=f"qp{uuid4().hex[:8]}", mongodb_url=mongodb_url, rabbitmq_url=rabbitmq_url)
    ports = {name: free_port() for name in PORTS}
    env = {"GRANTS_PREFIX": settings.prefix, "GRANTS_PAYMENT_POLL_SECONDS": "0.5",
           "GRANTS_EMAIL_POLL_SECONDS": "0.5", "GRANTS_OUTBOX_POLL_SECONDS": "0.5"}  # fmt: skip
    try:
        with local_stack(mongodb_url, rabbitmq_url, tmp_path / "logs", ports=ports, env=env) as stack:
            asyncio.run(profile(mongodb_url, settings.prefix, on=True))
            journey = Journey(stack.urls, settings, say=lambda _: None)
            done = journey.run(person="sam-harrow", organisation_id="org-harrow-mens-shed")
            for subject, paths in pages_after(done).items():
                client = signed_in(stack.urls["portal"], subject)
                for path in paths:
                    assert client.get(path).status_code == 200, path
                client.close()
            recorded = asyncio.run(profile(mongodb_url, settings.prefix, on=False))
    finally:
        asyncio.run(delete_topology(settings))

    queries = 0
    found: dict[str, set[str]] = defaultdict(set)
    for service in SERVICES:
        indexes = recorded[f"{service}:indexes"][0]
        for entry in recorded[service]:
            for joined, field in lookups(entry):
                queries += 1
                if field not in indexes.get(joined, set()) | {"_id"}:
                    found[f"{service}.{joined}"].add(f"a $lookup by {field}, which no index starts with")
            collection = collection_of(entry)
            if collection is None or collection.startswith("system.") or collection not in indexes:
                continue
            for query, sort, limited in shapes(entry):
                queries += 1
                why = problem(query, sort, limited, indexes[collection] | {"_id"})
                if why and not (why.startswith("an empty filter") and (service, collection) in SMALL):
                    found[f"{service}.{collection}"].add(f"{why}: filter {query} sort {sort}")
    assert queries > 100, f"the profiler recorded only {queries} queries: is it on?"
    assert not found, "queries that would scan a collection:\n" + "\n".join(
        f"  {where}: {shape}" for where, shown in sorted(found.items()) for shape in sorted(shown)
    )
