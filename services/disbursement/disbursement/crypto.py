"""Bank details at rest: one encrypted token holding name, sort code and account number."""

import json
from collections.abc import Sequence

from disbursement.config import Settings
from disbursement.domain import BankAccount
from grants_shared.encryption import KeyRing, Unreadable, split_keys


class BankDetailsUnreadable(Unreadable):
    """The stored details were encrypted with a key this process does not hold (or were altered)."""


class BankDetailsCipher:
    def __init__(self, keys: Sequence[str]) -> None:
        self._keys = KeyRing(keys)

    def encrypt(self, account: BankAccount) -> str:
        plain = {"account_name": account.account_name, "sort_code": account.sort_code,
                 "account_number": account.account_number}
        return self._keys.encrypt(json.dumps(plain).encode())

    def decrypt(self, token: str) -> BankAccount:
        try:
            return BankAccount(**json.loads(self._keys.decrypt(token)))
        except Unreadable:
            raise BankDetailsUnreadable("bank details cannot be decrypted with the configured keys") from None


def cipher_for(settings: Settings) -> BankDetailsCipher:
    return BankDetailsCipher(split_keys(settings.bank_details_key))
