"""`grants dlq`: what waits in a service's dead-letter queue, and putting it back.

- ``list``: each message's event id, type, when and why it was dead-lettered (never its body).
- ``show``: one message's attributes and its data without the fields the contract marks personal
  (``--full`` shows everything, for an operator who needs it).
- ``replay``: back onto the service's own queue under the routing key it first came with, keeping
  its event id, so an event that was in fact handled meanwhile is stopped by the inbox.
- ``purge``: drop them, after the operator has looked.

Messages are read with ``basic.get`` and put back unacknowledged (or acknowledged once replayed or
purged), so listing changes nothing.
"""

import json
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika import DeliveryMode, Message
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from grants_shared.consumer import REASON_HEADER, ROUTING_KEY_HEADER
from grants_shared.events import CONTRACTS
from grants_shared.settings import ServiceSettings


@dataclass(frozen=True)
class DeadLetter:
    event_id: str
    type: str
    reason: str
    dead_lettered_at: str
    routing_key: str
    headers: dict[str, Any]
    body: bytes

    def data(self, full: bool = False) -> Any:
        try:
            decoded = json.loads(self.body)
        except ValueError:
            return self.body.decode(errors="replace") if full else "<not JSON>"
        contract = CONTRACTS.get(self.type)
        if full or contract is None or not isinstance(decoded, dict):
            return decoded if full else "<not a known event: use --full>"
        return contract.model_validate(decoded).without_personal_data()


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value or "")


def _dead_letter(message: AbstractIncomingMessage) -> DeadLetter:
    headers = dict(message.headers or {})
    return DeadLetter(
        event_id=_text(headers.get("cloudEvents_id")),
        type=_text(headers.get("cloudEvents_type")),
        reason=_text(headers.get(REASON_HEADER)),
        dead_lettered_at=_text(headers.get("x-grants-dead-lettered-at")),
        routing_key=_text(headers.get("x-grants-original-routing-key")) or _text(headers.get("cloudEvents_type")),
        headers=headers,
        body=message.body,
    )


class DeadLetterQueue:
    def __init__(self, settings: ServiceSettings, service: str) -> None:
        self.settings = settings
        self.service = service
        self.name = settings.dead_letter_queue(service)

    async def _messages(self, channel: AbstractChannel) -> list[AbstractIncomingMessage]:
        """Every message, taken unacknowledged (they stay the broker's until acked or the channel closes)."""
        queue = await channel.declare_queue(self.name, passive=True)
        taken = []
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            taken.append(message)
        return taken

    async def list(self) -> list[DeadLetter]:
        async with await aio_pika.connect(self.settings.rabbitmq_url) as connection:
            channel = await connection.channel()
            messages = await self._messages(channel)
            found = [_dead_letter(message) for message in messages]
            for message in messages:
                await message.nack(requeue=True)
            return found

    async def replay(self, event_ids: set[str] | None = None) -> int:
        """Put the chosen messages (all if None) back on the service's queue; answer how many."""
        return await self._settle(event_ids, replay=True)

    async def purge(self, event_ids: set[str] | None = None) -> int:
        return await self._settle(event_ids, replay=False)

    async def _settle(self, event_ids: set[str] | None, replay: bool) -> int:
        async with await aio_pika.connect(self.settings.rabbitmq_url) as connection:
            channel = await connection.channel(publisher_confirms=True)
            messages = await self._messages(channel)
            done = 0
            for message in messages:
                letter = _dead_letter(message)
                if event_ids is not None and letter.event_id not in event_ids:
                    await message.nack(requeue=True)
                    continue
                if replay:
                    await channel.default_exchange.publish(_fresh(message, letter), routing_key=self.settings.queue(self.service))
                await message.ack()
                done += 1
            return done


def _fresh(message: AbstractIncomingMessage, letter: DeadLetter) -> Message:
    """The message as first published: its CloudEvents headers and body, its first routing key (the
    consumer checks it against the type), no retry or dead-letter bookkeeping."""
    headers = {k: v for k, v in letter.headers.items() if not k.startswith("x-")}
    headers[ROUTING_KEY_HEADER] = letter.routing_key
    return Message(body=message.body, headers=headers, content_type=message.content_type,
                   message_id=message.message_id, delivery_mode=DeliveryMode.PERSISTENT)  # fmt: skip
