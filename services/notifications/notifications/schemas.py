"""The bodies the API reads and answers with. Requests forbid unknown fields and bound every string
and list; answers are built from stored documents with ``of`` and never carry an email address of
someone else, a message body in a list, or a webhook secret (except the once it is shown)."""

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    StringConstraints,
    TypeAdapter,
    model_validator,
)

from grants_shared.api import Page
from grants_shared.events import CONTRACTS
from notifications.domain import (
    SUBSCRIBABLE_EVENT_TYPES,
    Channel,
    EmailStatus,
    Outcome,
    RecipientKind,
    SubscriptionStatus,
    Template,
    WebhookStatus,
)
from notifications.preferences import ALWAYS_SENT, OPTIONAL, Choices, can_turn_off, refused_kinds
from notifications.store import (
    Contact,
    Delivery,
    EmailProgress,
    Notification,
    NotificationSummary,
    Preferences,
    WebhookDeliverySummary,
    WebhookSubscription,
)

_REQUEST = ConfigDict(extra="forbid")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

# --- contact ---------------------------------------------------------------------------------------


class ContactDetails(BaseModel):
    """PUT /v1/me/contact: the address a person wants their notifications sent to."""

    model_config = _REQUEST

    email: Annotated[EmailStr, Field(max_length=254)]
    name: Name


class ContactView(BaseModel):
    person_id: str
    email: str
    name: str
    version: int
    updated_at: datetime
    source: Literal["registered", "token"] = Field(
        description="registered: you gave it; token: the address your sign-in carries, used until you register one"
    )

    @classmethod
    def of(cls, contact: Contact) -> "ContactView":
        fields = {"email", "name", "version", "updated_at", "source"}
        return cls(person_id=contact.id, **contact.model_dump(include=fields))


# --- inbox -----------------------------------------------------------------------------------------


class EmailView(BaseModel):
    """Where the email copy of a notification stands (the address itself is not repeated back)."""

    status: EmailStatus
    attempts: int
    sent_at: datetime | None = None
    last_error: str | None = None

    @classmethod
    def of(cls, email: EmailProgress | None) -> "EmailView | None":
        return cls(**email.model_dump(include=set(cls.model_fields))) if email else None


class _InboxEntry(BaseModel):
    id: str
    kind: Template
    subject: str
    application_id: str | None
    page: str = Field(description="The portal page this notification is about, as a path (e.g. /grants/…)")
    created_at: datetime
    read_at: datetime | None
    email: EmailView | None


def _entry(n: NotificationSummary) -> dict[str, Any]:
    return {
        "id": n.id, "kind": n.template, "subject": n.subject, "application_id": n.application_id, "page": n.page,
        "created_at": n.created_at, "read_at": n.read_at, "email": EmailView.of(n.email),
    }  # fmt: skip


class InboxSummary(_InboxEntry):
    @classmethod
    def of(cls, notification: NotificationSummary) -> "InboxSummary":
        return cls(**_entry(notification))


class InboxItem(_InboxEntry):
    """One notification with its bodies, as rendered when its event was handled."""

    text: str
    html: str

    @classmethod
    def of(cls, notification: Notification) -> "InboxItem":
        return cls(**_entry(notification), text=notification.text, html=notification.html)


class InboxPage(Page[InboxSummary]):
    """The caller's notifications, with how many of all of them (not just this page) are unread."""

    unread_count: int


# --- the delivery audit ----------------------------------------------------------------------------


class DeliveryView(BaseModel):
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
    def of(cls, delivery: Delivery) -> "DeliveryView":
        return cls(**delivery.model_dump())


# --- webhooks --------------------------------------------------------------------------------------

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


class NewWebhook(BaseModel):
    """POST /v1/webhooks: an integrator's endpoint and the events it wants."""

    model_config = _REQUEST

    url: WebhookUrl
    event_types: Annotated[list[EventType], Field(min_length=1, max_length=50)]
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""


