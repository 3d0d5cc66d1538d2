"""Bank details at rest: encrypted with Fernet (AES-128-CBC plus HMAC-SHA256), keys from settings."""

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from disbursement.config import Settings
from disbursement.domain import BankAccount


class BankDetailsUnreadable(Exception):
    """The stored details were encrypted with a key this process does not hold (or were altered)."""


class BankDetailsCipher:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one bank details key is needed")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def encrypt(self, account: BankAccount) -> str:
        plain = {"account_name": account.account_name, "sort_code": account.sort_code,
                 "account_number": account.account_number}
        return self._fernet.encrypt(json.dumps(plain).encode()).decode()

    def decrypt(self, token: str) -> BankAccount:
        try:
            return BankAccount(**json.loads(self._fernet.decrypt(token.encode())))
        except InvalidToken:
            raise BankDetailsUnreadable("bank details cannot be decrypted with the configured keys") from None


def cipher_for(settings: Settings) -> BankDetailsCipher:
    return _cipher(settings.bank_details_key.get_secret_value())


@lru_cache(maxsize=4)
def _cipher(keys: str) -> BankDetailsCipher:
    return BankDetailsCipher([k.strip() for k in keys.split(",") if k.strip()])
