"""The broker users of deploy/rabbitmq, applied to the real local broker and then tried.

deploy/rabbitmq/users.sh runs once for this module, exactly as docker compose runs it, with a prefix
and user names of this run's own (and guest kept: the broker is shared). Then each user connects with
aio-pika and does what it is for, and what it must not do is refused by the broker (ACCESS_REFUSED):

- a service's user declares the whole topology a service declares (the real topology code), publishes
  where a service publishes, consumes its own queue and reads its own dead-letter queue (the real
  `grants dlq` code), and cannot touch another service's queues;
- the integrators' user binds a queue of its own to <prefix>.public and reads the events there, and
  cannot bind to <prefix>.events, read a service's queue, or publish to anything but its own objects;
- KEDA's user reads a queue's length and nothing else.

Everything this module creates (users, exchanges, queues) is removed at the end, even on failure.
"""

import asyncio
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit
from uuid import uuid4

import aio_pika
import aiormq
import pytest
from aio_pika import ExchangeType, Message
from aio_pika.abc import AbstractChannel

from grants_shared.dead_letters import DeadLetterQueue
from grants_shared.dev import infra
from grants_shared.settings import ServiceSettings
from grants_shared.topology import declare_service_queues

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "deploy" / "rabbitmq" / "users.sh"
RULES = ROOT / "deploy" / "rabbitmq" / "permissions"
SERVICES = ("applications", "scoring", "disbursement", "notifications")
ROLES = (*SERVICES, "integrator", "keda")
#: Two delays, one of them not whole seconds, so both shapes of retry name are covered.
RETRY_DELAYS_MS = [1_000, 1_500]

pytestmark = pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs the local broker's rabbitmqctl")


@dataclass(frozen=True)
class Broker:
    prefix: str
    users: dict[str, str]  # role -> user name
    urls: dict[str, str]  # role -> amqp URL with that user's credentials
    admin_url: str

    def settings(self, role: str) -> ServiceSettings:
        return ServiceSettings(prefix=self.prefix, rabbitmq_url=self.urls[role], retry_delays_ms=RETRY_DELAYS_MS)

    @property
    def names(self) -> ServiceSettings:
        return self.settings("applications")


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(["rabbitmqctl", "--quiet", *args], capture_output=True, text=True, check=True,
                          stdin=subprocess.DEVNULL).stdout  # fmt: skip


def with_credentials(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}:{parts.port or 5672}"
    return parts._replace(netloc=netloc).geturl()


def run_script(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("RABBITMQ_", "GRANTS_"))}
    return subprocess.run(["sh", str(SCRIPT)], env={**clean, **environment}, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=300)  # fmt: skip


def rules(prefix: str) -> dict[str, tuple[str, str, str]]:
    """The permissions file, as the script must have applied it: role -> (configure, write, read)."""
    found: dict[str, tuple[str, str, str]] = {}
    for line in RULES.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        role, *regexes = line.split()
        configure, write, read = (r.replace("{prefix}", prefix) for r in regexes)
        if role == "service":
            for service in SERVICES:
                found[service] = tuple(r.replace("{service}", service) for r in (configure, write, read))  # type: ignore[assignment]
        else:
            found[role] = (configure, write, read)
    return found


async def remove_objects(url: str, prefix: str) -> None:
    names = ServiceSettings(prefix=prefix, retry_delays_ms=RETRY_DELAYS_MS)
    queues = [q for s in SERVICES for q in (names.queue(s), names.dead_letter_queue(s))]
    queues += [names.retry_exchange(d) for d in RETRY_DELAYS_MS]
    queues += [f"{prefix}.integrator.{n}" for n in ("acme", "dlx-trick", "events-trick")]
    exchanges = [names.exchange, names.public_exchange, names.dead_letter_exchange, f"{prefix}.integrator.fanout"]
    exchanges += [names.retry_exchange(d) for d in RETRY_DELAYS_MS]
    connection = await aio_pika.connect(url)
    async with connection:
        for name in queues:
            channel = await connection.channel()
            await channel.queue_delete(name)
            await channel.close()
        for name in exchanges:
            channel = await connection.channel()
            await channel.exchange_delete(name)
            await channel.close()


