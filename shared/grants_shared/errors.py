"""Domain errors and their RFC 9457 problem+json answers.

Handlers and routes raise these; the app factory turns them into problem+json responses, and the
event consumer dead-letters a message whose handler raises a :class:`PermanentError`.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """An RFC 9457 problem details document: what every error answer of every service looks like."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI naming the kind of problem", examples=["https://grants.example/problems/conflict"])
    title: str = Field(description="The kind of problem, in words")
    status: int = Field(description="The HTTP status")
    detail: str = Field(description="What went wrong this time, in words a person can act on")
    instance: str | None = Field(default=None, description="The path of the request")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="For an invalid request: each problem with its location"
    )


class GrantsError(Exception):
    """A failure with a stable machine code and words a person can read."""

    status = 400
    code = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://grants.example/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class PermanentError(GrantsError):
    """Retrying cannot help: the event consumer sends the message to the dead-letter queue."""


class NotYetKnown(Exception):
    """An event arrived before something it depends on (its programme, its application): events from
    different services overtake each other. It waits for it to arrive, on a schedule that outlasts any
    outage, without spending the retry budget meant for failures."""


class NotFound(PermanentError):
    status = 404
    code = "not-found"
    title = "Not found"


class Conflict(PermanentError):
    """The request clashes with the current state (a transition the state machine does not allow)."""

    status = 409
    code = "conflict"
    title = "Conflict with current state"


class RuleViolation(PermanentError):
    """The request is well formed but breaks a rule of the programme (budget, maximum award...)."""

    status = 422
    code = "rule-violation"
    title = "A programme rule was broken"


class PreconditionFailed(PermanentError):
    """The caller edited a stale version (If-Match did not match the document's version)."""

    status = 412
    code = "precondition-failed"
    title = "The resource changed since you read it"


class PreconditionRequired(PermanentError):
    status = 428
    code = "precondition-required"
    title = "If-Match header required"


class Busy(GrantsError):
    """A change could not be made in time (the documents it needs are locked by others, or the database
    is slow): nothing was written, and trying again in a moment should work. Transient for the consumer."""

    status = 503
    code = "busy"
    title = "Busy: try again in a moment"
    retry_after_seconds = 2


class Unauthorized(GrantsError):
    status = 401
    code = "unauthorized"
    title = "Authentication required"


class Forbidden(GrantsError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


class MalformedEvent(PermanentError):
    """A message that is not a valid event of a type this service handles."""

    code = "malformed-event"
    title = "Malformed event"
