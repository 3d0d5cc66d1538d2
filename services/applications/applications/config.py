"""The applications service's own settings (environment prefix ``GRANTS_``, like every service)."""

from pydantic import Field

from grants_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    #: How often the closer looks for open programmes whose closing time has passed.
    programme_closer_interval_seconds: float = Field(default=30.0, gt=0, le=3_600)
    #: Off when another process (or a person) closes programmes; the close endpoint works either way.
    close_programmes_automatically: bool = True
