"""Disbursement's pure rules: the state machines, schedules, the ledger, declines, masking and encryption
of bank details."""

from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.fernet import Fernet

from disbursement.crypto import BankDetailsCipher, BankDetailsUnreadable
from disbursement.domain import (
    GRANT_TRANSITIONS,
    PAYMENT_TRANSITIONS,
    BankAccount,
    GrantStatus,
    HeldReason,
    PaymentStatus,
    after_decline,
    can_move,
    can_move_grant,
    grant_statuses_moving_to,
    due_date,
    manual_retry,
    mask_account_number,
    mask_sort_code,
    normalise_sort_code,
    payment_reference,
    payment_schedule,
    provider_key,
    split_by_basis_points,
    start_of_day,
    why_held,
)
from grants_shared.events import PaymentPolicy, Tranche
from grants_shared.money import Money


def gbp(pence: int) -> Money:
    return Money(amount=pence, currency="GBP")


def tranches(*parts: tuple[int, int]) -> PaymentPolicy:
    return PaymentPolicy(kind="tranches", tranches=[Tranche(share_bps=s, due_after_days=d) for s, d in parts])


# --- the state machines --------------------------------------------------------------------------


def test_every_status_has_its_moves() -> None:
    assert set(GRANT_TRANSITIONS) == set(GrantStatus)
    assert set(PAYMENT_TRANSITIONS) == set(PaymentStatus)
    assert [s.value for s in GrantStatus] == ["held", "offered", "accepted", "paid", "declined", "expired", "cancelled"]
    assert [r.value for r in HeldReason] == ["budget", "currency"]


def test_a_grant_is_offered_accepted_then_paid_and_a_held_one_can_only_be_offered() -> None:
    moves = {(a, b) for a in GrantStatus for b in GrantStatus if can_move_grant(a, b)}
    assert moves == {(GrantStatus.OFFERED, GrantStatus.ACCEPTED), (GrantStatus.ACCEPTED, GrantStatus.PAID),
                     (GrantStatus.OFFERED, GrantStatus.DECLINED), (GrantStatus.OFFERED, GrantStatus.EXPIRED),
                     (GrantStatus.HELD, GrantStatus.OFFERED), (GrantStatus.ACCEPTED, GrantStatus.CANCELLED)}
    assert not can_move_grant(GrantStatus.HELD, GrantStatus.ACCEPTED)  # released, it is offered first
    assert not can_move_grant(GrantStatus.ACCEPTED, GrantStatus.ACCEPTED)  # new bank details are an edit
    # What the last payment's conditional update may move to paid: exactly the statuses above.
    assert grant_statuses_moving_to(GrantStatus.PAID) == {GrantStatus.ACCEPTED}
    assert grant_statuses_moving_to(GrantStatus.OFFERED) == {GrantStatus.HELD}


def test_an_award_in_the_budget_s_currency_is_not_held_for_it() -> None:
    assert why_held(gbp(1_000_000), gbp(5_000)) is None
    assert why_held(gbp(1_000_000), Money(amount=5_000, currency="EUR")) is HeldReason.CURRENCY
    # Whether the money is still there is the reservation's to find out, in one conditional update.
    assert why_held(gbp(1_000), gbp(5_000)) is None


# --- schedules -----------------------------------------------------------------------------------


def test_a_single_payment_is_the_whole_award_due_on_acceptance() -> None:
    [only] = payment_schedule(gbp(500_000), PaymentPolicy(kind="single"))
    assert (only.sequence, only.amount, only.due_after_days) == (1, gbp(500_000), 0)


def test_tranches_split_by_basis_points_in_order() -> None:
    schedule = payment_schedule(gbp(1_000_000), tranches((6_000, 0), (3_000, 90), (1_000, 180)))
    assert [s.amount.amount for s in schedule] == [600_000, 300_000, 100_000]
    assert [s.due_after_days for s in schedule] == [0, 90, 180]
    assert [s.sequence for s in schedule] == [1, 2, 3]
    assert {s.amount.currency for s in schedule} == {"GBP"}


def test_the_rounding_remainder_goes_to_the_last_tranche() -> None:
    schedule = payment_schedule(gbp(100_001), tranches((3_333, 0), (3_333, 30), (3_334, 60)))
    # 100001 * 0.3333 = 33330.33 -> 33330 twice; the last takes what is left.
    assert [s.amount.amount for s in schedule] == [33_330, 33_330, 33_341]


