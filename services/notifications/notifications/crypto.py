"""Webhook signing secrets at rest: encrypted with Fernet (AES-128-CBC plus HMAC-SHA256).

The sender must read a secret back to sign with it, so it cannot be hashed like a password; it is
encrypted with keys of its own (``GRANTS_WEBHOOK_SECRETS_KEY``), which never sit in the database.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from notifications.config import Settings, split_keys


class SecretUnreadable(Exception):
    """The stored secret was encrypted with a key this process does not hold (or was altered)."""


class SecretsCipher:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one webhook secrets key is needed")
        # The first key encrypts; every key decrypts, so keys can be rotated without losing secrets.
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable("a webhook secret cannot be decrypted with the configured keys") from None


def cipher_for(settings: Settings) -> SecretsCipher:
    return _cipher(tuple(split_keys(settings.webhook_secrets_key)))


@lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...]) -> SecretsCipher:
    return SecretsCipher(list(keys))
