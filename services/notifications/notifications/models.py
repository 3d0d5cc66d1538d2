"""API request and response models, and how the stored documents map onto them."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from notifications.domain import EmailStatus, RecipientKind, Template

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
    template: Template
    answered_event_id: str
    answered_event_type: str
    at: datetime
    error: str | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "DeliveryOut":
        return cls(id=doc["_id"], **{k: doc.get(k) for k in cls.model_fields if k != "id"})


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
