"""Small HTTP helpers the services share: optimistic concurrency with ETag / If-Match."""

from fastapi import Request, Response

from grants_shared.errors import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


# Versions start at 1 and grow by one per edit; anything beyond this was never issued (and would not
# fit in the 64-bit integer MongoDB compares it with).
MAX_VERSION = 2**62


def expected_version(request: Request) -> int:
    """The version the caller last read, from If-Match; editing without it is refused.

    ``If-Match: *`` ("whatever is there") is refused too: the point is to edit what you last read."""
    header = request.headers.get("if-match")
    if not header or header.strip() == "*":
        raise PreconditionRequired("send the ETag you last read in an If-Match header")
    text = header.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or not 0 < int(text) <= MAX_VERSION:
        raise PreconditionFailed(f"If-Match {header[:80]!r} is not an ETag this service issued")
    return int(text)


def optional_version(request: Request) -> int | None:
    """For changes where If-Match is optional (a state machine already guards them): the version the
    caller names, or None when they name none (no header, or ``*``)."""
    header = request.headers.get("if-match")
    return None if not header or header.strip() == "*" else expected_version(request)


def check_version(request: Request, current: int) -> None:
    if expected_version(request) != current:
        raise PreconditionFailed(f"the resource is at version {current}; read it again and retry")
