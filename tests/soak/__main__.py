"""`make soak`: the soak at full size (SOAK_APPLICATIONS=200, a kill every SOAK_KILL_EVERY=10 seconds).

Exits 1 unless nothing was lost, doubled or left behind."""

import asyncio
import os
import signal
import sys
import time

from tests.soak.soak import soak


def main() -> int:
    applications = int(os.environ.get("SOAK_APPLICATIONS", "200"))
    every = float(os.environ.get("SOAK_KILL_EVERY", "10"))
    started = time.monotonic()
    # A SIGTERM (timeout, CI) stops the soak like a Ctrl-C: its services, database and broker node go too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    figures = asyncio.run(soak(applications=applications, kill_every=every))
    print(figures.report())
    print(f"  (the whole run, with start-up and checks: {time.monotonic() - started:.0f}s)")
    return 0 if figures.clean and figures.paid == applications else 1


if __name__ == "__main__":
    sys.exit(main())
