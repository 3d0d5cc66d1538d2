"""Long lists, paged by a window on their key, so that a page costs about what it shows.

A list sorted by a key (when an application was submitted, its score) is usually asked for as "the
first 50 of this programme's, sorted". The embedded database reads every document a query matches
before it sorts and cuts them (so does MongoDB when no index gives the order), so that page costs
100,000 reads when the programme has 100,000 applications, and the next page as much again. Here a page
instead asks for a narrow *window* of the key (``submitted_at`` between two times, a score between two
values), sorts what it finds, and widens or moves the window until the page is full: each read matches
about a page's worth of documents, however long the list. How wide a window should be is learnt from
the densities the last pages found, per list and per stretch of the key (a ranking's scores are
sparse at the top and dense in the middle), so the next page usually takes one read; where the list
has not been read yet a window is at most twice as wide as the one before it, so a list whose
documents thicken is not read in one overshooting window.

A page ends with a cursor (:class:`After`: the last item's key and id) that the next page starts from;
an offset is never needed, so a deep page costs what the first does. Documents without the key (a
draft that was never submitted) are not in the list.
"""

import base64
import binascii
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from grants_shared.errors import GrantsError
from grants_shared.unit_of_work import Db

Key = datetime | int | float
Doc = dict[str, Any]
T = TypeVar("T")

#: Reads one page may make at most (an empty list still answers, after this many widening windows).
MAX_WINDOWS = 24
#: How wide the first window of a list never seen before is, as a share of its whole range.
FIRST_SHARE = 1 / 4096
#: Stretches of a list's range whose densities are learnt apart. They are stretches of each call's own
#: range: a list asked for over other bounds (another amount range) takes the densities learnt as a
#: first guess, as it took the list's one density before.
STRETCHES = 64

#: Documents per unit of the key, by list and stretch (its index among STRETCHES).
_densities: dict[str, dict[int, float]] = {}


@dataclass(frozen=True)
class After:
    """Where the next page starts: just after the item with this key (and tie-breaking value) and id."""

    value: Key
    id: str
    then: Key | None = None

    def token(self) -> str:
        parts: list[Any] = [*_typed(self.value), self.id]
        if self.then is not None:
            parts += _typed(self.then)
        return cursor_token(parts)

    @classmethod
    def parse(cls, token: str) -> "After":
        def read(parts: list[Any]) -> "After":
            if len(parts) not in (3, 5) or not isinstance(parts[2], str):
                raise ValueError
            then = _untyped(*parts[3:]) if len(parts) == 5 else None
            return cls(_untyped(*parts[:2]), parts[2], then)

        return read_cursor(token, read)


