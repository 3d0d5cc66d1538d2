"""`make run` (the `grants run` command) as a developer uses it: it starts everything, and one Ctrl-C
stops everything it started within 5 seconds."""

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

import pytest

from grants_shared.dev.infra import port_open
from grants_shared.dev.stack import PORTS
from grants_shared.settings import ServiceSettings
from tests.support.bus import delete_topology

pytestmark = pytest.mark.e2e

STOP_WITHIN_SECONDS = 5


def free_offset() -> int:
    for _ in range(50):
        offset = random.randrange(20_000, 40_000, 10)
        if not any(port_open("127.0.0.1", port + offset) for port in [*PORTS.values(), 1025]):
            return offset
    raise RuntimeError("no free block of ports")


def restore_sigint() -> None:
    # A process started in the background of a non-interactive shell inherits SIGINT ignored; a
    # terminal's Ctrl-C reaches a process that has the default handler.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_one_ctrl_c_stops_the_whole_platform_within_five_seconds(tmp_path: Path) -> None:
    offset = free_offset()
    bus = ServiceSettings(prefix=f"r{uuid4().hex[:10]}")
    env = {**os.environ, "GRANTS_RUN_PORT_OFFSET": str(offset), "GRANTS_RUN_DIR": str(tmp_path / "run"),
           "GRANTS_PREFIX": bus.prefix, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "grants_shared.cli", "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True, preexec_fn=restore_sigint,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 120
        assert process.stdout is not None
        while not any("Stop: Ctrl-C" in line for line in output):
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                pytest.fail("grants run exited before it was up:\n" + "".join(output))
            output.append(line)
            assert time.monotonic() < deadline, "grants run was not up within 120 s:\n" + "".join(output)
        text = "".join(output)
        database_port = int(re.search(r"MongoDB: mongodb://127\.0\.0\.1:(\d+)", text).group(1))  # type: ignore[union-attr]
        ports = [port + offset for port in PORTS.values()] + [1025 + offset, database_port]
        assert all(port_open("127.0.0.1", port) for port in ports)

        started = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)  # what the terminal does on Ctrl-C: the whole foreground group
        rest, _ = process.communicate(timeout=STOP_WITHIN_SECONDS)
        while any(port_open("127.0.0.1", port) for port in ports):
            assert time.monotonic() - started < STOP_WITHIN_SECONDS, f"still listening: {ports}"
            time.sleep(0.05)
        took = time.monotonic() - started
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        asyncio.run(delete_topology(bus))
    assert process.returncode == 0, text + rest
    print(f"stopped in {took:.2f}s")
    assert took < STOP_WITHIN_SECONDS
    assert rest.rstrip().endswith("stopped.")
    assert "cancelling again" not in rest
