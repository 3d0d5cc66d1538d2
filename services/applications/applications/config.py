"""The applications service's own settings (environment prefix ``GRANTS_``, like every service)."""

from typing import Annotated

from fastapi import Depends, Request
from pydantic import Field

from grants_shared.forms import MAX_FILE_BYTES
from grants_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    #: How often the closer looks for open programmes whose closing time has passed.
    programme_closer_interval_seconds: float = Field(default=30.0, gt=0, le=3_600)
    #: Off when another process (or a person) closes programmes; the close endpoint works either way.
    close_programmes_automatically: bool = True
    #: Room for the largest file a form may accept (the rest of the API's bodies are bounded by
    #: their schemas; every other service keeps the 1 MiB default).
    max_request_bytes: int = Field(default=MAX_FILE_BYTES + 65_536, ge=1_024)
    #: How often the retention worker looks for applications whose retention period has ended.
    retention_interval_seconds: float = Field(default=3_600.0, gt=0, le=86_400)

    # Publishing awards as 360Giving open data. The development defaults make valid packages but are
    # nobody's: a real funder registers its own identifier prefix with 360Giving and publishes under
    # it, and under its own Organisation Identifier (org-id.guide, e.g. "GB-CHC-1234567").
    #: Starts every grant identifier, and the ids of recipients with no registered number.
    three_sixty_giving_prefix: str = Field(default="360G-grants-dev", pattern=r"^360G-[A-Za-z0-9][A-Za-z0-9._-]{0,40}$")
    funder_id: str = Field(default="360G-grants-dev-funder", pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$")
    funder_name: str = Field(default="Grants platform (development)", min_length=1, max_length=200)
    #: The licence the data is published under: 360Giving asks for an open one (CC BY 4.0 is common).
    three_sixty_giving_license: str = Field(
        default="https://creativecommons.org/licenses/by/4.0/", pattern=r"^https?://[^\s/]+/\S*$"
    )


def current_settings(request: Request) -> Settings:
    return request.app.state.settings


#: The service's own settings, for a route that needs them.
CurrentSettings = Annotated[Settings, Depends(current_settings)]