class WebhookView(BaseModel):
    """A subscription as admins see it: never its secrets."""

    id: str
    url: str
    event_types: list[str]
    description: str
    active: bool = Field(description="True while the status is active")
    status: SubscriptionStatus = Field(description=(
        "active; disabled (automatically, after repeated failure: its events are held until it is "
        "reactivated); deactivated (by an admin: nothing is queued for it)"
    ))
    created_by: str
    created_at: datetime
    secret_rotated_at: datetime
    previous_secret_until: datetime | None = Field(
        default=None, description="Until then requests carry a second signature, made with the secret rotated out"
    )
    deactivated_at: datetime | None = None
    disabled_at: datetime | None = None
    reactivated_at: datetime | None = None
    failing_since: datetime | None = Field(default=None, description="Every attempt has failed since then")
    failed_deliveries: int = Field(default=0, description="Deliveries in a row that failed for good")
    version: int

    @classmethod
    def of(cls, subscription: WebhookSubscription) -> "WebhookView":
        return cls(**subscription.model_dump(include=set(cls.model_fields)))


class WebhookWithSecret(WebhookView):
    """Answered once, on creation or rotation: the only time the signing secret is shown."""

    secret: str = Field(description=(
        "Signs every request (Standard Webhooks: whsec_ then the key in base64); give it to your Standard "
        "Webhooks library as it is and keep it safe: it is not shown again"
    ))

    @classmethod
    def with_secret(cls, subscription: WebhookSubscription, secret: str) -> "WebhookWithSecret":
        return cls(**WebhookView.of(subscription).model_dump(), secret=secret)


class EventTypes(BaseModel):
    items: list[str]


class Rotation(BaseModel):
    """POST /v1/webhooks/{id}/rotate-secret (the body is optional)."""

    model_config = _REQUEST

    overlap_seconds: Annotated[int | None, Field(ge=0, le=7 * 86_400, description=(
        "How long the old secret goes on signing beside the new one (0: it stops at once, e.g. when it "
        "leaked); the service's setting when not given"
    ))] = None


class Replay(BaseModel):
    """POST /v1/webhooks/{id}/replay: send again what was queued for the subscription in a time range."""

    model_config = _REQUEST

    since: AwareDatetime = Field(description="From this time (included), as the delivery was queued")
    until: AwareDatetime | None = Field(default=None, description="To this time (excluded); now when not given")
    limit: Annotated[int, Field(ge=1, le=5_000, description="At most this many at once (oldest first)")] = 1_000

    @model_validator(mode="after")
    def _a_range(self) -> "Replay":
        if self.until is not None and self.until <= self.since:
            raise ValueError("until must be later than since")
        return self


class Replayed(BaseModel):
    queued: int = Field(description="Deliveries queued again (same webhook-id each)")
    remaining: int = Field(description="More in the range not queued yet (over the limit): replay again for them")


class Reactivated(WebhookView):
    released: int = Field(description="Deliveries held while it was disabled, now queued again")

    @classmethod
    def of_released(cls, subscription: WebhookSubscription, released: int) -> "Reactivated":
        return cls(**WebhookView.of(subscription).model_dump(), released=released)


class WebhookAttemptView(BaseModel):
    """One attempt to deliver a webhook, from the delivery audit."""

    attempt: int
    outcome: Outcome
    at: datetime
    status_code: int | None = None
    error: str | None = None


class WebhookDeliveryView(BaseModel):
    """One event on its way to one subscription (no body). ``id`` is the ``webhook-id`` header."""

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
    requeued_at: datetime | None = Field(default=None, description="When it was last resent, replayed or released")
    history: list[WebhookAttemptView]

    @classmethod
    def of(cls, delivery: WebhookDeliverySummary, attempts: Iterable[Delivery]) -> "WebhookDeliveryView":
        waiting = delivery.status in (WebhookStatus.PENDING, WebhookStatus.SENDING)
        fields = delivery.model_dump(include=set(cls.model_fields) - {"next_attempt_at", "history"})
        history = [WebhookAttemptView(**a.model_dump(include=set(WebhookAttemptView.model_fields))) for a in attempts]
        return cls(**fields, next_attempt_at=delivery.next_attempt_at if waiting else None, history=history)


