"""Where webhooks may go: public addresses only, so a subscription cannot make the platform call its
own network (the broker's management API, a cloud's metadata service, a database's HTTP port) and
read back in the delivery audit what answered there.

A target is checked when it is subscribed (an IP address in the URL, or a name that resolves to a
refused address, is refused with a 422) and again at every attempt: the name is resolved, every
address it resolves to must be allowed, and the request goes to the address that was checked (the
URL's host stays in the Host header and, for https, in the TLS server name and certificate check),
so a name that resolves elsewhere a moment later (DNS rebinding) changes nothing.

``GRANTS_WEBHOOK_ALLOWED_TARGETS`` names hosts and networks let through all the same (the
development stack's and the tests' receivers on 127.0.0.1).
"""

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Shared address space for carrier-grade NAT (RFC 6598): not "private" to the ipaddress module.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
#: IPv4 addresses translated into IPv6 (NAT64, RFC 6052): they reach the IPv4 address they end with.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
SUBSCRIBE_RESOLVE_SECONDS = 5.0


class TargetRefused(Exception):
    """The endpoint is, or resolves to, an address webhooks may not go to. The message names the
    reason, never what answered there (nothing was asked)."""


@dataclass(frozen=True)
class Allowed:
    """What the allow-list setting names: host names (lower case) and networks."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def of(cls, targets: Iterable[str]) -> "Allowed":
        hosts: set[str] = set()
        networks: list[Network] = []
        for target in targets:
            target = target.strip()
            try:
                networks.append(ipaddress.ip_network(target, strict=False))
            except ValueError:
                if target:
                    hosts.add(target.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def names(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def covers(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


def refusal(address: IPAddress) -> str | None:
    """Why webhooks may not go to ``address``, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            # ::ffff:127.0.0.1 and friends reach the IPv4 address they carry.
            return refusal(embedded)
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "a shared (carrier-grade NAT) address"
    if address.is_private or address.is_reserved or not address.is_global:
        return "a private or reserved address"
    return None


def check_address(host: str, address: IPAddress, allowed: Allowed) -> None:
    """Raise TargetRefused unless ``address`` (what ``host`` resolved to) may be sent to."""
    if allowed.names(host) or allowed.covers(address):
        return
    reason = refusal(address)
    if reason:
        shown = host if host == str(address) else f"{host} ({address})"
        raise TargetRefused(f"webhooks may only go to public addresses: {shown} is {reason}")


def literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""


def check_literal(url: str, allowed: Allowed) -> None:
    """At subscribe time, without DNS: an IP address in the URL must be allowed."""
    host = host_of(url)
    address = literal(host)
    if address is not None:
        check_address(host, address, allowed)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP address resolves to itself)."""
    address = literal(host)
    if address is not None:
        return [address]
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    # The fourth field's first item is the address text; an IPv6 one may carry a zone (%eth0).
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos))


@dataclass(frozen=True)
class Destination:
    """Where one attempt connects: the URL with the checked address in place of the name, the Host
    header to send and, for https, the name the TLS certificate must carry."""

    url: str
    host_header: str
    tls_server_name: str | None


async def checked_destination(url: str, allowed: Allowed) -> Destination:
    """Resolve the URL's host, check every address it resolves to, and aim at the first.

    Raises TargetRefused, or OSError (socket.gaierror) when the name does not resolve."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = await resolve(host, port)
    if not addresses:
        raise OSError(f"{host} resolves to no address")
    for address in addresses:
        # Every one: a client (or a retry) could pick any of them.
        check_address(host, address, allowed)
    chosen = addresses[0]
    shown = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    netloc = f"{shown}:{parts.port}" if parts.port else shown
    host_header = parts.netloc.rsplit("@", 1)[-1]
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    return Destination(pinned, host_header, host if parts.scheme == "https" and literal(host) is None else None)


async def check_subscribable(url: str, allowed: Allowed) -> None:
    """At subscribe time: an IP address in the URL is checked as it is; a name that resolves is
    checked against what it resolves to. A name that does not resolve yet is accepted (every attempt
    checks again)."""
    check_literal(url, allowed)
    host = host_of(url)
    if literal(host) is not None or allowed.names(host):
        return
    parts = urlsplit(url)
    try:
        # A slow resolver does not hold the admin's request up for long: every attempt checks again.
        async with asyncio.timeout(SUBSCRIBE_RESOLVE_SECONDS):
            addresses = await resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
    except (OSError, TimeoutError):
        return
    for address in addresses:
        check_address(host, address, allowed)
