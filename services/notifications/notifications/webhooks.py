"""How webhook requests are signed and how an integrator checks them (Stripe-style).

Every request carries::

    Grants-Webhook-Id: <delivery id>        the same on every retry of one delivery: deduplicate on it
    Grants-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{raw body}")>
    Content-Type: application/cloudevents+json

The timestamp is signed with the body, so a captured request cannot be replayed later than the
receiver's tolerance. Only the standard library is used: integrators may copy this file as it is.
"""

import hashlib
import hmac
import time
from datetime import datetime

ID_HEADER = "Grants-Webhook-Id"
SIGNATURE_HEADER = "Grants-Signature"
CONTENT_TYPE = "application/cloudevents+json"
USER_AGENT = "grants-webhooks/1.0"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


def request_headers(delivery_id: str, secret: str, body: bytes, now: datetime) -> dict[str, str]:
    """The headers of one attempt to deliver ``body``, signed at ``now``."""
    return {
        ID_HEADER: delivery_id,
        SIGNATURE_HEADER: sign(secret, int(now.timestamp()), body),
        "Content-Type": CONTENT_TYPE,
        "User-Agent": USER_AGENT,
    }


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Grants-Signature`` header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},{SCHEME}={_digest(secret, timestamp, body)}"


def verify(
    secret: str, header: str | None, body: bytes, tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True if ``header`` signs exactly these raw ``body`` bytes with ``secret`` and its timestamp is
    within ``tolerance_seconds`` of ``now`` (unix seconds; the clock when not given).

    Pass the body exactly as received: a parsed and re-serialised body will not match.
    Never raises on a malformed header; it simply does not verify."""
    parsed = _parse(header or "")
    if parsed is None:
        return False
    timestamp, signatures = parsed
    if now is None:
        now = time.time()
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = _digest(secret, timestamp, body)
    # compare_digest takes the same time whatever matches, so the signature cannot be guessed byte by byte.
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _parse(header: str) -> tuple[int, list[str]] | None:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == SCHEME and value and value.isascii():  # compare_digest refuses non-ASCII text
            signatures.append(value)
    if timestamp is None or not signatures:
        return None
    return timestamp, signatures
