"""A RabbitMQ node of the soak's own, on ports of its own, so that restarting it touches no other user
of the machine's broker (infrastructure notes: its own node name, ports, folders, no plugins, and a
configuration of its own so the shared node's is not read)."""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from uuid import uuid4

from grants_shared.dev.infra import free_port, port_open


class OwnBroker:
    def __init__(self) -> None:
        self.node = f"soak-{uuid4().hex[:8]}@localhost"
        self.port, self.dist_port = free_port(), free_port()
        self.home = Path(tempfile.mkdtemp(prefix="grants-soak-rabbitmq-"))
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        (self.home / "enabled_plugins").write_text("[].\n")
        (self.home / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        (self.home / "rabbitmq-env.conf").write_text("ERL_EPMD_ADDRESS=127.0.0.1\n")
        for folder in ("mnesia", "log"):
            (self.home / folder).mkdir()
        if os.geteuid() == 0:
            # Debian's wrapper runs the node as the rabbitmq user when started as root.
            shutil.chown(self.home, "rabbitmq", "rabbitmq")
            for path in self.home.rglob("*"):
                shutil.chown(path, "rabbitmq", "rabbitmq")

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.home / "log"),
            "RABBITMQ_PID_FILE": str(self.home / "rabbitmq.pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.home / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.home / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(self.home / "rabbitmq-env.conf"),
        }

    def start(self, wait: float = 90) -> None:
        subprocess.run(["rabbitmq-server", "-detached"], env=self.env, check=True, capture_output=True)
        deadline = time.monotonic() + wait
        while not port_open("127.0.0.1", self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the soak's RabbitMQ node did not start; see {self.home / 'log'}")
            time.sleep(0.2)

    def stop(self) -> None:
        subprocess.run(["rabbitmqctl", "-n", self.node, "stop"], env=self.env, capture_output=True, timeout=60)
        deadline = time.monotonic() + 30
        while port_open("127.0.0.1", self.port) and time.monotonic() < deadline:
            time.sleep(0.2)

    def restart(self) -> float:
        """Stop and start again; how long it was away, in seconds."""
        started = time.monotonic()
        self.stop()
        self.start()
        return time.monotonic() - started

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)