@pytest.mark.parametrize("award", [1_000, 99_999, 123_457, 7_777_777, 10_000_000_001])
@pytest.mark.parametrize("shares", [[5_000, 5_000], [3_333, 3_333, 3_334], [1, 9_999], [2_500] * 4, [700] * 11 + [2_300]])
def test_tranches_always_add_up_to_the_award_exactly(award: int, shares: list[int]) -> None:
    schedule = payment_schedule(gbp(award), tranches(*[(s, n) for n, s in enumerate(shares)]))
    assert sum(s.amount.amount for s in schedule) == award
    assert all(s.amount.amount > 0 for s in schedule)


def test_a_tranche_that_rounds_to_nothing_is_left_out_and_the_rest_still_sum() -> None:
    schedule = payment_schedule(gbp(5), tranches((100, 0), (9_900, 30)))
    assert [(s.sequence, s.amount.amount, s.due_after_days) for s in schedule] == [(1, 5, 30)]


def test_an_award_of_nothing_has_no_schedule() -> None:
    with pytest.raises(ValueError, match="more than zero"):
        payment_schedule(gbp(0), PaymentPolicy())


@pytest.mark.parametrize("shares", [[], [5_000, 4_999], [10_001, -1], [0, 10_000]])
def test_splitting_needs_positive_shares_of_exactly_100_percent(shares: list[int]) -> None:
    with pytest.raises(ValueError):
        split_by_basis_points(1_000, shares)


def test_due_dates_count_days_from_the_acceptance_date_in_utc() -> None:
    late_evening = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    assert due_date(late_evening, 0) == date(2026, 3, 31)
    assert due_date(late_evening, 1) == date(2026, 4, 1)
    assert due_date(late_evening, 365) == date(2027, 3, 31)
    assert start_of_day(date(2026, 4, 1)) == datetime(2026, 4, 1, tzinfo=UTC)


def test_the_payment_reference_fits_a_bacs_reference() -> None:
    reference = payment_reference("3f2a9c1e-0000-4000-8000-000000000000", 2)
    assert reference == "GRANT-3F2A9C1E-2"
    assert len(payment_reference("x" * 64, 12)) <= 18


# --- payments ------------------------------------------------------------------------------------


def test_the_payment_state_machine() -> None:
    assert can_move("scheduled", "approved") and can_move("approved", "sending") and can_move("retrying", "sending")
    assert not can_move("scheduled", "sending")  # never sent before its run is approved
    assert can_move("sending", "sent") and can_move("sending", "retrying") and can_move("sending", "failed")
    assert not can_move("scheduled", "sent")  # never paid without a claim
    assert not any(can_move("sent", s) for s in ("scheduled", "approved", "sending", "retrying", "sent", "failed", "held"))
    assert not can_move("failed", "sending")
    assert can_move("sending", "sending")  # a claim taken again after its lease ran out


def test_a_decline_retries_with_doubling_back_off_until_the_last_attempt() -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    first = after_decline(0, now, max_attempts=5, backoff_seconds=60, backoff_cap_seconds=3_600)
    third = after_decline(2, now, max_attempts=5, backoff_seconds=60, backoff_cap_seconds=3_600)
    assert (first.attempt, first.status, first.will_retry) == (1, "retrying", True)
    assert first.status is PaymentStatus.RETRYING
    assert first.next_attempt_at == now + timedelta(seconds=60)
    assert third.next_attempt_at == now + timedelta(seconds=240)
    capped = after_decline(3, now, max_attempts=10, backoff_seconds=60, backoff_cap_seconds=300)
    assert capped.next_attempt_at == now + timedelta(seconds=300)
    last = after_decline(4, now, max_attempts=5, backoff_seconds=60, backoff_cap_seconds=3_600)
    assert (last.attempt, last.status, last.will_retry, last.next_attempt_at) == (5, "failed", False, None)


def test_only_a_failed_payment_can_be_put_back_in_the_queue() -> None:
    assert can_move("failed", "scheduled")
    assert [s for s in ("scheduled", "retrying", "sending", "sent") if can_move(s, "scheduled")] == []
    assert not can_move("failed", "sending") and not can_move("failed", "sent")


