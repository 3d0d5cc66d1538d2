"""The scoring service's own settings (environment prefix ``GRANTS_``, like every service)."""

from typing import Annotated

from fastapi import Depends, Request
from pydantic import Field

from grants_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    #: Days a reviewer has to score an application once it is assigned.
    review_days: int = Field(default=14, ge=1, le=365)
    #: Reviewers' scores for one criterion may differ by this many points before a moderator must look.
    moderation_spread: int = Field(default=2, ge=0, le=5)
    #: The most open reviews one reviewer is asked to hold at once, across programmes.
    max_open_reviews: int = Field(default=20, ge=1, le=1_000)
    #: A reviewer is reminded this many days before their review is due.
    review_reminder_days: int = Field(default=3, ge=0, le=60)
    #: How often the review watcher looks for reminders and overdue notices to send, and how many at once.
    review_watch_seconds: float = Field(default=60.0, gt=0, le=86_400)
    review_watch_batch: int = Field(default=100, ge=1, le=10_000)
    #: How often the waiting watcher gives free reviewers the applications still waiting for one.
    waiting_watch_seconds: float = Field(default=10.0, gt=0, le=86_400)
    #: Members present at a decision meeting who have not recorded every recommendation are reminded
    #: this many hours into the meeting's day (UTC): by midday, those who came and have still to vote.
    vote_reminder_hours: int = Field(default=12, ge=0, le=23)
    #: How often the vote watcher looks for meetings whose reminders are due, and how many at once.
    vote_watch_seconds: float = Field(default=60.0, gt=0, le=86_400)
    vote_watch_batch: int = Field(default=100, ge=1, le=10_000)


def current_settings(request: Request) -> Settings:
    return request.app.state.settings


#: The service's own settings, for a route that needs them.
CurrentSettings = Annotated[Settings, Depends(current_settings)]
