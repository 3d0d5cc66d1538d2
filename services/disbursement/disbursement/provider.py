"""The payment provider adapter: the one place that moves money.

A provider must be idempotent by key: paying again with a key it has seen pay returns the original
transfer and moves no money. Disbursement uses the payment's id as the key, so a payment retried
after a crash (provider paid, our commit lost) is never paid twice. A provider may also remember a
decline under its key (many real ones do); that is why a failed payment that finance retries gets
a new key (``domain.provider_key``): safe, because a key that had paid would have returned its
transfer rather than a decline. The simulated provider judges every call afresh.

To plug in a real provider (a bank's or a payment bureau's API), write a class with the same
``pay`` method that sends the key in the provider's idempotency header, maps its definite "declined"
answers (closed account, invalid details, limits) to :class:`PaymentDeclined` and lets anything else
(timeouts, 5xx, "a request with this key is still in progress") raise: the outcome is then unknown
and the payment is retried later with the same key. Add its name to ``Settings.payment_provider``
and a branch to :func:`build_provider`.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import uuid4

from pymongo.errors import DuplicateKeyError

from disbursement import store
from disbursement.config import Settings
from disbursement.domain import BankAccount, mask_account_number, mask_sort_code
from disbursement.store import MaskedPayee, SimulatedTransfer
from grants_shared.clock import utcnow
from grants_shared.money import Money
from grants_shared.unit_of_work import Db

__all__ = ["BankAccount", "PaymentDeclined", "PaymentProvider", "SimulatedProvider", "Transfer", "build_provider"]


class PaymentDeclined(Exception):
    """The provider refused the payment. ``reason`` is shown to the grantee and put on the bus; an
    adapter should keep bank details out of it, and the runner masks the account's numbers in it anyway."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Transfer:
    provider_reference: str
    amount: Money
    created_at: datetime


class PaymentProvider(Protocol):
    async def pay(self, *, idempotency_key: str, amount: Money, account: BankAccount, reference: str) -> Transfer:
        ...


class SimulatedProvider:
    """Behaves like a real provider, with its own records: collections only it touches, written
    outside the service's transactions (as a real provider's are outside the service's database).

    Failure injection: accounts in ``decline_accounts`` are always declined; the first
    ``fail_first_attempts`` attempts of every idempotency key are declined as temporarily unavailable.
    """

    def __init__(self, database: Db, decline_accounts: Iterable[str] = (), fail_first_attempts: int = 0) -> None:
        self.database = database
        self.decline_accounts = frozenset(decline_accounts)
        self.fail_first_attempts = fail_first_attempts

    async def pay(self, *, idempotency_key: str, amount: Money, account: BankAccount, reference: str) -> Transfer:
        original = await store.simulated_transfer(self.database, idempotency_key)
        if original:
            return _transfer(original)
        if account.account_number in self.decline_accounts:
            raise PaymentDeclined("the receiving bank rejected the account")
        if self.fail_first_attempts:
            attempts = await store.count_simulated_attempt(self.database, idempotency_key)
            if attempts <= self.fail_first_attempts:
                raise PaymentDeclined("the payment service is temporarily unavailable")
        record = SimulatedTransfer(
            id=idempotency_key, provider_reference=f"SIM-{uuid4().hex[:16].upper()}", amount=amount,
            reference=reference, created_at=utcnow(),
            payee=MaskedPayee(sort_code=mask_sort_code(account.sort_code),
                              account_number=mask_account_number(account.account_number)),
        )  # fmt: skip
        try:
            await store.record_simulated_transfer(self.database, record)
        except DuplicateKeyError:
            # The same key arrived twice at once: the first one to be recorded is the transfer.
            first = await store.simulated_transfer(self.database, idempotency_key)
            assert first is not None
            return _transfer(first)
        return _transfer(record)


def _transfer(record: SimulatedTransfer) -> Transfer:
    return Transfer(provider_reference=record.provider_reference, amount=record.amount, created_at=record.created_at)


def build_provider(settings: Settings, database: Db) -> PaymentProvider:
    if settings.payment_provider == "simulated":
        return SimulatedProvider(database, settings.simulated_decline_accounts, settings.simulated_fail_first_attempts)
    raise ValueError(f"unknown payment provider {settings.payment_provider!r}")