def cursor_token(parts: list[Any]) -> str:
    """A cursor as a client carries it back: ``parts`` (JSON values) in URL-safe base64."""
    raw = json.dumps(parts, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_cursor(token: str, read: Callable[[list[Any]], T]) -> T:
    """``read`` of the parts of a cursor that ``cursor_token`` made. Anything else, or parts that ``read``
    refuses (ValueError, TypeError), is the caller's mistake: a GrantsError (400)."""
    try:
        parts = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(parts, list):
            raise ValueError
        return read(parts)
    except (ValueError, TypeError, binascii.Error):  # json.JSONDecodeError is a ValueError
        raise GrantsError("the page cursor is not one this list gave") from None


def _typed(value: Key) -> list[Any]:
    return ["t", value.timestamp()] if isinstance(value, datetime) else ["n", value]


def _untyped(kind: Any, value: Any) -> Key:
    if kind not in ("t", "n") or isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError
    return datetime.fromtimestamp(value, UTC) if kind == "t" else value  # type: ignore[no-any-return]


def _number(value: Key) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _through(number: float, like: Key) -> dict[str, Key]:
    """A window's upper bound that includes ``number`` itself, written as "less than the next value": the
    embedded database's ``$lte`` on an index with a field after the key (``created_at`` then ``_id``)
    leaves out the documents equal to the bound."""
    if isinstance(like, datetime):
        return {"$lt": datetime.fromtimestamp(number, UTC) + timedelta(milliseconds=1)}  # BSON keeps milliseconds
    return {"$lt": math.nextafter(number, math.inf)}  # the next double: an integer key compares as one


def _key_value(number: float, like: Key) -> Key:
    return datetime.fromtimestamp(number, UTC) if isinstance(like, datetime) else number


def _at(doc: Doc, key: str) -> Key:
    """The value at ``key``, which may be a dotted path into embedded documents ("amount_requested.amount")."""
    value: Any = doc
    for part in key.split("."):
        value = value[part]
    return value  # type: ignore[no-any-return]


def _order(doc: Doc, key: str, then: str | None) -> tuple[float, float, str]:
    """Where a document comes in the list: by its key, then its tie-breaking field, then its id."""
    return _number(_at(doc, key)), _number(_at(doc, then)) if then else 0.0, doc["_id"]


def _comes_after(doc: Doc, key: str, then: str | None, after: After, descending: bool) -> bool:
    # A cursor without a tie-breaking value (one left in a sparse stretch) lets every tie through.
    tie = _number(after.then) if after.then is not None else (math.inf if descending else -math.inf)
    point, order = (_number(after.value), tie if then else 0.0, after.id), _order(doc, key, then)
    return order < point if descending else order > point


def _density(docs: list[Doc], key: str, width: float) -> float:
    """Documents per unit of the key where these lie: over their own span, so that an empty stretch the
    window also covered (before the first document of a list) does not make the next window too wide."""
    keys = [_number(_at(doc, key)) for doc in docs]
    span = max(keys) - min(keys) if len(keys) > 1 else 0.0
    return (len(keys) - 1) / span if span > 0 else max(len(keys), 1) / max(width, 1e-6)


async def window_page(
    tx: Db,
    collection: str,
    query: dict[str, Any],
    key: str,
    *,
    lowest: Key,
    highest: Key,
    limit: int,
    descending: bool = False,
    after: After | None = None,
    projection: dict[str, int] | None = None,
    likely_end: Key | None = None,
    keep: Callable[[Doc], bool] | None = None,
    then: str | None = None,
) -> tuple[list[Doc], After | None]:
    """Up to ``limit`` documents matching ``query``, in the order of ``key`` (then ``_id``), starting after
    ``after``; and the cursor of the next page (None at the end). Every document's ``key`` must lie between
    ``lowest`` and ``highest``; an index on the query's equality fields followed by ``key`` serves each
    window. The embedded database plans a query naming more than one index's fields as a collection
    scan (and loses the window's bounds under a hint), so ``query`` should name one index's equality
    fields only; ``keep`` tests what each window finds against the rest of a filter that the query
    could not hold; the windows widen for what it leaves out. ``then`` names a field that orders the
    documents with the same ``key`` (in the list's direction) before their ids do.

    ``likely_end`` says where the documents probably end on the side the list starts from (the newest
    key, for a list newest first: a closed programme's closing time): the first page's first window
    then reaches from ``highest`` (or ``lowest``) past that point by a page's width, so an empty stretch
    known of costs no read, while a document beyond it is still found."""
    low, high = _number(lowest), _number(highest)
    list_name = f"{collection}:{key}:{'desc' if descending else 'asc'}:{','.join(sorted(query))}"
    position = _number(after.value) if after else (high if descending else low)
    learnt = _densities.setdefault(list_name, {})
    stretches = _Stretches(low, high, descending)
    density = stretches.nearest(learnt, position)
    width = stretches.width(learnt, position, 2 * limit, density, math.inf) if density else max(
        (high - low) * FIRST_SHARE, 1e-6)
    if projection is not None and any(projection.values()):
        # An inclusive projection must include the key the page is ordered by (an exclusive one keeps it).
        projection = {**projection, key: 1} | ({then: 1} if then else {})
    found: list[Doc] = []
    reach = _number(likely_end) if likely_end is not None and after is None else position
    for _ in range(MAX_WINDOWS):
        if descending:
            start, end = max(low, min(position, reach) - width), position
            window: dict[str, Key] = _through(end, lowest)
            window["$gte" if start <= low else "$gt"] = _key_value(start, lowest)
        else:
            start, end = position, min(high, max(position, reach) + width)
            window = {"$gte": _key_value(start, lowest)}
            window |= _through(end, lowest) if end >= high else {"$lt": _key_value(end, lowest)}
        docs = await tx.db[collection].find({**query, key: window}, projection, session=tx.session).to_list(None)
        if keep is not None:
            docs = [doc for doc in docs if keep(doc)]
        if docs or density is None:
            density = _density(docs, key, end - start)
            for stretch in stretches.covering(start, end):
                learnt[stretch] = density
        if after is not None:
            docs = [doc for doc in docs if _comes_after(doc, key, then, after, descending)]
        docs.sort(key=lambda doc: _order(doc, key, then), reverse=descending)
        found += docs
        if len(found) >= limit:
            page = found[:limit]
            return page, _after(page[-1], key, then)
        if (start <= low) if descending else (end >= high):
            return found, None
        position = reach = start if descending else end
        # Wide enough for what the page still lacks, by the densities learnt of the stretches ahead and
        # the one just seen beyond them (doubled while it finds none).
        missing = limit - len(found)
        width = stretches.width(learnt, position, 2 * missing, density, 2 * width) if docs else width * 2
    if found:
        return found, _after(found[-1], key, then)
    # Nothing yet in a very sparse stretch: the next page goes on from where this one stopped (ties at that
    # key have not been read: the sentinel id lets every one of them through).
    return found, After(_key_value(position, lowest), "\uffff" if descending else "")


@dataclass(frozen=True)
class _Stretches:
    """A list's range cut into STRETCHES equal stretches, walked in the list's direction."""

    low: float
    high: float
    descending: bool

    def of(self, number: float) -> int:
        if self.high <= self.low:
            return 0
        return min(STRETCHES - 1, max(0, int((number - self.low) / (self.high - self.low) * STRETCHES)))

    def covering(self, start: float, end: float) -> range:
        return range(self.of(start), self.of(end) + 1)

    def nearest(self, learnt: dict[int, float], number: float) -> float | None:
        """The density learnt of the stretch holding ``number``, or of the nearest one learnt."""
        if not learnt:
            return None
        here = self.of(number)
        return learnt[min(learnt, key=lambda stretch: abs(stretch - here))]

    def width(self, learnt: dict[int, float], position: float, wanted: float, beyond: float, most: float) -> float:
        """How far from ``position`` ``wanted`` documents probably lie: through the stretches learnt,
        then at ``beyond`` per unit where none is learnt, that last part at most ``most`` wide."""
        step = (self.high - self.low) / STRETCHES
        at, counted = position, 0.0
        for _ in range(STRETCHES):
            # Walking down, a position on the edge of two stretches starts the one below it.
            stretch = self.of(at - step * 1e-9) if self.descending else self.of(at)
            density = learnt.get(stretch)
            if not density:
                break
            edge = self.low + step * (stretch if self.descending else stretch + 1)
            part = density * abs(edge - at)
            if counted + part >= wanted:
                return abs(at - position) + (wanted - counted) / density
            counted, at = counted + part, edge
            if edge <= self.low or edge >= self.high:
                break
        return abs(at - position) + min((wanted - counted) / beyond, most)


def _after(doc: Doc, key: str, then: str | None) -> After:
    return After(_at(doc, key), doc["_id"], _at(doc, then) if then else None)


async def offset_page(
    collection: AsyncCollection,
    query: dict[str, Any],
    sort: list[tuple[str, int]],
    limit: int,
    offset: int,
    session: AsyncClientSession | None = None,
    projection: dict[str, int] | None = None,
) -> tuple[list[Doc], int]:
    """One page of ``query`` in the order of ``sort``, and how many documents match in all (a short list
    paged by offset, with the total a page shows). An index that starts with the query's equality fields
    (or, for an unfiltered list, with the sort's first field) serves the page. The total of an unfiltered
    list comes from the collection's metadata: counting every document would read them all."""
    cursor = collection.find(query, projection, session=session).sort(sort).skip(offset).limit(limit)
    items = await cursor.to_list(None)
    if query:
        total = await collection.count_documents(query, session=session)
    else:
        # A metadata count cannot run inside a transaction, and needs none: it reads no document.
        total = await collection.estimated_document_count()
    return items, total
