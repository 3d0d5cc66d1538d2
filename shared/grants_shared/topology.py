"""The RabbitMQ objects every service declares (idempotently) at start-up.

- ``<prefix>.events``: durable topic exchange; routing key = event type. The services' own: events
  carry the personal data their consumers need, so only the services' broker user reaches it.
- ``<prefix>.public``: the integrators' topic exchange: every event again, without the fields its
  contract marks personal (and without the actor). An integrators' broker user can read only there.
- ``<prefix>.<service>.events``: one quorum queue per service, bound to the types it handles.
- ``<prefix>.dlx`` + ``<prefix>.<service>.events.dlq``: where messages go that cannot be handled.
- ``<prefix>.retry.<delay>``: a fanout exchange and queue per fixed delay; the message waits out its
  TTL, then is dead-lettered to the default exchange under its original routing key, which is the
  name of the queue it came from, so it returns to exactly that queue.
"""

from collections.abc import Iterable

from aio_pika import ExchangeType
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from grants_shared.settings import ServiceSettings


async def declare_events_exchange(channel: AbstractChannel, settings: ServiceSettings) -> AbstractExchange:
    await channel.declare_exchange(settings.public_exchange, ExchangeType.TOPIC, durable=True)
    return await channel.declare_exchange(settings.exchange, ExchangeType.TOPIC, durable=True)


async def declare_service_queues(
    channel: AbstractChannel, settings: ServiceSettings, service: str, event_types: Iterable[str]
) -> AbstractQueue:
    """Declare the exchanges, the service's queue with its bindings, its DLQ and the retry queues."""
    events = await declare_events_exchange(channel, settings)
    dlx = await channel.declare_exchange(settings.dead_letter_exchange, ExchangeType.DIRECT, durable=True)
    queue_name = settings.queue(service)

    dlq = await channel.declare_queue(
        settings.dead_letter_queue(service), durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dlq.bind(dlx, routing_key=queue_name)

    queue = await channel.declare_queue(
        queue_name,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": settings.dead_letter_exchange,
            "x-dead-letter-routing-key": queue_name,
            "x-delivery-limit": settings.delivery_limit,
        },
    )
    for event_type in sorted(event_types):
        await queue.bind(events, routing_key=event_type)

    for delay_ms in settings.retry_delays_ms:
        name = settings.retry_exchange(delay_ms)
        retry = await channel.declare_exchange(name, ExchangeType.FANOUT, durable=True)
        waiting = await channel.declare_queue(
            name, durable=True, arguments={"x-message-ttl": delay_ms, "x-dead-letter-exchange": ""}
        )
        await waiting.bind(retry)
    return queue
