"""A real SMTP sink (aiosmtpd on 127.0.0.1) and the notifications service's own settings."""

import asyncio
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from grants_shared.dev.infra import free_port
from grants_shared.settings import ServiceSettings
from notifications.config import Settings


class SmtpSink:
    """Collects what an SMTP client hands over. It can be started late, to play an SMTP server that is down."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content, policy=policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m, rcpt in zip(self.messages, self.recipients, strict=True) if address in rcpt]

    async def wait_for(self, count: int, timeout: float = 10, address: str | None = None) -> list[EmailMessage]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = self.to(address) if address else list(self.messages)
            if len(found) >= count:
                return found
            if loop.time() > deadline:
                raise AssertionError(f"expected {count} emails, the sink has {len(found)}")
            await asyncio.sleep(0.05)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """Not started: a test starts it (or starts it late)."""
    sink = SmtpSink(free_port())
    yield sink
    sink.stop()


@pytest.fixture
def running_sink(smtp_sink: SmtpSink) -> SmtpSink:
    smtp_sink.start()
    return smtp_sink


@pytest.fixture
def service_settings(settings: ServiceSettings, smtp_sink: SmtpSink) -> Settings:
    return Settings(
        **settings.model_dump(),
        smtp_host="127.0.0.1",
        smtp_port=smtp_sink.port,
        smtp_timeout=2,
        mail_from="notifications@grants-test.example",
        email_poll_seconds=0.1,
        email_retry_base_seconds=0.2,
        email_retry_max_seconds=0.5,
        email_max_attempts=20,
        email_lease_seconds=5,
    )
