"""What every service's ``api/`` routes are built from, so a route reads the same in all of them.

- **Who may call**: ``Anyone``, ``Applicant``, ``Reviewer``, ``Manager``, ``Finance``, ``Admin`` and the
  combinations routes need, each a dependency that answers 401/403 problem+json.
- **Ids and paging**: ``PathId`` (one rule for every id, in a body, a path or a query), ``IdFilter``,
  ``Limit``, ``Offset`` and ``Page`` (``items``, ``limit``, ``offset``, ``total``).
- **Optimistic concurrency**: ``IfMatch`` / ``IfMatchRequired`` read the version a caller last read
  (``ETag``), :func:`check_version` compares it, :func:`set_etag` answers with the new one.
- **Changing state**: ``Transact`` runs a command in a transaction that carries the request's
  ``traceparent`` and the caller's subject into every event the command emits; ``DatabaseDep`` is the
  service's database for plain reads.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Concatenate, Generic, ParamSpec, TypeVar

from fastapi import Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel

from grants_shared.auth import Caller, Role, current_caller, optional_caller, require
from grants_shared.errors import PreconditionFailed, PreconditionRequired
from grants_shared.events import ID_PATTERN, ID_MAX_LENGTH
from grants_shared.tracing import current_traceparent
from grants_shared.unit_of_work import Database, Transaction

T = TypeVar("T")
P = ParamSpec("P")
Item = TypeVar("Item", bound=BaseModel)

# --- who may call --------------------------------------------------------------------------------

MANAGERS = (Role.PROGRAMME_MANAGER, Role.ADMIN)
FINANCE = (Role.FINANCE_OFFICER, Role.ADMIN)

#: Anyone at all, signed in or not (None): for what is public, such as the open programmes.
Public = Annotated[Caller | None, Depends(optional_caller)]
Anyone = Annotated[Caller, Depends(require(*Role))]
Applicant = Annotated[Caller, Depends(require(Role.APPLICANT))]
Reviewer = Annotated[Caller, Depends(require(Role.REVIEWER))]
Manager = Annotated[Caller, Depends(require(*MANAGERS))]
Finance = Annotated[Caller, Depends(require(*FINANCE))]
Admin = Annotated[Caller, Depends(require(Role.ADMIN))]
ApplicantOrManager = Annotated[Caller, Depends(require(Role.APPLICANT, *MANAGERS))]
ManagerOrReviewer = Annotated[Caller, Depends(require(*MANAGERS, Role.REVIEWER))]
ApplicantOrFinance = Annotated[Caller, Depends(require(Role.APPLICANT, *FINANCE))]
FinanceOrManager = Annotated[Caller, Depends(require(*FINANCE, Role.PROGRAMME_MANAGER))]


def is_manager(caller: Caller | None) -> bool:
    return caller is not None and caller.has(*MANAGERS)


def is_finance(caller: Caller) -> bool:
    return caller.has(*FINANCE)


# --- ids and paging ------------------------------------------------------------------------------

PathId = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
IdFilter = Annotated[str | None, Query(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
MAX_OFFSET = 10_000
Limit = Annotated[int, Query(ge=1, le=200, description="At most this many items")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Skip this many items first")]


class Page(BaseModel, Generic[Item]):
    """One page of a list: at most ``limit`` items after skipping ``offset``, of ``total`` in all."""

    items: list[Item]
    limit: int
    offset: int
    total: int


Cursor = Annotated[str | None, Query(
    min_length=1, max_length=400, description="The `next` of the page before; leave out for the first page")]


class CursorPage(BaseModel, Generic[Item]):
    """One page of a long list: at most ``limit`` items, and ``next``, the cursor of the page after it
    (none at the end). A long list has no total: counting every match would cost more than the page."""

    items: list[Item]
    limit: int
    next: str | None


# --- optimistic concurrency ----------------------------------------------------------------------

# Versions start at 1 and grow by one per edit; anything beyond this was never issued (and would not
# fit in the 64-bit integer MongoDB compares it with).
MAX_VERSION = 2**62

_IF_MATCH = Header(
    alias="If-Match",
    description='The ETag you last read (e.g. "3"): the change is refused with 412 if the resource has changed since',
)


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def parse_if_match(header: str | None) -> int | None:
    """The version an If-Match header names, or None when it names none (no header, or ``*``:
    "whatever is there", which is no help when the point is to edit what you last read)."""
    if header is None or header.strip() in ("", "*"):
        return None
    text = header.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or not 0 < int(text) <= MAX_VERSION:
        raise PreconditionFailed(f"If-Match {header[:80]!r} is not an ETag this service issued")
    return int(text)


def _optional_version(if_match: Annotated[str | None, _IF_MATCH] = None) -> int | None:
    return parse_if_match(if_match)


def _required_version(if_match: Annotated[str | None, _IF_MATCH] = None) -> int:
    version = parse_if_match(if_match)
    if version is None:
        raise PreconditionRequired("send the ETag you last read in an If-Match header")
    return version


#: For changes a state machine already guards: the version the caller names, if any.
IfMatch = Annotated[int | None, Depends(_optional_version)]
#: For edits of what a person wrote: the version must be named (428 without it).
IfMatchRequired = Annotated[int, Depends(_required_version)]


def check_version(expected: int | None, current: int) -> None:
    """Refuse a change to anything but the version the caller read (nothing to check if they named none)."""
    if expected is not None and expected != current:
        raise PreconditionFailed(f"you read version {expected}; it is at {current}: read it again and retry")


# --- reading and changing state ------------------------------------------------------------------


def _database(request: Request) -> Database[Any]:
    return request.app.state.runtime.database


DatabaseDep = Annotated[Database[Any], Depends(_database)]


class Transactor:
    """Runs a command in a transaction that knows who asked and the request's trace."""

    def __init__(self, database: Database[Any], traceparent: str | None, actor: str) -> None:
        self.database = database
        self.traceparent = traceparent
        self.actor = actor

    async def __call__(
        self,
        command: Callable[Concatenate[Transaction[Any], P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        return await self.database.transact(
            lambda tx: command(tx, *args, **kwargs), traceparent=self.traceparent, actor=self.actor
        )


def _transactor(
    request: Request, database: DatabaseDep, caller: Annotated[Caller, Depends(current_caller)]
) -> Transactor:
    # The request's server span (which continues the caller's traceparent) is the events' parent.
    return Transactor(database, current_traceparent(), caller.subject)


Transact = Annotated[Transactor, Depends(_transactor)]
