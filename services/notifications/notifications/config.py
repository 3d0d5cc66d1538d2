"""Settings of the notifications service (environment variables, prefix GRANTS_)."""

from pydantic import EmailStr, Field, SecretStr, model_validator

from grants_shared.settings import ServiceSettings


class Settings(ServiceSettings):
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

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> "Settings":
        if self.email_lease_seconds <= self.smtp_timeout:
            raise ValueError("email_lease_seconds must be longer than smtp_timeout, or a slow send would be sent twice")
        return self
