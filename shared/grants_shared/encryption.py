"""Secrets at rest (bank details, webhook signing secrets): Fernet (AES-128-CBC plus HMAC-SHA256).

A setting holds comma-separated Fernet keys (`grants new-key` makes one): the first encrypts and
every one decrypts, so a key is rotated by putting a new one first and keeping the old one until
what it encrypted has been encrypted again.
"""

from collections.abc import Sequence
from typing import Annotated

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import AfterValidator, SecretStr


class Unreadable(Exception):
    """Encrypted with a key this process does not hold, or altered since."""


def split_keys(setting: SecretStr) -> list[str]:
    return [key.strip() for key in setting.get_secret_value().split(",") if key.strip()]


def _valid_keys(setting: SecretStr) -> SecretStr:
    keys = split_keys(setting)
    if not keys:
        raise ValueError("needs at least one Fernet key")
    for key in keys:
        try:
            Fernet(key.encode())
        except ValueError:
            # The value itself is never echoed back: it would land in logs.
            raise ValueError("holds a value that is not a Fernet key (make one with `grants new-key`)") from None
    return setting


#: A settings field of comma-separated Fernet keys, checked when the settings load.
FernetKeys = Annotated[SecretStr, AfterValidator(_valid_keys)]


class KeyRing:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def encrypt(self, plain: bytes) -> str:
        return self._fernet.encrypt(plain).decode()

    def decrypt(self, token: str) -> bytes:
        try:
            return self._fernet.decrypt(token.encode())
        except InvalidToken:
            raise Unreadable("cannot be decrypted with the configured keys") from None
