"""The embedded MongoDB-wire server (SecantusDB) for `make run`, the tests and the soak, started with a
short transaction lifetime, as the platform's deployments set it on MongoDB.

Why: a process killed in the middle of a transaction leaves it open, and its document locks hold until
the server aborts it (60 s by default, on MongoDB too); meanwhile everything that touches those
documents meets write conflicts. With the lifetime at 10 s, the rest of the work goes on within
seconds of a crash. SecantusDB's own command line has no flag for it, hence this launcher.

    python -m grants_shared.dev.embedded_mongodb --port 27017 [--storage-path :memory:]
"""

import argparse
import signal
import sys

#: Seconds an open transaction may live (mongod's transactionLifetimeLimitSeconds; its default is 60).
TRANSACTION_LIFETIME_SECONDS = 10.0


def main(argv: list[str] | None = None) -> int:
    from secantus.server import SecantusDBServer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--storage-path", default=":memory:")
    parser.add_argument("--cache-size", default="1G")
    parser.add_argument("--transaction-lifetime-seconds", type=float, default=TRANSACTION_LIFETIME_SECONDS)
    args = parser.parse_args(argv)
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
