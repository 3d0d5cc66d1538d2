"""Settings every service shares, read from the environment (prefix ``GRANTS_``).

One name prefix (``GRANTS_PREFIX``) names the exchange, the queues and the databases, so tests and
several deployments can share one broker and one database server without touching each other.
"""

from typing import Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Development only: it is in this repository, so anyone could mint tokens with it.
DEV_JWT_SECRET = "dev-only-secret-change-me-in-production-32b"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRANTS_", extra="ignore")

    #: Anything but development refuses to start on a value from this repository (a development
    #: secret or key), so a deployment cannot forget one silently.
    environment: Literal["development", "production"] = "development"
    prefix: str = Field(default="grants", pattern=r"^[a-z][a-z0-9_-]{0,30}$")
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    mongodb_url: str = "mongodb://127.0.0.1:27017/?replicaSet=rs0"
    # Connections one replica keeps to the database at most; more requests wait for one. Bounded so
    # that a backlog cannot open ever more connections, each one more for the server to switch among.
    # On the embedded server (a thread per connection, all taking one lock) PyMongo's default of 100
    # let the pools of four services grow to 145 connections after two pipeline runs, and the third
    # crawled (40 applications in 348 s instead of 12 s); with 10 each, three runs held 3.3/s.
    mongodb_max_pool_size: int = Field(default=10, ge=1, le=1_000)

    # JWT: in development tokens are signed with a shared secret (the `grants token` CLI mints them);
    # in production set jwks_url and the identity provider's keys are used instead.
    jwt_secret: str = DEV_JWT_SECRET
    jwt_issuer: str = "grants-dev"
    jwt_audience: str = "grants"
    jwks_url: str | None = None

    @field_validator("jwks_url", "otlp_traces_endpoint", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `GRANTS_JWKS_URL=` in an env file means "not set", not "a JWKS at the empty URL".
        return None if isinstance(value, str) and not value.strip() else value

    cors_origins: list[str] = []

    # Fixed-delay retry steps for a handler that fails transiently; after the last, the message is
    # dead-lettered with its reason.
    retry_delays_ms: list[int] = [1_000, 10_000, 60_000]
    # An event waiting for what it depends on (errors.NotYetKnown) is retried, with the longest of the
    # delays above, for this long before it is dead-lettered: a day outlasts any outage we plan for.
    prerequisite_wait_seconds: float = 86_400
    # Quorum queues dead-letter a message redelivered this many times (a handler that crashes the process).
    delivery_limit: int = 10
    prefetch: int = 20
    # Events that arrive together are handled up to this many in one transaction (one inbox write,
    # one outbox write, one commit); 1 handles each on its own. A batch that fails is handled again
    # event by event, so one event's failure is only ever its own.
    consumer_batch: int = 10
    consumer_batches_at_once: int = 4
    # A batch is given this long (a single event gets transaction_timeout_seconds). One that fails for
    # a reason not its events' own (the database too slow, conflicts that did not resolve) is handled
    # event by event, and events are then handled alone for consumer_batch_pause_seconds: when the
    # database is slow a long transaction only meets more others, and would time out again.
    consumer_batch_timeout_seconds: float = 3.0
    consumer_batch_pause_seconds: float = 30.0
    outbox_poll_seconds: float = 1.0
    # A transaction (retries after write conflicts included) that takes longer is abandoned: the
    # request answers 503 with Retry-After, an event is retried later. Short transactions let work go
    # on when a crashed process left locks behind (the database aborts those after its own lifetime).
    transaction_timeout_seconds: float = 10.0
    #: How long a published outbox entry (stripped of personal data) is kept as the audit trail of
    #: the service's changes: seven years, as for financial records.
    audit_retention_days: int = 2557

    # Operations: log level and format (JSON lines, or plain text for reading in a terminal), and where
    # traces go (an OTLP/HTTP endpoint such as http://otel-collector:4318/v1/traces; none: not exported).
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR|debug|info|warning|error)$")
    log_json: bool = True
    # Larger request bodies are refused with 413 before a route reads them (a service that takes file
    # uploads raises its own).
    max_request_bytes: int = Field(default=1_048_576, ge=1_024)
    otlp_traces_endpoint: str | None = None

    @property
    def development(self) -> bool:
        return self.environment == "development"

    def development_values(self) -> list[str]:
        """The settings that still hold a development value (each service adds its own keys)."""
        if self.jwks_url is None and self.jwt_secret == DEV_JWT_SECRET:
            return ["GRANTS_JWT_SECRET (the development secret)"]
        return []

    @model_validator(mode="after")
    def _production_refuses_development_values(self) -> Self:
        if self.development:
            return self
        problems = self.development_values()
        if self.jwks_url is None and len(self.jwt_secret.encode()) < 32:
            problems.append("GRANTS_JWT_SECRET (at least 32 bytes) or GRANTS_JWKS_URL")
        if problems:
            raise ValueError(f"{self.environment} refuses to start; set {', '.join(problems)}")
        return self

    @property
    def exchange(self) -> str:
        return f"{self.prefix}.events"

    @property
    def public_exchange(self) -> str:
        """Where integrators bind: every event, without its personal data."""
        return f"{self.prefix}.public"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.prefix}.dlx"

    def queue(self, service: str) -> str:
        return f"{self.prefix}.{service}.events"

    def dead_letter_queue(self, service: str) -> str:
        return f"{self.queue(service)}.dlq"

    def retry_exchange(self, delay_ms: int) -> str:
        return f"{self.prefix}.retry.{delay_label(delay_ms)}"

    def database(self, service: str) -> str:
        return f"{self.prefix}_{service}"


def delay_label(delay_ms: int) -> str:
    return f"{delay_ms // 1000}s" if delay_ms % 1000 == 0 else f"{delay_ms}ms"
