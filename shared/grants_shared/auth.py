"""JWT bearer authentication and role checks.

Tokens carry a subject (``sub``), ``roles`` and, for applicants, ``organisation_ids``. Issuer,
audience and expiry are always checked. In development they are signed with a shared secret (the
``grants token`` command mints them); with ``GRANTS_JWKS_URL`` set, the identity provider's keys are
used instead.
"""

from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from grants_shared.clock import utcnow
from grants_shared.errors import Forbidden, Unauthorized
from grants_shared.events import Id
from grants_shared.settings import ServiceSettings


class Role(StrEnum):
    APPLICANT = "applicant"
    REVIEWER = "reviewer"
    PROGRAMME_MANAGER = "programme_manager"
    FINANCE_OFFICER = "finance_officer"
    ADMIN = "admin"


class Caller(BaseModel):
    """Who is calling, as the token says."""

    model_config = ConfigDict(frozen=True)

    subject: str
    roles: frozenset[Role]
    organisation_ids: frozenset[str] = frozenset()
    name: str | None = None
    email: str | None = None

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    def represents(self, organisation_id: str) -> bool:
        return Role.APPLICANT in self.roles and organisation_id in self.organisation_ids


def mint_token(
    settings: ServiceSettings,
    subject: str,
    roles: list[str],
    organisation_ids: list[str] | None = None,
    name: str | None = None,
    email: str | None = None,
    lifetime: timedelta = timedelta(hours=12),
) -> str:
    """A development token signed with the shared secret."""
    now = utcnow()
    claims: dict[str, object] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": subject,
        "iat": now,
        "exp": now + lifetime,
        "roles": [Role(r).value for r in roles],
    }
    if organisation_ids:
        claims["organisation_ids"] = organisation_ids
    if name:
        claims["name"] = name
    if email:
        claims["email"] = email
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True)


class Claims(BaseModel):
    """The claims a token must carry, by type: a list of known roles (not a mapping, not a string),
    organisation ids as a list of valid ids (not a string to be read letter by letter), and a
    subject that can travel in events as an id."""

    model_config = ConfigDict(extra="ignore", strict=True)

    sub: Id
    roles: Annotated[list[Role], Field(max_length=len(Role))] = []
    organisation_ids: Annotated[list[Id], Field(max_length=100)] = []
    name: Annotated[str, Field(max_length=200)] | None = None
    email: Annotated[str, Field(max_length=254)] | None = None

    @field_validator("roles", mode="before")
    @classmethod
    def _known_roles(cls, roles: object) -> object:
        # Strict mode would refuse the strings a token carries for an enum; check they are strings here.
        if isinstance(roles, list) and all(isinstance(r, str) for r in roles):
            return [Role(r) for r in roles]
        return roles


def decode_token(settings: ServiceSettings, token: str) -> Caller:
    try:
        if settings.jwks_url:
            key = _jwks_client(settings.jwks_url).get_signing_key_from_jwt(token).key
            algorithms = ["RS256", "ES256"]
        else:
            key, algorithms = settings.jwt_secret, ["HS256"]
        decoded = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
        claims = Claims.model_validate(decoded)
    except jwt.PyJWTError as error:
        raise Unauthorized(f"invalid bearer token: {_first_line(error)}") from None
    except ValidationError as error:
        where = ", ".join(".".join(str(part) for part in e["loc"]) or "claims" for e in error.errors())
        raise Unauthorized(f"invalid bearer token: claims of the wrong type or value ({where})") from None
    except ValueError as error:
        raise Unauthorized(f"invalid bearer token: {_first_line(error)}") from None
    return Caller(
        subject=claims.sub,
        roles=frozenset(claims.roles),
        organisation_ids=frozenset(claims.organisation_ids),
        name=claims.name,
        email=claims.email,
    )


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0]


_bearer = HTTPBearer(auto_error=False)


async def current_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    if credentials is None:
        raise Unauthorized("send a bearer token in the Authorization header")
    return decode_token(request.app.state.settings, credentials.credentials)


async def optional_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller | None:
    """For what anyone may read: None without a token; a token that is sent must still be valid."""
    if credentials is None:
        return None
    return decode_token(request.app.state.settings, credentials.credentials)


class RoleCheck:
    """A dependency that lets through only callers holding one of ``roles`` (403 for anyone else)."""

    def __init__(self, roles: tuple[Role, ...]) -> None:
        self.roles = roles

    async def __call__(self, caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
        if not caller.has(*self.roles):
            raise Forbidden(f"this needs one of the roles: {', '.join(sorted(r.value for r in self.roles))}")
        return caller


def require(*roles: Role) -> RoleCheck:
    return RoleCheck(roles)
