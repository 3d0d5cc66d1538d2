"""The embedded MongoDB-wire server (SecantusDB) for `make run`, the tests, the soak and the benchmarks,
started with a short transaction lifetime, as the platform's deployments set it on MongoDB, a short
interpreter switch interval (`SWITCH_INTERVAL_SECONDS`), SecantusDB 0.7.0b3's look for idle
transactions replaced by one that waits for none of them (`reap_without_waiting`), and its WiredTiger
tables' pages allowed to grow larger in memory before they must be split (`larger_pages`).

Why the lifetime: a process killed in the middle of a transaction leaves it open, and its document locks
hold until the server aborts it (60 s by default, on MongoDB too); meanwhile everything that touches
those documents meets write conflicts. With the lifetime at 10 s, the rest of the work goes on within
seconds of a crash. SecantusDB's own command line has no flag for it, hence this launcher.

Why the other two: the platform slowed down as it ran, a third benchmark run a tenth as fast as the
first, with the database's connection threads queued on its locks and its CPU low. (Its retryable-write
bookkeeping, which slows every write after about 10,000, is avoided by the URL: `infra` connects with
`retryWrites=false`.)

    python -m grants_shared.dev.embedded_mongodb --port 27017 [--storage-path :memory:]
"""

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from secantus.transactions import TransactionRegistry

#: Seconds an open transaction may live (mongod's transactionLifetimeLimitSeconds; its default is 60).
TRANSACTION_LIFETIME_SECONDS = 10.0

#: How long the server's interpreter lets one thread run before handing over to another that waits
#: (`sys.setswitchinterval`; Python's default is 0.005). Each connection has its own thread, and every
#: command takes the storage lock several times, calling into WiredTiger (which lets go of the
#: interpreter) while holding it. Under load each return from WiredTiger waited up to the whole interval
#: for the interpreter while every other command waited for the lock: the server fell into a phase of
#: 100-300 ms per command at 20% CPU. With this interval (and `reap_without_waiting`) three benchmark
#: runs in a row held in 6 of 8 measurements, against none of 5 before; it costs nothing in the raw
#: write and transaction rates. The phase still comes at times (README, "Performance").
SWITCH_INTERVAL_SECONDS = 0.0002

#: Seconds between two looks for transactions past their lifetime (mongod looks every few seconds too).
REAP_INTERVAL_SECONDS = 1.0

#: How large a page of one of the server's WiredTiger tables may grow in memory before WiredTiger
#: must split it (its ``memory_page_max``; the default is 5 MB). A page past the limit is split by
#: whichever thread next touches it, and only once no cursor holds a pointer to it; the server's
#: cursors stay positioned on the last page they read between uses, so under load the split failed
#: over and over and every thread reaching the page (a hot page, like the end of the oplog that every
#: write appends to) slept and tried again: WiredTiger's statistics counted 20,512 blocked splits and
#: 10.5 s of threads asleep in one 40-application benchmark run. That is the slow phase that stalled
#: benchmark runs (README, "Performance"). With 64 MB no page reached the limit (the largest seen was
#: 6.1 MB): at most 309 blocked splits and 0.04 s asleep a run since, and 200 applications at once
#: finished in 92 s where the best before took 124 s and two in three stalled.
MEMORY_PAGE_MAX = "64MB"


def _reap_idle_transactions_without_waiting(registry: "TransactionRegistry") -> int:
    """Abort the transactions idle past their lifetime, at most once a second, passing over any that is
    running a statement.

    SecantusDB does this on every statement, commit and abort of every transaction, holding the lock
    that all of them need, and waits on each transaction's own lock in turn; a transaction's lock is held
    while it runs a statement. So one slow statement anywhere (a write waiting for another transaction
    to finish, say) held up every transaction in the server until it ended. A transaction running a
    statement is not idle, so it is passed over; the next look comes within a second.
    """
    from secantus.transactions import TxnState

    now = registry._time()
    if now < getattr(registry, "_next_reap_at", 0.0):
        return 0
    registry._next_reap_at = now + REAP_INTERVAL_SECONDS  # type: ignore[attr-defined]
    cutoff = now - registry._lifetime
    reaped = 0
    for txn in registry._txns.values():
        if not txn.mutex.acquire(blocking=False):
            continue
        try:
            if txn.state is TxnState.IN_PROGRESS and txn.last_use < cutoff:
                registry._rollback_quietly(txn)
                txn.state = TxnState.ABORTED
                reaped += 1
        finally:
            txn.mutex.release()
    return reaped


