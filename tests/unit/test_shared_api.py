"""The building blocks of every service's routes: If-Match, the one id rule, the handler registry."""

import pytest
from pydantic import TypeAdapter, ValidationError

from grants_shared.api import _optional_version, _required_version, check_version, parse_if_match
from grants_shared.consumer import registry
from grants_shared.errors import PreconditionFailed, PreconditionRequired
from grants_shared.events import ApplicationScored, Event, Id, ProgrammeClosed
from grants_shared.unit_of_work import Transaction


@pytest.mark.parametrize(("header", "version"), [('"3"', 3), ('W/"3"', 3), ("7", 7)])
def test_an_etag_gives_the_version_it_names(header: str, version: int) -> None:
    assert _required_version(header) == version
    assert _optional_version(header) == version


@pytest.mark.parametrize("header", [None, "", "*"])
def test_editing_without_naming_a_version_is_refused(header: str | None) -> None:
    with pytest.raises(PreconditionRequired):
        _required_version(header)


@pytest.mark.parametrize("header", ['"abc"', '"-1"', '"0"', '"2.0"', '"1' + "0" * 30 + '"', str(2**63)])
def test_a_version_never_issued_is_a_failed_precondition_not_a_crash(header: str) -> None:
    with pytest.raises(PreconditionFailed):
        parse_if_match(header)


@pytest.mark.parametrize(("header", "version"), [(None, None), ("*", None), ('"4"', 4)])
def test_an_optional_if_match_names_a_version_or_none(header: str | None, version: int | None) -> None:
    assert _optional_version(header) == version


def test_a_named_version_must_be_the_current_one() -> None:
    check_version(None, 5)
    check_version(5, 5)
    with pytest.raises(PreconditionFailed):
        check_version(4, 5)


@pytest.mark.parametrize("good", ["prg-1a2b", "auth0|abc", "maya@example.org", "a.b:c+d_e-f"])
def test_one_id_rule_admits_identity_provider_subjects(good: str) -> None:
    assert TypeAdapter(Id).validate_python(good) == good


@pytest.mark.parametrize("bad", ["", "a b", "x/y", "a" * 129, "café"])
def test_one_id_rule_refuses_the_rest(bad: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Id).validate_python(bad)


async def on_scored(event: Event[ApplicationScored], tx: Transaction) -> None: ...


async def on_closed(event: Event[ProgrammeClosed], tx: Transaction) -> None: ...


async def untyped(event, tx) -> None: ...  # type: ignore[no-untyped-def]


def test_handlers_are_found_by_the_contract_they_name() -> None:
    assert registry(on_scored, on_closed) == {ApplicationScored.type: on_scored, ProgrammeClosed.type: on_closed}
    with pytest.raises(TypeError, match="two handlers"):
        registry(on_scored, on_scored)
    with pytest.raises(TypeError, match="must take"):
        registry(untyped)
