"""Webhook signing secrets at rest.

The sender must read a secret back to sign with it, so it cannot be hashed like a password; it is
encrypted with keys of its own (``GRANTS_WEBHOOK_SECRETS_KEY``), which never sit in the database.
"""

from collections.abc import Sequence

from grants_shared.encryption import KeyRing, Unreadable, split_keys
from notifications.config import Settings


class SecretUnreadable(Unreadable):
    """The stored secret was encrypted with a key this process does not hold (or was altered)."""


class SecretsCipher:
    def __init__(self, keys: Sequence[str]) -> None:
        self._keys = KeyRing(keys)

    def encrypt(self, secret: str) -> str:
        return self._keys.encrypt(secret.encode())

    def decrypt(self, token: str) -> str:
        try:
            return self._keys.decrypt(token).decode()
        except Unreadable:
            raise SecretUnreadable("a webhook secret cannot be decrypted with the configured keys") from None


def cipher_for(settings: Settings) -> SecretsCipher:
    return SecretsCipher(split_keys(settings.webhook_secrets_key))