def test_a_manual_retry_is_due_now_keeps_the_attempts_and_counts_itself() -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    first = manual_retry("failed", attempts=5, retries=0, now=now)
    assert (first.retries, first.attempts_before_retry, first.due_at) == (1, 5, now)
    assert manual_retry("failed", attempts=10, retries=1, now=now).retries == 2
    for status in ("scheduled", "retrying", "sending", "sent"):
        with pytest.raises(ValueError, match="only a failed one"):
            manual_retry(status, attempts=1, retries=0, now=now)


def test_after_a_manual_retry_the_attempt_budget_and_back_off_start_again() -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    rules = {"max_attempts": 3, "backoff_seconds": 60, "backoff_cap_seconds": 3_600}
    assert after_decline(3, now, **rules).status == "failed"  # without the retry: over budget
    first = after_decline(3, now, **rules, attempts_before_retry=3)
    assert (first.attempt, first.status, first.next_attempt_at) == (4, "retrying", now + timedelta(seconds=60))
    assert after_decline(4, now, **rules, attempts_before_retry=3).next_attempt_at == now + timedelta(seconds=120)
    last = after_decline(5, now, **rules, attempts_before_retry=3)
    assert (last.attempt, last.status, last.will_retry) == (6, "failed", False)


def test_each_attempt_series_has_its_own_provider_key() -> None:
    assert provider_key("pay-1", 0) == "pay-1"  # the first series: the payment's id, as always
    keys = [provider_key("pay-1", n) for n in range(4)]
    assert keys == ["pay-1", "pay-1:r1", "pay-1:r2", "pay-1:r3"]
    assert provider_key("pay-2", 1) != provider_key("pay-1", 1)


# --- bank details --------------------------------------------------------------------------------


def test_bank_details_are_masked_to_their_last_digits() -> None:
    assert mask_account_number("12345678") == "****5678"
    assert mask_sort_code("12-34-56") == "**-**-56"
    assert mask_sort_code("654321") == "**-**-21"
    account = BankAccount("Hope Street Group", "12-34-56", "12345678")
    assert account.sort_code == "123456"
    assert account.masked() == {"account_name": "Hope Street Group", "sort_code": "**-**-56",
                                "account_number": "****5678"}


def test_a_bank_account_never_prints_its_details() -> None:
    account = BankAccount("Hope Street Group", "123456", "12345678")
    for text in (repr(account), str(account), f"{account}", repr([account])):
        assert "12345678" not in text and "123456" not in text and "Hope Street" not in text
        assert "****5678" in text


def test_text_that_quotes_an_account_back_is_masked() -> None:
    account = BankAccount("Hope Street Group", "20-00-00", "55779911")
    said = "Account 55779911, sort code 20-00-00 / 20 00 00 / 200000, is closed"
    assert account.masked_in(said) == "Account ****9911, sort code **-**-00 / **-**-00 / **-**-00, is closed"
    assert account.masked_in("the receiving bank rejected the account") == "the receiving bank rejected the account"


@pytest.mark.parametrize(("sort_code", "account_number"), [("12-34-5", "12345678"), ("1234567", "12345678"),
                                                           ("12-34-56", "1234567"), ("ab-cd-ef", "12345678")])
def test_malformed_bank_details_are_refused(sort_code: str, account_number: str) -> None:
    with pytest.raises(ValueError):
        BankAccount("Name", sort_code, account_number)


def test_normalised_sort_codes_are_six_digits() -> None:
    assert normalise_sort_code("01-02-03") == "010203"
    with pytest.raises(ValueError):
        normalise_sort_code("٠١٢٣٤٥")  # digits, but not ASCII ones


def test_bank_details_round_trip_through_encryption_and_the_token_reveals_nothing() -> None:
    cipher = BankDetailsCipher([Fernet.generate_key().decode()])
    account = BankAccount("Hope Street Group", "12-34-56", "12345678")
    token = cipher.encrypt(account)
    assert "12345678" not in token and "Hope" not in token
    assert cipher.decrypt(token) == account


def test_an_old_key_still_decrypts_after_rotation_but_a_foreign_key_does_not() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = BankDetailsCipher([old]).encrypt(BankAccount("A", "123456", "87654321"))
    assert BankDetailsCipher([new, old]).decrypt(token).account_number == "87654321"
    with pytest.raises(BankDetailsUnreadable):
        BankDetailsCipher([new]).decrypt(token)
