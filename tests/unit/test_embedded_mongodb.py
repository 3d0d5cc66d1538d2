"""The embedded database's launcher keeps SecantusDB's rule for transactions past their lifetime while
making its look for them wait for no transaction, and lets its tables' pages grow larger in memory
(`grants_shared.dev.embedded_mongodb`)."""

import json
import re
import threading
import time
from pathlib import Path

import wiredtiger

import pytest
from secantus import transactions
from secantus.transactions import TransactionRegistry, TxnState

from grants_shared.dev import embedded_mongodb

LIFETIME = 10.0


@pytest.fixture
def clock() -> list[float]:
    return [1_000_000.0]


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch, clock: list[float]) -> TransactionRegistry:
    monkeypatch.setattr(TransactionRegistry, "_prune_locked", TransactionRegistry._prune_locked)
    embedded_mongodb.reap_without_waiting()
    return TransactionRegistry(time_func=lambda: clock[0], lifetime_seconds=LIFETIME)


def start(registry: TransactionRegistry, session: bytes) -> transactions.Transaction:
    txn, error = registry.for_statement(session, None, 1, start=True)
    assert error is None and txn is not None
    return txn


def test_a_transaction_idle_past_its_lifetime_is_aborted_by_the_next_statement(registry: TransactionRegistry,
                                                                              clock: list[float]) -> None:
    idle = start(registry, b"idle")
    clock[0] += LIFETIME - 1
    recent = start(registry, b"recent")
    clock[0] += 2

    start(registry, b"another")

    assert idle.state is TxnState.ABORTED
    assert recent.state is TxnState.IN_PROGRESS


def test_the_look_for_idle_transactions_comes_at_most_once_a_second(registry: TransactionRegistry,
                                                                   clock: list[float]) -> None:
    idle = start(registry, b"idle")
    clock[0] += LIFETIME - 0.5
    start(registry, b"another")  # looks, finds nothing past its lifetime
    clock[0] += 0.6

    assert registry.prune_expired() == 0 and idle.state is TxnState.IN_PROGRESS
    clock[0] += embedded_mongodb.REAP_INTERVAL_SECONDS
    assert registry.prune_expired() == 1 and idle.state is TxnState.ABORTED


def test_a_transaction_running_a_statement_holds_up_no_other(registry: TransactionRegistry,
                                                            clock: list[float]) -> None:
    running = start(registry, b"running")
    clock[0] += LIFETIME + 1
    in_statement, done = threading.Event(), threading.Event()

    def run_a_long_statement() -> None:
        with running.mutex:
            in_statement.set()
            done.wait(10)

    statement = threading.Thread(target=run_a_long_statement)
    statement.start()
    in_statement.wait(5)
    other = threading.Thread(target=start, args=(registry, b"other"))
    other.start()
    other.join(5)
    finished_while_the_statement_ran = not other.is_alive()
    done.set()
    statement.join(5)

    assert finished_while_the_statement_ran
    assert running.state is TxnState.IN_PROGRESS  # passed over while busy, not aborted under it


def test_every_table_the_server_creates_lets_its_pages_grow_to_the_larger_size(monkeypatch: pytest.MonkeyPatch) -> None:
    from secantus.storage import Storage

    monkeypatch.setattr(wiredtiger.Session, "create", wiredtiger.Session.create)
    embedded_mongodb.larger_pages()
    storage = Storage(":memory:", cache_size="64M")
    try:
        storage.insert("db", "things", [{"_id": 1}])  # a collection's own table, made on its first write
        cursor = storage._conn.open_session().open_cursor("metadata:", None, None)
        sizes = {}
        while cursor.next() == 0:
            if cursor.get_key().startswith("file:"):
                found = re.search(r"memory_page_max=([^,)]+)", cursor.get_value())
                sizes[cursor.get_key()] = found and found.group(1)
    finally:
        storage.close()
    assert len(sizes) > 10 and set(sizes.values()) == {embedded_mongodb.MEMORY_PAGE_MAX}, sizes


def test_the_watched_wiredtiger_counters_are_written_while_the_server_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from secantus.storage import Storage

    monkeypatch.setattr(wiredtiger, "wiredtiger_open", wiredtiger.wiredtiger_open)
    written = tmp_path / "wiredtiger.jsonl"
    embedded_mongodb.record_statistics(written, every_seconds=0.05)
    storage = Storage(":memory:", cache_size="64M")
    try:
        storage.insert("db", "things", [{"_id": n} for n in range(100)])
        deadline = time.monotonic() + 5
        while not (written.exists() and written.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        line = json.loads(written.read_text().splitlines()[-1])
    finally:
        storage.close()
    assert set(embedded_mongodb.WATCHED_STATISTICS) <= set(line)
    assert all(isinstance(line[name], int) and line[name] >= 0 for name in embedded_mongodb.WATCHED_STATISTICS)
