"""Background work: the payment runner, which pays what is due through the provider, never twice;
and the offer watcher, which lets offers lapse when their window closes and reminds grantees before;
and the monitoring watcher, which reminds grantees of reports before they are due and once overdue;
and the training watcher, which reminds a funded group once if it has not booked its training places.

It works the payment queue (``store.PAYMENT_QUEUE``) with ``grants_shared.worker``: each payment is
claimed, with one conditional update on what the runner read, before the provider is called, so two
replicas never take the same one. The grant's bank details are read just before the claim, so a
payment claimed after the grantee replaced them pays the new account; one claimed before goes with
the details it started with.

The provider is called outside any transaction, with a timeout, under the payment's idempotency key
(its id, or a new one per manual retry: ``domain.provider_key``). A definite answer is recorded by a
command while the claim holds; an unknown one (a timeout, an outage) leaves the claim to run out, and
the payment is taken again with the same key, which cannot pay twice: if this process died after the
provider paid but before the result was committed, the provider hands back the original transfer.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from disbursement import commands, store
from disbursement.commands import Tx
from disbursement.config import Settings
from disbursement.crypto import BankDetailsUnreadable, cipher_for
from disbursement.domain import BankAccount, PaymentStatus, can_move, payment_reference, provider_key
from disbursement.provider import PaymentDeclined, PaymentProvider, Transfer, build_provider
from disbursement.store import InvolvementPayment, Payment
from grants_shared.clock import utcnow
from grants_shared.money import Money
from grants_shared.service import Runtime
from grants_shared.unit_of_work import Database
from grants_shared.worker import Doc, LeasedWorker, Pace, every

log = logging.getLogger(__name__)

#: One provider call at a time, as the runner has always paid: a bank's API limits its callers' rate.
PAYMENTS_AT_ONCE = 1


class _ProviderRunner(LeasedWorker[BankAccount]):
    """What the two runners share: their pace, reading stored bank details, and one call to the provider
    under an idempotency key, its answer recorded while the claim holds."""

    claims_alone = True  # a claim reads the bank details and writes only the claim itself

    def __init__(self, database: Database[Settings], provider: PaymentProvider) -> None:
        settings = database.settings
        super().__init__(database, Pace(
            poll_seconds=settings.payment_poll_seconds, batch=settings.payment_batch_size,
            at_once=PAYMENTS_AT_ONCE, lease_seconds=settings.payment_sending_lease_seconds,
        ))  # fmt: skip
        self.provider = provider
        self.cipher = cipher_for(settings)
        self.provider_timeout = settings.payment_provider_timeout_seconds

    def _readable(self, stored: str | None, what: str, missing: str) -> BankAccount | None:
        if stored is None:
            log.error("%s: %s", what, missing)
            return None
        try:
            return self.cipher.decrypt(stored)
        except BankDetailsUnreadable:
            log.error("%s: bank details cannot be decrypted with the configured keys", what)
            return None

    async def _pay(
        self, what: str, key: str, amount: Money, account: BankAccount, reference: str,
        declined: Callable[[Tx, str], Awaitable[object]], sent: Callable[[Tx, Transfer], Awaitable[object]],
    ) -> bool:  # fmt: skip
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a shutdown's cancellation.
            async with asyncio.timeout(self.provider_timeout):
                transfer = await self.provider.pay(
                    idempotency_key=key, amount=amount, account=account, reference=reference
                )
        except PaymentDeclined as refusal:
            reason = account.masked_in(refusal.reason)
            await self.database.transact(lambda tx: declined(tx, reason))
            return True
        except Exception as error:
            # A timeout or an outage: the provider may or may not have paid. Leave the claim to expire
            # and try again with the same key, which cannot pay twice.
            log.warning("%s: provider outcome unknown (%s); retried after the lease", what, type(error).__name__)
            return False
        await self.database.transact(lambda tx: sent(tx, transfer))
        return True


class PaymentRunner(_ProviderRunner):
    queue = store.PAYMENT_QUEUE
    name = "payment runner"

    async def claim(self, tx: Tx, doc: Doc, claim: str) -> BankAccount | None:
        payment = Payment.from_doc(doc)
        if not can_move(payment.status, PaymentStatus.SENDING):
            return None
        grant = await store.get_grant(tx, payment.grant_id)
        account = self._readable(grant.bank_account if grant else None, f"payment {payment.id}",
                                 "its grant has no bank details")  # fmt: skip
        if account is None or not await store.claim_payment(tx, payment, claim, utcnow()):
            return None  # no usable details, or another worker took it first
        return account

    async def work(self, doc: Doc, claim: str, account: BankAccount) -> bool:
        payment = Payment.from_doc(doc)
        return await self._pay(
            f"payment {payment.id}", provider_key(payment.id, payment.retries), payment.amount, account,
            payment_reference(payment.grant_id, payment.sequence),
            declined=lambda tx, reason: commands.record_payment_declined(tx, payment, claim, reason),
            sent=lambda tx, transfer: commands.record_payment_sent(tx, payment, claim, transfer),
        )  # fmt: skip


async def pay_what_is_due(runtime: Runtime[Settings]) -> None:
    if runtime.settings.payment_provider == "bank_file":
        # Approved runs leave as bank files that finance exports; the bank's reconciliation settles them.
        log.info("payments go by bank file: the payment runner does not run")
        return
    provider = build_provider(runtime.settings, runtime.database)
    await PaymentRunner(runtime.database, provider).run()


async def close_and_remind_offers(database: Database[Settings]) -> int:
    """One round over open offers: those whose window has closed expire (freeing their reservation),
    those whose reminder is due are reminded. Each in a transaction of its own, so one bad grant does
    not hold up the rest; the commands re-read the grant, so two replicas doing this at once act once."""
    settings, now, done = database.settings, utcnow(), 0
    for field, command in (("expires_at", commands.expire_offer), ("remind_at", commands.remind_of_offer)):
        for grant in await store.offers_due(database, field, now, settings.offer_batch_size):
            done += await database.transact(lambda tx, grant_id=grant.id: command(tx, grant_id))
    return done


async def remind_of_reports(database: Database[Settings]) -> int:
    """One round over monitoring reports: reminders before they are due, notices once overdue. Each in
    a transaction of its own; the commands re-read the report, so two replicas act once."""
    settings, now, done = database.settings, utcnow(), 0
    for field, command in (("remind_at", commands.remind_of_report), ("overdue_at", commands.notice_overdue_report)):
        for report in await store.reports_due(database, field, now, settings.offer_batch_size):
            done += await database.transact(lambda tx, report_id=report.id: command(tx, report_id))
    return done


async def watch_reports(runtime: Runtime[Settings]) -> None:
    database = runtime.database
    await every(database.settings.offer_poll_seconds, lambda: remind_of_reports(database), "monitoring watcher")


async def remind_to_book_training(database: Database[Settings]) -> int:
    """One round over training offers whose reminder is due; each in a transaction of its own, and the
    command re-reads the offer, so two replicas remind once."""
    settings, now, done = database.settings, utcnow(), 0
    for training in await store.training_reminders_due(database, now, settings.offer_batch_size):
        remind = commands.remind_to_book_training
        done += await database.transact(lambda tx, training_id=training.id: remind(tx, training_id))
    return done


async def watch_training(runtime: Runtime[Settings]) -> None:
    database = runtime.database
    await every(database.settings.offer_poll_seconds, lambda: remind_to_book_training(database), "training watcher")


async def gather_payment_runs(runtime: Runtime[Settings]) -> None:
    database = runtime.database
    await every(database.settings.payment_run_gather_seconds,
                lambda: commands.gather_in_turn(database.transact), "payment run gatherer")  # fmt: skip


async def watch_offers(runtime: Runtime[Settings]) -> None:
    database = runtime.database
    await every(database.settings.offer_poll_seconds, lambda: close_and_remind_offers(database), "offer watcher")


class InvolvementPaymentRunner(_ProviderRunner):
    """Pays approved involvement claims into panel members' banks, as the payment runner pays grants:
    claimed (one conditional update) once the member's bank details are read, paid under the
    payment's id (a new one per retry) as the provider's idempotency key (a claim is paid once), the
    answer recorded while the claim holds. No payment run: the manager's approval of the claim is the approval."""

    queue = store.INVOLVEMENT_QUEUE
    name = "involvement payment runner"

    async def claim(self, tx: Tx, doc: Doc, claim: str) -> BankAccount | None:
        payment = InvolvementPayment.from_doc(doc)
        member = await store.get_involvement_member(tx, payment.member_id)
        account = self._readable(member.bank_account if member else None, f"involvement payment {payment.id}",
                                 "the member has no bank details")  # fmt: skip
        if account is None or not await store.claim_involvement_payment(tx, payment, claim, utcnow()):
            return None
        return account

    async def work(self, doc: Doc, claim: str, account: BankAccount) -> bool:
        payment = InvolvementPayment.from_doc(doc)
        return await self._pay(
            f"involvement payment {payment.id}", provider_key(payment.id, payment.retries), payment.amount,
            account,
            f"INVOLVEMENT {payment.claim_id[-12:].upper()}",
            declined=lambda tx, reason: commands.record_involvement_declined(tx, payment, claim, reason),
            sent=lambda tx, transfer: commands.record_involvement_sent(tx, payment, claim, transfer),
        )  # fmt: skip


async def pay_involvement(runtime: Runtime[Settings]) -> None:
    if runtime.settings.payment_provider == "bank_file":
        log.info("payments go by bank file: involvement payments to banks wait in their queue")
        return
    provider = build_provider(runtime.settings, runtime.database)
    await InvolvementPaymentRunner(runtime.database, provider).run()


WORKERS = (pay_what_is_due, gather_payment_runs, watch_offers, watch_reports, watch_training, pay_involvement)
