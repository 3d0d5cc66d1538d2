"""A real SMTP sink (aiosmtpd on 127.0.0.1), a real HTTP endpoint for webhooks (plain asyncio on
127.0.0.1) and the notifications service's own settings."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
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
        #: Addresses (lower case) refused at RCPT TO, with the server's answer (which, like real
        #: servers' answers, names the address).
        self.refuse: dict[str, str] = {}
        #: Seconds each answer to MAIL FROM and RCPT TO takes (a slow or tarpitting server).
        self.delay = 0.0
        self._controller: Controller | None = None

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        await asyncio.sleep(self.delay)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        await asyncio.sleep(self.delay)
        if address.lower() in self.refuse:
            return self.refuse[address.lower()]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

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


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


class WebhookReceiver:
    """An integrator's endpoint: records every request as it arrived (raw body included) and answers
    with the statuses in ``answers`` in turn (then 200), after ``delay`` seconds."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.answers: list[int] = []
        self.delay = 0.0
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/grants"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, path, _ = head[0].split(" ", 2)
            headers = {}
            for line in head[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(Received(method, path, headers, body))
            status = self.answers.pop(0) if self.answers else 200
            await asyncio.sleep(self.delay)
            writer.write(f"HTTP/1.1 {status} Answer\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the sender gave up on us (a timeout test)
        finally:
            writer.close()

    async def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.requests) < count:
            if loop.time() > deadline:
                raise AssertionError(f"expected {count} webhook requests, the receiver has {len(self.requests)}")
            await asyncio.sleep(0.05)
        return list(self.requests)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    endpoint = WebhookReceiver()
    await endpoint.start()
    yield endpoint
    await endpoint.close()


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
        webhook_poll_seconds=0.1,
        webhook_timeout=2,
        webhook_retry_base_seconds=0.2,
        webhook_retry_max_seconds=0.5,
        webhook_max_attempts=20,
        webhook_lease_seconds=5,
        # The receiver below listens on loopback, which webhooks may reach only when allowed.
        webhook_allowed_targets=["127.0.0.1"],
    )
