"""How webhook requests are signed: Standard Webhooks (https://www.standardwebhooks.com), so an
integrator verifies them with any of its libraries (``standardwebhooks`` on PyPI, npm, NuGet...).

Every request carries::

    webhook-id: <delivery id>               the same on every retry, resend and replay: deduplicate on it
    webhook-timestamp: <unix seconds>       when this attempt was signed
    webhook-signature: v1,<base64 HMAC-SHA256(key, f"{id}.{timestamp}.{raw body}")> [v1,<...> ...]
    Content-Type: application/cloudevents+json

The key is the integrator's secret, shown to them once as ``whsec_<base64 of 32 random bytes>``.
While a rotated-out secret is still in its overlap, the request carries a second signature made
with it, separated by a space as the specification says; a receiver accepts the request when any
one of them verifies.
"""

import base64
import secrets
from collections.abc import Iterable
from datetime import datetime

from standardwebhooks.webhooks import Webhook

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
CONTENT_TYPE = "application/cloudevents+json"
USER_AGENT = "grants-webhooks/2.0"
SECRET_PREFIX = "whsec_"
#: The specification asks for between 24 and 64 bytes of key.
SECRET_BYTES = 32


def new_secret() -> str:
    """A signing secret as the integrator is shown it (and as their Standard Webhooks library takes it)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def request_headers(delivery_id: str, secrets_in_use: Iterable[str], body: bytes, now: datetime) -> dict[str, str]:
    """The headers of one attempt to deliver ``body``, signed at ``now`` (UTC) with every secret in
    use (the current one first, then a rotated-out one still in its overlap)."""
    return {
        ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(int(now.timestamp())),
        SIGNATURE_HEADER: sign(secrets_in_use, delivery_id, now, body),
        "Content-Type": CONTENT_TYPE,
        "User-Agent": USER_AGENT,
    }


def sign(secrets_in_use: Iterable[str], delivery_id: str, now: datetime, body: bytes) -> str:
    """The ``webhook-signature`` value: one ``v1,<base64>`` per secret, space-separated."""
    signatures = [Webhook(secret).sign(delivery_id, now, body.decode()) for secret in secrets_in_use]
    if not signatures:
        raise ValueError("a webhook is signed with at least one secret")
    return " ".join(signatures)
