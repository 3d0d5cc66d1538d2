"""The notifications service's own settings (environment prefix ``GRANTS_``, like every service)."""

from typing import Annotated

from fastapi import Depends, Request
from pydantic import EmailStr, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from grants_shared.encryption import FernetKeys, split_keys
from grants_shared.settings import ServiceSettings

#: Development only. Anyone can read it here, so production MUST set GRANTS_WEBHOOK_SECRETS_KEY.
DEV_WEBHOOK_SECRETS_KEY = "Z3JhbnRzLWRldi1vbmx5LXdlYmhvb2stc2VjcmV0cyE="


class Settings(ServiceSettings):
    # A rejected value may be a key or a password: errors name the setting, never echo what it held.
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    # SMTP relay the email sender hands messages to (docker compose runs an SMTP catcher on 1025).
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=1025, ge=1, le=65_535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # None: use STARTTLS when the server offers it; True: insist on it; False: never.
    smtp_start_tls: bool | None = None
    smtp_timeout: float = Field(default=10.0, gt=0, le=300)
    mail_from: EmailStr = "notifications@grants.example"
    mail_from_name: str = Field(default="Community Grants", max_length=100)

    # The email sender: a background loop in every replica; claims keep replicas from sending one email twice.
    email_sender_enabled: bool = True
    email_poll_seconds: float = Field(default=2.0, gt=0, le=300)
    email_batch: int = Field(default=20, ge=1, le=500)
    email_max_attempts: int = Field(default=8, ge=1, le=50)
    email_retry_base_seconds: float = Field(default=30.0, gt=0)
    email_retry_max_seconds: float = Field(default=3_600.0, gt=0)
    # A `sending` claim older than this belongs to a sender that died; the email is sent again
    # (same Message-ID, so mail systems can recognise the copy).
    email_lease_seconds: float = Field(default=300.0, gt=0)

    # Where people act on what they are told (the web portal); used in links in the messages.
    portal_url: str = Field(default="http://localhost:8000", max_length=200)

    # Where mail clients reach this service's one-click unsubscribe (RFC 8058): its public address.
    unsubscribe_base_url: str = Field(default="http://localhost:8004", max_length=200)
    # The daily digest (reviewers and programme managers who chose it): sent once a day from this
    # hour (UTC), gathering what waited since the last one; the worker looks every so often.
    digest_hour_utc: int = Field(default=7, ge=0, le=23)
    digest_poll_seconds: float = Field(default=300.0, gt=0, le=3_600)
    digest_sender_enabled: bool = True

    # Webhooks for integrators. Comma-separated Fernet keys for the signing secrets at rest: the first
    # encrypts, every one decrypts, so a key is rotated by putting a new one first.
    webhook_secrets_key: FernetKeys = SecretStr(DEV_WEBHOOK_SECRETS_KEY)
    webhook_sender_enabled: bool = True
    webhook_poll_seconds: float = Field(default=2.0, gt=0, le=300)
    webhook_batch: int = Field(default=20, ge=1, le=500)
    # The whole request (connect, send, answer) must be done within this many seconds.
    webhook_timeout: float = Field(default=10.0, gt=0, le=120)
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_retry_base_seconds: float = Field(default=30.0, gt=0)
    webhook_retry_max_seconds: float = Field(default=3_600.0, gt=0)
    # A `sending` claim older than this belongs to a sender that died; the delivery is sent again with
    # the same webhook-id, so the integrator can recognise the copy.
    webhook_lease_seconds: float = Field(default=120.0, gt=0)
    # After a rotation the old secret still signs (a second signature) for this long, so the integrator
    # can switch over without losing a delivery; a rotation may ask for another overlap, or none.
    webhook_secret_overlap_seconds: float = Field(default=86_400.0, ge=0, le=7 * 86_400)
    # An endpoint is disabled (nothing is sent; what comes meanwhile is held) once this many deliveries
    # in a row have failed for good, or once every attempt has failed for this long.
    webhook_disable_after_failed_deliveries: int = Field(default=5, ge=1, le=1_000)
    webhook_disable_after_failing_seconds: float = Field(default=5 * 86_400.0, gt=0)
    # Webhooks go only to public addresses. Hosts (names or IP addresses) and networks (CIDR) named
    # here are let through too: the development stack and the tests name their loopback receiver.
    webhook_allowed_targets: list[str] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> "Settings":
        if self.email_lease_seconds <= self.smtp_timeout:
            raise ValueError("email_lease_seconds must be longer than smtp_timeout, or a slow send would be sent twice")
        if self.webhook_lease_seconds <= self.webhook_timeout:
            raise ValueError(
                "webhook_lease_seconds must be longer than webhook_timeout, or a slow request would be sent twice"
            )
        return self

    @property
    def uses_development_webhook_secrets_key(self) -> bool:
        return DEV_WEBHOOK_SECRETS_KEY in split_keys(self.webhook_secrets_key)

    def development_values(self) -> list[str]:
        development_key = ["GRANTS_WEBHOOK_SECRETS_KEY (the development key)"] if self.uses_development_webhook_secrets_key else []
        return super().development_values() + development_key


def current_settings(request: Request) -> Settings:
    return request.app.state.settings


#: The service's own settings, for a route that needs them.
CurrentSettings = Annotated[Settings, Depends(current_settings)]
