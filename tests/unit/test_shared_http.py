"""If-Match parsing: only ETags this service could have issued get through."""

import pytest
from starlette.requests import Request

from grants_shared.errors import PreconditionFailed, PreconditionRequired
from grants_shared.http import expected_version


def request_with(if_match: str | None) -> Request:
    headers = [(b"if-match", if_match.encode())] if if_match is not None else []
    return Request({"type": "http", "method": "PATCH", "path": "/", "headers": headers})


@pytest.mark.parametrize(("header", "version"), [('"3"', 3), ('W/"3"', 3), ("7", 7)])
def test_an_etag_gives_the_version_it_names(header: str, version: int) -> None:
    assert expected_version(request_with(header)) == version


@pytest.mark.parametrize("header", [None, "", "*"])
def test_editing_without_naming_a_version_is_refused(header: str | None) -> None:
    with pytest.raises(PreconditionRequired):
        expected_version(request_with(header))


@pytest.mark.parametrize("header", ['"abc"', '"-1"', '"0"', '"2.0"', '"1' + "0" * 30 + '"', str(2**63)])
def test_a_version_never_issued_is_a_failed_precondition_not_a_crash(header: str) -> None:
    with pytest.raises(PreconditionFailed):
        expected_version(request_with(header))


@pytest.mark.parametrize(("header", "version"), [(None, None), ("*", None), ('"4"', 4)])
def test_an_optional_if_match_names_a_version_or_none(header: str | None, version: int | None) -> None:
    from grants_shared.http import optional_version

    assert optional_version(request_with(header)) == version


def test_an_optional_if_match_that_was_never_issued_still_fails() -> None:
    from grants_shared.http import optional_version

    with pytest.raises(PreconditionFailed):
        optional_version(request_with('"nope"'))
