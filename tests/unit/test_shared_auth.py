"""JWT checks: issuer, audience, expiry and roles."""

from datetime import timedelta

import jwt
import pytest

from grants_shared.auth import Role, decode_token, mint_token
from grants_shared.errors import Unauthorized
from grants_shared.settings import ServiceSettings

SETTINGS = ServiceSettings()


def test_a_minted_token_round_trips_with_roles_and_organisations() -> None:
    token = mint_token(SETTINGS, "alice", ["applicant"], ["org-1"], name="Alice", email="alice@example.org")
    caller = decode_token(SETTINGS, token)
    assert caller.subject == "alice"
    assert caller.roles == {Role.APPLICANT}
    assert caller.represents("org-1") and not caller.represents("org-2")
    assert caller.email == "alice@example.org"


def test_an_expired_token_is_refused() -> None:
    token = mint_token(SETTINGS, "alice", ["admin"], lifetime=timedelta(seconds=-5))
    with pytest.raises(Unauthorized, match="expired"):
        decode_token(SETTINGS, token)


@pytest.mark.parametrize("change", [{"jwt_audience": "other"}, {"jwt_issuer": "someone-else"}, {"jwt_secret": "x" * 40}])
def test_a_token_for_another_audience_issuer_or_key_is_refused(change: dict[str, str]) -> None:
    token = mint_token(SETTINGS.model_copy(update=change), "mallory", ["admin"])
    with pytest.raises(Unauthorized):
        decode_token(SETTINGS, token)


def test_unknown_roles_and_unsigned_tokens_are_refused() -> None:
    forged = jwt.encode({"sub": "x", "roles": ["superuser"], "iss": SETTINGS.jwt_issuer, "aud": SETTINGS.jwt_audience,
                         "exp": 9_999_999_999}, SETTINGS.jwt_secret, algorithm="HS256")
    with pytest.raises(Unauthorized):
        decode_token(SETTINGS, forged)
    unsigned = jwt.encode({"sub": "x", "roles": ["admin"]}, key=None, algorithm="none")
    with pytest.raises(Unauthorized):
        decode_token(SETTINGS, unsigned)


def test_a_subject_that_could_not_travel_in_an_event_is_refused() -> None:
    assert decode_token(SETTINGS, mint_token(SETTINGS, "auth0|maya@example.org", ["reviewer"])).subject == "auth0|maya@example.org"
    with pytest.raises(Unauthorized, match="invalid bearer token"):
        decode_token(SETTINGS, mint_token(SETTINGS, "maya smith <maya>", ["reviewer"]))


@pytest.mark.parametrize(
    "claims",
    [
        {"roles": {"admin": False}},  # a mapping is not a list of roles
        {"roles": "admin"},  # nor is a string
        {"roles": [["admin"]]},
        {"organisation_ids": "qz"},  # not the organisations q and z
        {"organisation_ids": [1, 2]},
        {"organisation_ids": ["has space"]},
        {"sub": 42},
        {"name": {"first": "Maya"}},
    ],
)
def test_claims_of_the_wrong_type_are_refused_not_reinterpreted(claims: dict[str, object]) -> None:
    token = jwt.encode({"sub": "maya", "roles": ["applicant"], "iss": SETTINGS.jwt_issuer, "aud": SETTINGS.jwt_audience,
                        "exp": 9_999_999_999, **claims}, SETTINGS.jwt_secret, algorithm="HS256")
    with pytest.raises(Unauthorized, match="invalid bearer token"):
        decode_token(SETTINGS, token)
