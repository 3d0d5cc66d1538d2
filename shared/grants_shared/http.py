"""Small HTTP helpers the services share: optimistic concurrency with ETag / If-Match."""

from fastapi import Request, Response

from grants_shared.errors import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def expected_version(request: Request) -> int:
    """The version the caller last read, from If-Match; editing without it is refused."""
    header = request.headers.get("if-match")
    if not header:
        raise PreconditionRequired("send the ETag you last read in an If-Match header")
    try:
        return int(header.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise PreconditionFailed(f"If-Match {header!r} is not an ETag this service issued") from None


def check_version(request: Request, current: int) -> None:
    if expected_version(request) != current:
        raise PreconditionFailed(f"the resource is at version {current}; read it again and retry")