@pytest.fixture(scope="module")
def broker() -> Iterator[Broker]:
    admin_url = infra.ensure_rabbitmq()
    prefix = f"t{uuid4().hex[:10]}"
    users = {role: f"{prefix}-{role}" for role in ROLES}
    passwords = {role: secrets.token_hex(16) for role in ROLES}
    environment = {f"RABBITMQ_{role.upper()}_PASSWORD": passwords[role] for role in ROLES}
    environment |= {"GRANTS_PREFIX": prefix, "RABBITMQ_USERNAME_PREFIX": f"{prefix}-", "RABBITMQ_GUEST": "keep"}
    try:
        result = run_script(environment)
        assert result.returncode == 0, result.stderr
        for password in passwords.values():
            assert password not in result.stdout + result.stderr, "the script printed a password"
        yield Broker(prefix, users, {r: with_credentials(admin_url, users[r], passwords[r]) for r in ROLES}, admin_url)
    finally:
        present = set(rabbitmqctl("list_users", "--no-table-headers").split())
        for user in users.values():
            if user in present:
                rabbitmqctl("delete_user", user)
        asyncio.run(remove_objects(admin_url, prefix))


async def ignore(message: object) -> None:
    return None


async def refused(url: str, action: Callable[[AbstractChannel], Awaitable[object]]) -> str:
    """Run `action` on a channel of its own; answer the broker's refusal (the test fails if it was allowed)."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused) as refusal:
            await action(channel)
            # A refused publish closes the channel after the fact: a round trip makes it show.
            await asyncio.wait_for(channel.declare_exchange("amq.topic", ExchangeType.TOPIC, passive=True), 5)
        return str(refusal.value)


# --- the script applied exactly the rules -------------------------------------------------------------


def test_each_user_has_exactly_its_roles_permissions_and_no_tags(broker: Broker) -> None:
    listed = {}
    for line in rabbitmqctl("list_permissions", "--vhost", "/", "--no-table-headers").splitlines():
        user, configure, write, read = line.split("\t")
        listed[user] = (configure, write, read)
    expected = rules(broker.prefix)
    # The administrator is made only where its password is given (docker compose), not here.
    assert set(expected) == {*ROLES, "admin"} and f"{broker.prefix}-admin" not in listed
    assert {role: listed.get(broker.users[role]) for role in ROLES} == {role: expected[role] for role in ROLES}
    tags = dict(line.split("\t") for line in rabbitmqctl("list_users", "--no-table-headers").splitlines())
    assert {tags[broker.users[role]] for role in ROLES} == {"[]"}, "no management UI for any of them"


def test_the_script_changes_nothing_before_every_password_is_given() -> None:
    prefix = f"t{uuid4().hex[:10]}"
    result = run_script({"GRANTS_PREFIX": prefix, "RABBITMQ_USERNAME_PREFIX": f"{prefix}-", "RABBITMQ_GUEST": "keep",
                         "RABBITMQ_APPLICATIONS_PASSWORD": "x", "RABBITMQ_INTEGRATOR_PASSWORD": "y"})  # fmt: skip
    assert result.returncode != 0
    assert "RABBITMQ_SCORING_PASSWORD" in result.stderr and "RABBITMQ_NOTIFICATIONS_PASSWORD" in result.stderr
    assert prefix not in rabbitmqctl("list_users", "--no-table-headers")
    # Nor without being told what to do with guest: on a shared broker it must not go by accident.
    result = run_script({"GRANTS_PREFIX": prefix})
    assert result.returncode != 0 and "RABBITMQ_GUEST" in result.stderr


# --- a service's user ------------------------------------------------------------------------------------


async def test_a_services_user_declares_publishes_consumes_and_reads_its_dead_letters(broker: Broker) -> None:
    settings = broker.settings("applications")
    queue_name = settings.queue("applications")
    connection = await aio_pika.connect(settings.rabbitmq_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        # What the consumer declares at start-up, by the services' own code.
        queue = await declare_service_queues(channel, settings, "applications", ["grants.programme.opened.v1"])
        events = await channel.get_exchange(settings.exchange)
        public = await channel.get_exchange(settings.public_exchange)
        dlx = await channel.get_exchange(settings.dead_letter_exchange)
        # The outbox relay: both exchanges (confirmed, so a refusal would raise here).
        await events.publish(Message(b"internal", message_id="e-1"), routing_key="grants.programme.opened.v1")
        await public.publish(Message(b"public"), routing_key="grants.programme.opened.v1")
        # The consumer: a retry, and a dead letter.
        for delay in RETRY_DELAYS_MS:
            retry = await channel.get_exchange(settings.retry_exchange(delay))
            await retry.publish(Message(f"retry {delay}".encode()), routing_key=queue_name)
        await dlx.publish(Message(b"dead", headers={"cloudEvents_id": "e-2"}), routing_key=queue_name)

        # The event, then each retry once it has waited out its delay (the broker moves it back).
        received = []
        async with asyncio.timeout(20), queue.iterator() as messages:
            async for message in messages:
                received.append(message.body)
                await message.ack()
                if len(received) == 3:
                    break
        assert received == [b"internal", b"retry 1000", b"retry 1500"]
        await channel.close()

    # `grants dlq`, with this service's user: list it, replay it (the default exchange, onto its queue).
    dead_letters = DeadLetterQueue(settings, "applications")
    assert [letter.event_id for letter in await dead_letters.list()] == ["e-2"]
    assert await dead_letters.replay({"e-2"}) == 1
    connection = await aio_pika.connect(settings.rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(queue_name)
        message = await queue.get(timeout=5)
        assert message.body == b"dead"
        await message.ack()
        await queue.purge()


@pytest.mark.parametrize("what", ["consume", "read its dead letters", "declare its queue", "bind its queue"])
async def test_a_services_user_cannot_touch_another_services_queues(broker: Broker, what: str) -> None:
    names = broker.names
    async with await aio_pika.connect(broker.urls["applications"]) as connection:
        channel = await connection.channel()
        await declare_service_queues(channel, broker.settings("applications"), "applications", [])
    other = names.queue("applications")

    async def action(channel: AbstractChannel) -> None:
        if what == "consume":
            await (await channel.declare_queue(other, passive=True)).consume(ignore)
        elif what == "read its dead letters":
            await (await channel.declare_queue(names.dead_letter_queue("applications"), passive=True)).get(fail=False)
        elif what == "declare its queue":
            await channel.declare_queue(other, durable=True, arguments={"x-queue-type": "quorum"})
        else:
            queue = await channel.declare_queue(other, passive=True)
            await queue.bind(names.exchange, routing_key="#")

    assert "ACCESS_REFUSED" in await refused(broker.urls["scoring"], action)


# --- the integrators' user -------------------------------------------------------------------------------


async def test_the_integrator_binds_its_own_queue_to_the_public_exchange_and_reads_the_events(broker: Broker) -> None:
    names = broker.names
    async with await aio_pika.connect(broker.urls["applications"]) as connection:
        channel = await connection.channel()
        await declare_service_queues(channel, broker.settings("applications"), "applications", [])
    integrator = await aio_pika.connect(broker.urls["integrator"])
    async with integrator:
        channel = await integrator.channel()
        queue = await channel.declare_queue(f"{names.prefix}.integrator.acme", durable=True)
        await queue.bind(names.public_exchange, routing_key="grants.application.#")

        async with await aio_pika.connect(broker.urls["applications"]) as service:
            publishing = await service.channel(publisher_confirms=True)
            public = await publishing.get_exchange(names.public_exchange)
            await public.publish(Message(b'{"title": "Peer support"}'), routing_key="grants.application.submitted.v1")

        message = await queue.get(timeout=5)
        assert message.body == b'{"title": "Peer support"}'
        await message.ack()
        # Its own fan-out exchange in front of its own queue is its business, and stays inside its names.
        fanout = await channel.declare_exchange(f"{names.prefix}.integrator.fanout", ExchangeType.FANOUT)
        await fanout.bind(names.public_exchange, routing_key="#")


INTEGRATOR_REFUSALS = {
    "bind its queue to the services' exchange":
        lambda n: lambda ch: _bind_own(ch, n, n.exchange),
    "bind its exchange to the services' exchange":
        lambda n: lambda ch: _bind_exchange(ch, n, n.exchange),
    "consume a service's queue":
        lambda n: lambda ch: _consume(ch, n.queue("applications")),
    "read a service's dead letters":
        lambda n: lambda ch: _get(ch, n.dead_letter_queue("notifications")),
    "declare a queue outside its names":
        lambda n: lambda ch: ch.declare_queue(f"{n.prefix}.scoring.events.copy"),
    "publish to the public exchange":
        lambda n: lambda ch: _publish(ch, n.public_exchange),
    "publish to the services' exchange":
        lambda n: lambda ch: _publish(ch, n.exchange),
    "publish to the default exchange":
        lambda n: lambda ch: ch.default_exchange.publish(Message(b"x"), routing_key=n.queue("applications")),
    "publish to a retry exchange":
        lambda n: lambda ch: _publish(ch, n.retry_exchange(RETRY_DELAYS_MS[0])),
    "dead-letter its own queue into the services' exchange":
        lambda n: lambda ch: ch.declare_queue(f"{n.prefix}.integrator.events-trick",
                                              arguments={"x-dead-letter-exchange": n.exchange}),
    "dead-letter its own queue into the default exchange":
        lambda n: lambda ch: ch.declare_queue(f"{n.prefix}.integrator.dlx-trick",
                                              arguments={"x-dead-letter-exchange": ""}),
}  # fmt: skip


async def _bind_own(channel: AbstractChannel, names: ServiceSettings, exchange: str) -> None:
    queue = await channel.declare_queue(f"{names.prefix}.integrator.acme", durable=True)
    await queue.bind(exchange, routing_key="#")


async def _bind_exchange(channel: AbstractChannel, names: ServiceSettings, exchange: str) -> None:
    own = await channel.declare_exchange(f"{names.prefix}.integrator.fanout", ExchangeType.FANOUT)
    await own.bind(exchange, routing_key="#")


async def _consume(channel: AbstractChannel, queue: str) -> None:
    await (await channel.declare_queue(queue, passive=True)).consume(ignore)


async def _get(channel: AbstractChannel, queue: str) -> None:
    await (await channel.declare_queue(queue, passive=True)).get(fail=False)


async def _publish(channel: AbstractChannel, exchange: str) -> None:
    target = await channel.get_exchange(exchange, ensure=False)
    await target.publish(Message(b"forged"), routing_key="grants.award.made.v1")


@pytest.mark.parametrize("what", INTEGRATOR_REFUSALS)
async def test_the_integrator_cannot_reach_the_services_data_or_publish(broker: Broker, what: str) -> None:
    async with await aio_pika.connect(broker.urls["applications"]) as connection:
        channel = await connection.channel()
        await declare_service_queues(channel, broker.settings("applications"), "applications", [])
    async with await aio_pika.connect(broker.urls["notifications"]) as connection:
        channel = await connection.channel()
        await declare_service_queues(channel, broker.settings("notifications"), "notifications", [])
    reason = await refused(broker.urls["integrator"], INTEGRATOR_REFUSALS[what](broker.names))
    assert re.search(r"ACCESS_REFUSED", reason), reason


# --- KEDA's user -----------------------------------------------------------------------------------------


async def test_keda_reads_a_queues_length_and_nothing_else(broker: Broker) -> None:
    names = broker.names
    async with await aio_pika.connect(broker.urls["applications"]) as connection:
        channel = await connection.channel(publisher_confirms=True)
        await declare_service_queues(channel, broker.settings("applications"), "applications", [])
        await channel.default_exchange.publish(Message(b"waiting"), routing_key=names.queue("applications"))
    async with await aio_pika.connect(broker.urls["keda"]) as connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(names.queue("applications"), passive=True)
        assert queue.declaration_result.message_count == 1
    assert "ACCESS_REFUSED" in await refused(broker.urls["keda"], lambda ch: _get(ch, names.queue("applications")))
    assert "ACCESS_REFUSED" in await refused(broker.urls["keda"], lambda ch: _publish(ch, names.exchange))
    async with await aio_pika.connect(broker.urls["applications"]) as connection:
        await (await (await connection.channel()).get_queue(names.queue("applications"))).purge()
