"""Start the four services as separate processes (uvicorn each), as `make run` and the end-to-end test do."""

import contextlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PORTS = {"applications": 8001, "scoring": 8002, "disbursement": 8003, "notifications": 8004}


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
    base_env = {
        **os.environ,
        "GRANTS_MONGODB_URL": mongodb_url,
        "GRANTS_RABBITMQ_URL": rabbitmq_url,
        **(env or {}),
    }
    processes: list[tuple[str, subprocess.Popen, Path]] = []
    try:
        for service, port in ports.items():
            log = log_dir / f"{service}.log"
            process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", f"{service}.main:app", "--host", "127.0.0.1", "--port", str(port)],
                env=base_env, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
            )
            processes.append((service, process, log))
        urls = {service: f"http://127.0.0.1:{port}" for service, port in ports.items()}
        for service, process, log in processes:
            wait_ready(urls[service], 60, process, log)
        yield Stack(urls=urls, log_dir=log_dir)
    finally:
        for _, process, _ in processes:
            process.terminate()
        for _, process, _ in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