def reap_without_waiting() -> None:
    """Install the look above in SecantusDB's transaction registry."""
    from secantus.transactions import TransactionRegistry

    TransactionRegistry._prune_locked = _reap_idle_transactions_without_waiting  # type: ignore[method-assign]


def larger_pages(size: str = MEMORY_PAGE_MAX) -> None:
    """Create every WiredTiger table the server makes from now on with ``memory_page_max`` at ``size``."""
    import wiredtiger

    create = wiredtiger.Session.create

    def create_with_larger_pages(session: "wiredtiger.Session", name: str, config: str | None = None) -> int:
        if "memory_page_max" not in (config or ""):
            config = f"{config},memory_page_max={size}" if config else f"memory_page_max={size}"
        return create(session, name, config)  # type: ignore[no-any-return]

    wiredtiger.Session.create = create_with_larger_pages  # type: ignore[method-assign]


#: The WiredTiger counters `record_statistics` keeps: pages that had to be split and could not be (a
#: cursor pointed into them), threads that waited for such a page, and the largest page seen.
WATCHED_STATISTICS = (
    "cache: hazard pointer blocked page eviction",
    "cache: forced eviction - pages selected unable to be evicted count",
    "thread-yield: page acquire eviction blocked",
    "thread-yield: page acquire time sleeping (usecs)",
    "cache: maximum page size seen at eviction",
)


def record_statistics(path: Path, every_seconds: float = 2.0) -> None:
    """Turn WiredTiger's statistics on in the server opened from now on and append the watched
    counters to ``path`` as a line of JSON every ``every_seconds`` (the benchmark prints them)."""
    import wiredtiger

    open_connection = wiredtiger.wiredtiger_open

    def open_with_statistics(home: str, config: str) -> Any:
        connection = open_connection(home, f"{config},statistics=(fast)")
        threading.Thread(target=_write_statistics, args=(connection, path, every_seconds), daemon=True).start()
        return connection

    wiredtiger.wiredtiger_open = open_with_statistics


def _write_statistics(connection: Any, path: Path, every_seconds: float) -> None:
    import wiredtiger

    session = connection.open_session()
    with path.open("a") as out:
        while True:
            time.sleep(every_seconds)
            try:
                cursor = session.open_cursor("statistics:", None, None)
            except (wiredtiger.WiredTigerError, TypeError):  # TypeError: the binding's session is gone
                return  # the server has closed its database
            counters = {}
            while cursor.next() == 0:
                description, _, value = cursor.get_value()
                if description in WATCHED_STATISTICS:
                    counters[description] = value
            cursor.close()
            out.write(json.dumps({"at": time.time(), **counters}) + "\n")
            out.flush()


def main(argv: list[str] | None = None) -> int:
    from secantus.server import SecantusDBServer

    reap_without_waiting()
    larger_pages()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--storage-path", default=":memory:")
    parser.add_argument("--cache-size", default="1G")
    parser.add_argument("--transaction-lifetime-seconds", type=float, default=TRANSACTION_LIFETIME_SECONDS)
    parser.add_argument("--switch-interval-seconds", type=float, default=SWITCH_INTERVAL_SECONDS)
    parser.add_argument("--wiredtiger-statistics", type=Path, help="append WiredTiger's watched counters here")
    args = parser.parse_args(argv)
    if args.wiredtiger_statistics:
        record_statistics(args.wiredtiger_statistics)
    sys.setswitchinterval(args.switch_interval_seconds)
    server = SecantusDBServer(
        host=args.host, port=args.port, storage_path=args.storage_path, replica_set_name="secantus",
        enable_test_commands=False, cache_size=args.cache_size,
        transaction_lifetime_seconds=args.transaction_lifetime_seconds,
    )

    def stop(signum: int, frame: object) -> None:
        server.stop()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    server.start()
    server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
