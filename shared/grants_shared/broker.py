"""One robust RabbitMQ connection per process, and a publisher with confirms.

The connection is made in the background and retried until the broker answers, so a service starts
(and serves its API, answering ``/readyz`` with 503) while RabbitMQ is still coming up or is down.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractRobustConnection

from grants_shared.cloudevents import to_message
from grants_shared.events import Event
from grants_shared.settings import ServiceSettings
from grants_shared.tasks import stop

log = logging.getLogger(__name__)

OnConnected = Callable[[AbstractRobustConnection], Awaitable[None]]


class BrokerUnavailable(Exception):
    pass


class Broker:
    def __init__(self, settings: ServiceSettings, on_connected: OnConnected | None = None) -> None:
        self.settings = settings
        self._on_connected = on_connected
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractChannel | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect_until_up(), name="broker-connect")

    async def _connect_until_up(self) -> None:
        delay = 0.5
        while True:
            try:
                connection = await aio_pika.connect_robust(self.settings.rabbitmq_url, timeout=10)
            except Exception as error:  # the broker is down or unreachable: keep trying, quietly
                log.warning("RabbitMQ not reachable (%s); retrying in %.1fs", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
                continue
            self._connection = connection
            try:
                if self._on_connected:
                    await self._on_connected(connection)
            except Exception:
                log.exception("setting up consumers failed; reconnecting")
                await connection.close()
                self._connection = None
                await asyncio.sleep(delay)
                continue
            self._connected.set()
            return

    @property
    def is_connected(self) -> bool:
        """Connected now. A robust connection's ``is_closed`` stays False while it reconnects after the
        broker went away; its ``connected`` event is what clears the moment the connection drops."""
        connection = self._connection
        return connection is not None and self._connected.is_set() and connection.connected.is_set()

    async def wait_connected(self, timeout: float | None = None) -> AbstractRobustConnection:
        await asyncio.wait_for(self._connected.wait(), timeout)
        assert self._connection is not None
        return self._connection

    async def publish(self, event: Event, *, timeout: float = 10) -> None:
        """Publish to the events exchange, and without its personal data to the integrators' one, and
        wait for both confirms."""
        if not self._connected.is_set():
            raise BrokerUnavailable("not connected to RabbitMQ yet")
        assert self._connection is not None
        if self._publish_channel is None or self._publish_channel.is_closed:
            self._publish_channel = await self._connection.channel(publisher_confirms=True)
        channel = self._publish_channel
        internal = await channel.get_exchange(self.settings.exchange, ensure=False)
        public = await channel.get_exchange(self.settings.public_exchange, ensure=False)
        # Not mandatory: an event nobody subscribes to yet (notification.delivered) is not an error.
        await asyncio.gather(
            internal.publish(to_message(event), routing_key=event.type, mandatory=False, timeout=timeout),
            public.publish(to_message(event, public=True), routing_key=event.type, mandatory=False, timeout=timeout),
        )

    async def close(self) -> None:
        await stop(self._task)
        if self._connection:
            await self._connection.close()
        self._connection = None
        self._connected.clear()
