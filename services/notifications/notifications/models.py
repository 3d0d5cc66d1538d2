"""API request and response models, and how the stored documents map onto them."""

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, HttpUrl, StringConstraints, TypeAdapter

from grants_shared.events import CONTRACTS
from notifications.domain import SUBSCRIBABLE_EVENT_TYPES, EmailStatus, RecipientKind, Template, WebhookStatus

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ContactIn(BaseModel):
    """The address a person wants their notifications sent to."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[EmailStr, Field(max_length=254)]
    name: Name


class ContactOut(BaseModel):
    person_id: str
    email: str
    name: str
    version: int
    updated_at: datetime

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "ContactOut":
        return cls(person_id=doc["_id"], email=doc["email"], name=doc["name"], version=doc["version"],
                   updated_at=doc["updated_at"])


class EmailPart(BaseModel):
    """Where the email copy of a notification stands (the address itself is not repeated back)."""

    status: EmailStatus
    attempts: int
    sent_at: datetime | None = None
    last_error: str | None = None


class InboxSummary(BaseModel):
    id: str
    kind: Template
    subject: str
    application_id: str | None
    created_at: datetime
    read_at: datetime | None
    email: EmailPart | None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "InboxSummary":
        return cls(**_summary_fields(doc))


class InboxItem(InboxSummary):
    text: str
    html: str

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "InboxItem":
        return cls(**_summary_fields(doc), text=doc["text"], html=doc["html"])


def _summary_fields(doc: dict[str, Any]) -> dict[str, Any]:
    email = doc.get("email")
    return {
        "id": doc["_id"],
        "kind": doc["template"],
        "subject": doc["subject"],
        "application_id": doc.get("application_id"),
        "created_at": doc["created_at"],
        "read_at": doc.get("read_at"),
        "email": EmailPart(
            status=email["status"], attempts=email.get("attempts", 0), sent_at=email.get("sent_at"),
            last_error=email.get("last_error"),
        ) if email else None,
    }


class InboxPage(BaseModel):
    items: list[InboxSummary]
    unread_count: int


Channel = Literal["inbox", "email", "webhook"]
Outcome = Literal["delivered", "failed", "gave_up"]


class DeliveryOut(BaseModel):
    """One attempt to deliver a notification on one channel. No bodies, no addresses."""

    id: str
    notification_id: str
    channel: Channel
    outcome: Outcome
    attempt: int
    recipient_id: str
    recipient_kind: RecipientKind
    # Webhooks have no template: they carry the event itself.
    template: Template | None = None
    answered_event_id: str
    answered_event_type: str
    at: datetime
    error: str | None = None
    #: The HTTP status an integrator's endpoint answered (webhooks only).
    status_code: int | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "DeliveryOut":
        return cls(id=doc["_id"], **{k: doc.get(k) for k in cls.model_fields if k != "id"})


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]


# --- webhooks ----------------------------------------------------------------------------------------

_HTTP_URL = TypeAdapter(HttpUrl)


def _endpoint(value: str) -> str:
    url = _HTTP_URL.validate_python(value)
    parts = urlsplit(value)
    if parts.username or parts.password:
        # It would be shown back in every listing and stored unencrypted; authenticate with the signature.
        raise ValueError("the URL must not carry a user name or password")
    if parts.fragment:
        raise ValueError("the URL must not have a #fragment")
    return str(url)


def _subscribable(value: str) -> str:
    if value in CONTRACTS and value not in SUBSCRIBABLE_EVENT_TYPES:
        raise ValueError(f"{value!r} is published by notifications itself: a subscription to it would loop")
    if value not in SUBSCRIBABLE_EVENT_TYPES:
        raise ValueError(
            f"{value!r} is not an event type integrators can subscribe to (see GET /v1/webhooks/event-types)"
        )
    return value


WebhookUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    AfterValidator(_endpoint),
    Field(description="http or https endpoint of the integrator, at most 500 characters", examples=[
        "https://crm.example.org/hooks/grants"]),
]
EventType = Annotated[
    str,
    StringConstraints(max_length=100),
    AfterValidator(_subscribable),
    Field(json_schema_extra={"enum": sorted(SUBSCRIBABLE_EVENT_TYPES)}),
]


class WebhookIn(BaseModel):
    """An integrator's endpoint and the events it wants."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl
    event_types: Annotated[list[EventType], Field(min_length=1, max_length=50)]
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""


class WebhookOut(BaseModel):
    """A subscription as admins see it: never its secret."""

    id: str
    url: str
    event_types: list[str]
    description: str
    active: bool
    created_by: str
    created_at: datetime
    secret_rotated_at: datetime
    deactivated_at: datetime | None = None
    version: int

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "WebhookOut":
        return cls(id=doc["_id"], **{k: doc.get(k) for k in cls.model_fields if k != "id"})


class WebhookWithSecret(WebhookOut):
    """Answered once, on creation or rotation: the only time the signing secret is shown."""

    secret: str = Field(description="Signs every request (HMAC-SHA256); keep it safe, it is not shown again")

    @classmethod
    def with_secret(cls, doc: dict[str, Any], secret: str) -> "WebhookWithSecret":
        return cls(**WebhookOut.from_doc(doc).model_dump(), secret=secret)


class WebhookPage(BaseModel):
    items: list[WebhookOut]


class EventTypes(BaseModel):
    items: list[str]


class WebhookAttemptOut(BaseModel):
    """One attempt to deliver a webhook, from the delivery audit."""

    attempt: int
    outcome: Outcome
    at: datetime
    status_code: int | None = None
    error: str | None = None


class WebhookDeliveryOut(BaseModel):
    """One event on its way to one subscription (no body). ``id`` is the ``Grants-Webhook-Id``."""

    id: str
    event_id: str
    event_type: str
    status: WebhookStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    history: list[WebhookAttemptOut]

    @classmethod
    def from_doc(cls, doc: dict[str, Any], attempts: list[dict[str, Any]]) -> "WebhookDeliveryOut":
        waiting = doc["status"] in (WebhookStatus.PENDING, WebhookStatus.SENDING)
        return cls(
            id=doc["_id"], event_id=doc["event_id"], event_type=doc["event_type"], status=doc["status"],
            attempts=doc.get("attempts", 0), created_at=doc["created_at"],
            next_attempt_at=doc.get("next_attempt_at") if waiting else None,
            delivered_at=doc.get("delivered_at"), last_status_code=doc.get("last_status_code"),
            last_error=doc.get("last_error"),
            history=[WebhookAttemptOut(**{k: a.get(k) for k in WebhookAttemptOut.model_fields}) for a in attempts],
        )


class WebhookDeliveryPage(BaseModel):
    items: list[WebhookDeliveryOut]
