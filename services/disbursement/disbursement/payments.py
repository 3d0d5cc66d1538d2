"""The payment runner: pays what is due, through the provider, never twice.

Each payment is claimed with a conditional update before the provider is called, so two replicas
never take the same one. The provider call uses the payment's idempotency key (its id, or a new one
per manual retry: ``domain.provider_key``), so if this process dies after the provider paid but before
the result was committed, the claim's lease runs out, the payment is taken again and the provider
hands back the original transfer.

The bank details are read from the grant in the claim's own transaction, so a claim made after the
grantee replaced them pays the new account; a payment claimed before goes with the details it started with.
"""

import asyncio
import logging
from datetime import timedelta
from typing import cast
from uuid import uuid4

from disbursement import store
from disbursement.config import Settings
from disbursement.crypto import BankDetailsCipher, BankDetailsUnreadable, cipher_for
from disbursement.domain import BankAccount, after_decline, payment_reference, provider_key
from disbursement.provider import PaymentDeclined, PaymentProvider, Transfer, build_provider
from grants_shared.clock import utcnow
from grants_shared.events import PaymentFailed, PaymentSent
from grants_shared.money import Money
from grants_shared.service import Runtime
from grants_shared.unit_of_work import Database, Transaction

log = logging.getLogger(__name__)

Doc = dict


async def payment_runner(runtime: Runtime) -> None:
    settings = cast(Settings, runtime.settings)
    runner = PaymentRunner(runtime.database, build_provider(settings, runtime.db), cipher_for(settings), settings)
    while True:
        await runner.pay_due()
        await asyncio.sleep(settings.payment_poll_seconds)


def _stop_if_cancelled() -> None:
    """PyMongo 4.20 on Python 3.11 can swallow a cancellation that lands while it opens a connection
    (its asyncio.wait_for around sock_connect, CPython gh-86296): without this the runner would go
    on paying after shutdown asked it to stop, and shutdown would wait for it for ever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class PaymentRunner:
    def __init__(
        self, database: Database, provider: PaymentProvider, cipher: BankDetailsCipher, settings: Settings
    ) -> None:
        self.database = database
        self.provider = provider
        self.cipher = cipher
        self.settings = settings

    async def pay_due(self) -> int:
        """Attempt every payment due now; return how many were attempted."""
        lease = timedelta(seconds=self.settings.payment_sending_lease_seconds)
        due = await store.due_payments(self.database.db, utcnow(), lease, self.settings.payment_batch_size)
        attempted = 0
        for payment in due:
            _stop_if_cancelled()
            try:
                attempted += await self.pay(payment)
            except Exception as error:
                # Its type only: a message could carry details we must never log.
                log.error("payment %s: %s; it will be tried again", payment["_id"], type(error).__name__)
        _stop_if_cancelled()
        return attempted

    async def pay(self, payment: Doc) -> bool:
        claim_id = uuid4().hex

        async def claim(tx: Transaction) -> BankAccount | None:
            account = await self._bank_account(tx, payment)
            if account is None or not await store.claim_payment(tx, payment, claim_id, utcnow()):
                return None  # no usable details, or another worker took it first
            return account

        account = await self.database.transact(claim)
        if account is None:
            return False

        amount = Money(**payment["amount"])
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a shutdown's cancellation.
            async with asyncio.timeout(self.settings.payment_provider_timeout_seconds):
                transfer = await self.provider.pay(
                    idempotency_key=provider_key(payment["_id"], payment.get("retries", 0)),
                    amount=amount, account=account,
                    reference=payment_reference(payment["grant_id"], payment["sequence"]),
                )
        except PaymentDeclined as declined:
            reason = account.masked_in(declined.reason)
            await self.database.transact(lambda tx: self._declined(tx, payment, claim_id, reason))
            return True
        except Exception as error:
            # A timeout or an outage: the provider may or may not have paid. Leave the claim to expire
            # and try again with the same key, which cannot pay twice.
            log.warning("payment %s: provider outcome unknown (%s); retried after the lease", payment["_id"],
                        type(error).__name__)
            return True
        await self.database.transact(lambda tx: self._sent(tx, payment, claim_id, transfer))
        return True

    async def _bank_account(self, tx: Transaction, payment: Doc) -> BankAccount | None:
        grant = await store.get_grant(tx.db, payment["grant_id"], tx.session)
        if grant is None or "bank_account" not in grant:
            log.error("payment %s: its grant has no bank details", payment["_id"])
            return None
        try:
            return self.cipher.decrypt(grant["bank_account"])
        except BankDetailsUnreadable:
            log.error("payment %s: bank details cannot be decrypted with the configured keys", payment["_id"])
            return None

    async def _sent(self, tx: Transaction, payment: Doc, claim_id: str, transfer: Transfer) -> None:
        sent_at = utcnow()
        changes = {"provider_reference": transfer.provider_reference, "sent_at": sent_at, "next_attempt_at": None}
        if not await store.finish_claim(tx, payment["_id"], claim_id, "sent", changes):
            return  # our claim expired and another worker finished it (same transfer, same key)
        amount = Money(**payment["amount"])
        if not await store.move_reserved_to_paid(tx, payment["programme_id"], amount):
            raise RuntimeError(f"ledger of {payment['programme_id']} has less reserved than payment {payment['_id']}")
        await store.record_payment_on_grant(tx, payment["grant_id"], sent_at)
        await tx.emit(PaymentSent(
            payment_id=payment["_id"], grant_id=payment["grant_id"], application_id=payment["application_id"],
            amount=amount, provider_reference=transfer.provider_reference, sent_at=sent_at,
        ))

    async def _declined(self, tx: Transaction, payment: Doc, claim_id: str, reason: str) -> None:
        s = self.settings
        outcome = after_decline(payment["attempts"], utcnow(), s.payment_max_attempts,
                                s.payment_retry_backoff_seconds, s.payment_retry_backoff_max_seconds,
                                payment.get("attempts_before_retry", 0))
        reason = (reason.strip() or "declined by the payment provider")[:200]
        changes = {"attempts": outcome.attempt, "next_attempt_at": outcome.next_attempt_at,
                   "last_failure_reason": reason}
        if not await store.finish_claim(tx, payment["_id"], claim_id, outcome.status, changes):
            return
        log.warning("payment %s declined (attempt %d): %s", payment["_id"], outcome.attempt, reason)
        await tx.emit(PaymentFailed(
            payment_id=payment["_id"], grant_id=payment["grant_id"], application_id=payment["application_id"],
            reason=reason, attempt=outcome.attempt, will_retry=outcome.will_retry,
        ))
