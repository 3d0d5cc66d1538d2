"""A test's own view of the real broker: publish events in, watch what services publish."""

import asyncio
import json
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from grants_shared.cloudevents import from_message, to_message
from grants_shared.events import Event, EventData
from grants_shared.settings import ServiceSettings
from grants_shared.topology import declare_events_exchange

SERVICES = ("applications", "scoring", "disbursement", "notifications", "test")


class TestBus:
    __test__ = False

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.seen: list[Event] = []
        self._arrived = asyncio.Condition()

    async def __aenter__(self) -> "TestBus":
        self.connection = await aio_pika.connect_robust(self.settings.rabbitmq_url)
        self.channel = await self.connection.channel(publisher_confirms=True)
        self.exchange = await declare_events_exchange(self.channel, self.settings)
        self.tap = await self.channel.declare_queue(exclusive=True, auto_delete=True)
        await self.tap.bind(self.exchange, routing_key="#")
        await self.tap.consume(self._record)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.connection.close()

    async def _record(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            event = from_message(message)
            async with self._arrived:
                self.seen.append(event)
                self._arrived.notify_all()

    async def publish(self, data: EventData, source: str = "/grants/test") -> Event:
        event = Event.new(data, source=source)
        await self.publish_event(event)
        return event

    async def publish_event(self, event: Event) -> None:
        await self.exchange.publish(to_message(event), routing_key=event.type)

    async def publish_raw(self, routing_key: str, body: bytes, headers: dict[str, Any] | None = None) -> None:
        await self.exchange.publish(
            aio_pika.Message(body=body, headers=headers or {}, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=routing_key,
        )

    def of_type(self, event_type: str) -> list[Event]:
        return [e for e in self.seen if e.type == event_type]

    async def wait_for(self, event_type: str, count: int = 1, timeout: float = 15, **match: Any) -> list[Event]:
        """Wait until ``count`` events of ``event_type`` (whose data match ``match``) have crossed the bus."""

        def matching() -> list[Event]:
            return [
                e for e in self.of_type(event_type)
                if all(getattr(e.data, k) == v for k, v in match.items())
            ]

        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(matching()) >= count), timeout)
        return matching()

    async def dead_letters(self, service: str, expect: int = 1, timeout: float = 15) -> list[dict[str, Any]]:
        """Read ``expect`` messages off a service's DLQ: body, headers and reason."""
        queue = await self.channel.get_queue(self.settings.dead_letter_queue(service))
        found: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(found) < expect and loop.time() < deadline:
            message = await queue.get(no_ack=True, fail=False)
            if message is None:
                await asyncio.sleep(0.1)
                continue
            headers = dict(message.headers or {})
            found.append({
                "body": message.body,
                "headers": headers,
                "reason": headers.get("x-grants-dead-letter-reason"),
                "json": _try_json(message.body),
            })
        return found


def _try_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


async def delete_topology(settings: ServiceSettings, services: tuple[str, ...] = SERVICES) -> None:
    """Remove what a test's prefix declared so the shared broker does not fill up."""
    connection = await aio_pika.connect(settings.rabbitmq_url)
    try:
        for service in services:
            for name in (settings.queue(service), settings.dead_letter_queue(service)):
                channel = await connection.channel()
                try:
                    await channel.queue_delete(name)
                except Exception:
                    pass
                finally:
                    if not channel.is_closed:
                        await channel.close()
        names = [settings.exchange, settings.public_exchange, settings.dead_letter_exchange]
        names += [settings.retry_exchange(d) for d in settings.retry_delays_ms]
        for delay in settings.retry_delays_ms:
            channel = await connection.channel()
            try:
                await channel.queue_delete(settings.retry_exchange(delay))
            except Exception:
                pass
        for name in names:
            channel = await connection.channel()
            try:
                await channel.exchange_delete(name)
            except Exception:
                pass
    finally:
        await connection.close()
