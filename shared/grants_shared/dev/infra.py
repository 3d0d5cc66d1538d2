"""Local infrastructure for `make run` and the tests.

MongoDB, in order of preference: ``MONGODB_URL`` if set; a Docker MongoDB (single-node replica set,
through testcontainers) when a Docker engine answers; else the embedded MongoDB-wire server
SecantusDB, started as a child process. RabbitMQ: ``RABBITMQ_URL`` (default the local broker),
started with ``rabbitmq-server -detached`` when it is installed but not running.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

DEFAULT_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not port_open(host, port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start listening on {host}:{port} within {seconds:.0f}s")
        time.sleep(0.1)


def docker_reachable() -> bool:
    """Connect to the Docker socket first: docker.from_env().ping() leaks a socket when no daemon runs."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    parsed = urlparse(host)
    try:
        if parsed.scheme == "unix":
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(0.5)
                s.connect(parsed.path)
            return True
        if parsed.scheme == "tcp" and parsed.hostname:
            return port_open(parsed.hostname, parsed.port or 2375)
    except OSError:
        return False
    return False


@contextlib.contextmanager
def mongodb(storage_path: str = ":memory:", log_file: Path | None = None, cache_size: str = "1G") -> Iterator[str]:
    """Yield a MongoDB URL that supports transactions, starting a server when none is configured."""
    url = os.environ.get("MONGODB_URL")
    if url:
        yield url
        return
    if docker_reachable():
        from testcontainers.community.mongodb import MongoDBAtlasLocalContainer

        with MongoDBAtlasLocalContainer() as container:
            yield container.get_connection_url()
        return
    with embedded_mongodb(storage_path, log_file, cache_size) as url:
        yield url


@contextlib.contextmanager
def embedded_mongodb(storage_path: str = ":memory:", log_file: Path | None = None,
                     cache_size: str = "1G") -> Iterator[str]:
    with embedded_mongodb_process(storage_path, log_file, cache_size) as (url, _):
        yield url


@contextlib.contextmanager
def embedded_mongodb_process(storage_path: str = ":memory:", log_file: Path | None = None,
                             cache_size: str = "1G", statistics_file: Path | None = None) -> Iterator[tuple[str, int]]:
    """The embedded server's URL and process id (the benchmarks read its CPU time); with
    ``statistics_file``, it appends WiredTiger's watched counters there (``embedded_mongodb``)."""
    port = free_port()
    log = open(log_file, "ab") if log_file else tempfile.TemporaryFile()
    statistics = ["--wiredtiger-statistics", str(statistics_file)] if statistics_file else []
    process = subprocess.Popen(
        [sys.executable, "-m", "grants_shared.dev.embedded_mongodb", "--port", str(port), "--storage-path", storage_path,
         "--cache-size", cache_size, *statistics],
        stdout=log, stderr=subprocess.STDOUT,
        # Its own session: a Ctrl-C meant for `make run` must not stop the database under the services.
        start_new_session=True,
    )
    try:
        wait_for_port("127.0.0.1", port, 30, "the embedded MongoDB-wire server (SecantusDB)")
        # retryWrites=false: its retryable-write bookkeeping slows every write after ~10,000 writes.
        yield f"mongodb://127.0.0.1:{port}/?directConnection=true&retryWrites=false", process.pid
    finally:
        process.terminate()
        try:
            process.wait(3)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def rabbitmq_url() -> str:
    return os.environ.get("RABBITMQ_URL", DEFAULT_RABBITMQ_URL)


def ensure_rabbitmq(url: str | None = None) -> str:
    """Make sure a broker answers at ``url``; start the local one if it is installed but stopped."""
    url = url or rabbitmq_url()
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 5672
    if port_open(host, port):
        return url
    if host not in ("127.0.0.1", "localhost") or not shutil.which("rabbitmq-server"):
        raise RuntimeError(
            f"RabbitMQ is not reachable at {host}:{port} and no local rabbitmq-server is installed. "
            "Install it (apt-get install rabbitmq-server), start it, or set RABBITMQ_URL."
        )
    print("starting the local RabbitMQ (rabbitmq-server -detached)...", file=sys.stderr)
    subprocess.run(["rabbitmq-server", "-detached"], check=False)
    wait_for_port(host, port, 90, "RabbitMQ")
    return url
