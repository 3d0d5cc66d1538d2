"""The signed one-click unsubscribe link of every email that can be turned off (RFC 8058).

Its token names the person and the kind of email, encrypted and authenticated (Fernet) under keys
derived for this purpose alone from ``GRANTS_WEBHOOK_SECRETS_KEY`` (HKDF with its own label, so a
token is never a webhook secret's ciphertext, and a key rotated there rotates here too). It needs no
sign-in: whoever holds the email may turn that email off, and nothing else. The person's id is not
readable in the link.
"""

import base64
import json
from email.message import EmailMessage

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from grants_shared.encryption import split_keys
from notifications.config import Settings

_LABEL = b"grants notifications one-click unsubscribe v1"
#: A token older than this is still honoured: people unsubscribe from old emails too.
ONE_CLICK = "List-Unsubscribe=One-Click"


class BadToken(Exception):
    """Not a token this service made (altered, or made with keys it no longer holds)."""


def _fernet(settings: Settings) -> MultiFernet:
    derived = []
    for key in split_keys(settings.webhook_secrets_key):
        raw = base64.urlsafe_b64decode(key.encode())
        okm = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(raw)
        derived.append(Fernet(base64.urlsafe_b64encode(okm)))
    return MultiFernet(derived)


def token(settings: Settings, person_id: str, kind: str) -> str:
    return _fernet(settings).encrypt(json.dumps({"p": person_id, "k": kind}).encode()).decode()


def read(settings: Settings, value: str) -> tuple[str, str]:
    """The (person id, kind) a token names; BadToken when it is not one of ours."""
    try:
        fields = json.loads(_fernet(settings).decrypt(value.encode()))
        return str(fields["p"]), str(fields["k"])
    except (InvalidToken, ValueError, KeyError, TypeError):
        raise BadToken("this unsubscribe link is not valid") from None


def link(settings: Settings, person_id: str, kind: str) -> str:
    return f"{settings.unsubscribe_base_url.rstrip('/')}/v1/unsubscribe/{token(settings, person_id, kind)}"


def add_headers(message: EmailMessage, settings: Settings, person_id: str, kind: str) -> None:
    """RFC 8058: the link a mail client POSTs ``List-Unsubscribe=One-Click`` to, with no sign-in."""
    message["List-Unsubscribe"] = f"<{link(settings, person_id, kind)}>"
    message["List-Unsubscribe-Post"] = ONE_CLICK
