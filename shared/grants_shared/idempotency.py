"""Creating something exactly once, however often a front end retries (the IETF httpapi draft's
``Idempotency-Key`` header).

A POST that creates something takes an optional ``Idempotency-Key``. The first request with a key
is carried out, and its answer is stored in the same transaction as what it created; the same key
with the same request (method, path and body) from the same caller then gets that first answer
again, and creates nothing; the same key with a different request is refused (422). Keys are kept
for a day (a TTL index), which outlasts any retry.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from grants_shared.auth import Caller, current_caller
from grants_shared.clock import utcnow
from grants_shared.errors import RuleViolation
from grants_shared.unit_of_work import Transaction

T = TypeVar("T")
P = ParamSpec("P")

COLLECTION = "idempotency_keys"
KEPT_FOR = timedelta(days=1)
#: The headers of a first answer that are given again with it.
REPLAYED_HEADERS = ("location", "etag")


async def create_idempotency_indexes(db: AsyncDatabase) -> None:
    await db[COLLECTION].create_index([("created_at", ASCENDING)], expireAfterSeconds=int(KEPT_FOR.total_seconds()))


@dataclass(frozen=True)
class Created:
    """What a create answers: its status, its body and the headers that go with it."""

    body: BaseModel
    location: str | None = None
    version: int | None = None
    status: int = 201

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.location:
            headers["location"] = self.location
        if self.version is not None:
            headers["etag"] = f'"{self.version}"'
        return headers


class Idempotency:
    """The request's Idempotency-Key (if any), and how to carry out a create once."""

    def __init__(self, key: str | None, caller: str, fingerprint: str) -> None:
        self.key = key
        self.record_id = f"{caller}\x1f{key}" if key else None
        self.fingerprint = fingerprint
        self.seal: Callable[[str], str] | None = None
        self.unseal: Callable[[str], str] = lambda text: text

    def sealed(self, seal: Callable[[str], str], unseal: Callable[[str], str]) -> "Idempotency":
        """For an answer that holds a secret (shown once): it is kept encrypted until it expires."""
        self.seal, self.unseal = seal, unseal
        return self

    async def create(
        self,
        transact: Any,
        command: Callable[Concatenate[Transaction[Any], P], Awaitable[T]],
        answer: Callable[[T], Created],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> JSONResponse:
        """Run ``command`` through ``transact`` (the route's Transact) and answer with ``answer(result)``;
        with a key, the answer is stored with what was created, and a repeat gets it back.

        A repeat is found when its transaction ends, not asked for first (a round trip fewer for
        every first request, which nearly all are): its record, written last, meets the first one's,
        and nothing of the repeat is written. A repeat that the command refuses before then (what it
        creates can be created once) is answered with the first answer too."""

        async def create_and_remember(tx: Transaction[Any], *a: Any, **k: Any) -> Created:
            created = answer(await command(tx, *a, **k))
            if self.record_id is not None:
                body = created.body.model_dump(mode="json")
                kept = {"sealed": self.seal(json.dumps(body))} if self.seal else {"body": body}
                # Written with the transaction's events: an earlier request's record fails it at its end.
                tx.insert_later(COLLECTION, {
                    "_id": self.record_id, "fingerprint": self.fingerprint, "status": created.status,
                    "headers": created.headers(), "created_at": utcnow(), **kept,
                })  # fmt: skip
            return created

        try:
            created = await transact(create_and_remember, *args, **kwargs)
        except Exception:
            # The key was used before, or by a request at the same moment: that one created what was
            # asked for, and this one's transaction (with whatever it created) was rolled back.
            earlier = await self._earlier(transact.database.db) if self.record_id is not None else None
            if earlier is None:
                raise
            return earlier
        return JSONResponse(created.body.model_dump(mode="json"), status_code=created.status, headers=created.headers())

    async def _earlier(self, db: AsyncDatabase) -> JSONResponse | None:
        record = await db[COLLECTION].find_one({"_id": self.record_id})
        if record is None:
            return None
        if record["fingerprint"] != self.fingerprint:
            raise RuleViolation("this Idempotency-Key was used for another request; use a new key for a new request")
        body = json.loads(self.unseal(record["sealed"])) if "sealed" in record else record["body"]
        return JSONResponse(body, status_code=record["status"], headers=record["headers"])


async def _idempotency(
    request: Request,
    caller: Annotated[Caller, Depends(current_caller)],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key", min_length=1, max_length=255,
            description="Any unique string (a UUID is good): a retry with the same key and body gets the first "
                        "answer again and creates nothing more",
        ),
    ] = None,
) -> Idempotency:  # fmt: skip
    key = idempotency_key.strip().strip('"') if idempotency_key else None  # sent as a structured-field string
    body = await request.body()
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode() if body else b""
    except ValueError:
        canonical = body
    fingerprint = hashlib.sha256(b"\x1f".join([request.method.encode(), request.url.path.encode(), canonical]))
    return Idempotency(key or None, caller.subject, fingerprint.hexdigest())


#: A create route's dependency: ``return await once.create(transact, commands.x, answer, ...)``.
Once = Annotated[Idempotency, Depends(_idempotency)]
