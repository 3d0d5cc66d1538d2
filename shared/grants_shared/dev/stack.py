"""Start the services as separate processes (uvicorn each), as `make run` and the end-to-end test do.

Each child runs in a session of its own, so a Ctrl-C in the terminal reaches only `grants run`, which
then stops the services first (SIGTERM to all at once, SIGKILL for any still running after a short
grace) and the database after them: a service that outlived its database would wait for it.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: The portal first: it is what people open.
PORTS = {"portal": 8000, "applications": 8001, "scoring": 8002, "disbursement": 8003, "notifications": 8004}
SERVICES = ("applications", "scoring", "disbursement", "notifications")


@dataclass
class Stack:
    urls: dict[str, str]
    log_dir: Path


def wait_ready(url: str, seconds: float, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}; see {log}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} was not ready within {seconds:.0f}s; see {log}")


@contextlib.contextmanager
def local_stack(
    mongodb_url: str,
    rabbitmq_url: str,
    log_dir: Path,
    ports: dict[str, int] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    ports = ports or PORTS
    log_dir.mkdir(parents=True, exist_ok=True)
    urls = {service: f"http://127.0.0.1:{port}" for service, port in ports.items()}
    base_env = {
        **os.environ,
        "GRANTS_MONGODB_URL": mongodb_url,
        "GRANTS_RABBITMQ_URL": rabbitmq_url,
        # The portal calls the services' public APIs; the services' messages link to the portal.
        **{f"GRANTS_{service.upper()}_URL": url for service, url in urls.items() if service in SERVICES},
        **({"GRANTS_PORTAL_URL": urls["portal"], "GRANTS_PUBLIC_URL": urls["portal"]} if "portal" in urls else {}),
        # Emails' one-click unsubscribe links reach notifications itself.
        **({"GRANTS_UNSUBSCRIBE_BASE_URL": urls["notifications"]} if "notifications" in urls else {}),
        **(env or {}),
    }
    processes: list[tuple[str, subprocess.Popen, Path]] = []
    try:
        for service, port in ports.items():
            log = log_dir / f"{service}.log"
            process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", f"{service}.main:app", "--host", "127.0.0.1", "--port", str(port),
                 "--timeout-graceful-shutdown", str(GRACE_SECONDS)],
                env=base_env, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True,
            )
            processes.append((service, process, log))
        for service, process, log in processes:
            wait_ready(urls[service], 60, process, log)
        yield Stack(urls=urls, log_dir=log_dir)
    finally:
        stop_all([process for _, process, _ in processes])


#: How long a service may take to stop once asked (requests in flight, its loops, its connections).
GRACE_SECONDS = 2


def stop_all(processes: list[subprocess.Popen], grace: float = GRACE_SECONDS + 1) -> None:
    """SIGTERM every process at once, wait for them together, SIGKILL what is left after ``grace``."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