# --- people's choices ------------------------------------------------------------------------------

OptionalKind = Annotated[str, StringConstraints(max_length=100), Field(json_schema_extra={"enum": sorted(OPTIONAL)})]


def _only_optional(kinds: list[str]) -> list[str]:
    refused = refused_kinds(kinds)
    if refused:
        raise ValueError(f"these cannot be turned off: {', '.join(refused)} ({ALWAYS_SENT.lower()})")
    return kinds


class PreferencesChange(BaseModel):
    """PUT /v1/me/preferences: the kinds of message not to email, not to show in the inbox, and (for
    reviewers and programme managers) one email a day instead of one each time."""

    model_config = _REQUEST

    email_off: Annotated[list[OptionalKind], Field(max_length=50), AfterValidator(_only_optional)] = []
    inbox_off: Annotated[list[OptionalKind], Field(max_length=50), AfterValidator(_only_optional)] = []
    digest: bool = False


class KindChoice(BaseModel):
    kind: str
    description: str
    email: bool = Field(description="Emailed (as it happens, or in the daily digest)")
    inbox: bool = Field(description="Shown in the portal's inbox")
    required: bool = Field(description="Always sent, by email and in the inbox: it cannot be turned off")


class PreferencesView(BaseModel):
    """A person's choices, every kind of message listed (their defaults when they made none)."""

    kinds: list[KindChoice]
    digest: bool
    digest_available: bool = Field(description="Whether the caller's role may choose a daily digest")
    always_sent: str = Field(description="Why the required kinds cannot be turned off, in words for people")
    version: int = Field(description="0 until the person first makes a choice")

    @classmethod
    def of_stored(cls, stored: Preferences | None, digest_available: bool) -> "PreferencesView":
        return cls.of(choices_of(stored), stored.version if stored else 0, digest_available)

    @classmethod
    def of(cls, choices: Choices, version: int, digest_available: bool) -> "PreferencesView":
        kinds = [
            KindChoice(kind=kind, description=description, email=kind not in choices.email_off,
                       inbox=kind not in choices.inbox_off, required=False)
            for kind, description in OPTIONAL.items()
        ] + [
            KindChoice(kind=str(kind), description=REQUIRED_WORDS.get(kind, str(kind).replace("_", " ").capitalize()),
                       email=True, inbox=True, required=True)
            for kind in Template if not can_turn_off(kind) and kind != Template.DAILY_DIGEST
        ]  # fmt: skip
        return cls(kinds=kinds, digest=choices.digest, digest_available=digest_available, always_sent=ALWAYS_SENT,
                   version=version)  # fmt: skip


def choices_of(stored: Preferences | None) -> Choices:
    if stored is None:
        return Choices()
    return Choices(frozenset(stored.email_off), frozenset(stored.inbox_off), stored.digest)


class Unsubscribed(BaseModel):
    kind: str
    email: bool = Field(description="Whether that kind of email is still sent (false: turned off)")


#: How the kinds that always go read (those added later read from their name until given words here).
REQUIRED_WORDS: dict[str, str] = {
    Template.APPLICATION_INELIGIBLE: "An application that cannot go ahead",
    Template.APPLICATION_AWARDED: "A grant awarded",
    Template.APPLICATION_DECLINED: "An application not funded",
    Template.GRANT_OFFERED: "A grant offered",
    Template.PAYMENT_FAILED: "A payment that failed",
    Template.INVOLVEMENT_CLAIM_APPROVED: "An involvement claim approved",
    Template.INVOLVEMENT_CLAIM_REJECTED: "An involvement claim not approved",
    Template.INVOLVEMENT_CLAIM_PAID: "An involvement claim paid",
    Template.INVOLVEMENT_PAYMENT_FAILED: "An involvement payment your bank did not accept",
}
