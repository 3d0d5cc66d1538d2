"""`make run`: the whole platform on this machine, with Ctrl-C stopping everything it started."""

import os
import signal
import sys
import threading
from pathlib import Path

from grants_shared.dev import infra
from grants_shared.dev.journey import load_demo_programme
from grants_shared.dev.smtp_sink import start_sink
from grants_shared.dev.stack import PORTS, local_stack

RUN_DIR = Path(".run")
SMTP_PORT = int(os.environ.get("GRANTS_SMTP_PORT", "1025"))


def main() -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        rabbitmq_url = infra.ensure_rabbitmq()
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    busy = [f"{name} ({port})" for name, port in PORTS.items() if infra.port_open("127.0.0.1", port)]
    if busy or infra.port_open("127.0.0.1", SMTP_PORT):
        print(f"error: ports already in use: {', '.join(busy) or SMTP_PORT}; is `make run` already up?", file=sys.stderr)
        return 2
    sink = start_sink(RUN_DIR / "mail", SMTP_PORT)
    try:
        with infra.mongodb(log_file=RUN_DIR / "mongodb.log") as mongodb_url:
            print(f"MongoDB: {mongodb_url.split('?')[0]}   RabbitMQ: {rabbitmq_url.rsplit('@', 1)[-1]}")
            env = {"GRANTS_SMTP_HOST": "127.0.0.1", "GRANTS_SMTP_PORT": str(SMTP_PORT)}
            with local_stack(mongodb_url, rabbitmq_url, RUN_DIR / "logs", env=env) as stack:
                programme = load_demo_programme(stack.urls)
                print(f"\nDemo programme loaded: {programme['name']} ({programme['id']})\n")
                for name, url in stack.urls.items():
                    print(f"  {name:<14} {url}   API docs: {url}/docs")
                print(f"  {'smtp sink':<14} 127.0.0.1:{SMTP_PORT}   mail kept in {RUN_DIR / 'mail'}")
                print(f"  {'logs':<14} {stack.log_dir}/")
                print("\nMint a token:  .venv/bin/grants token --sub alice --role programme_manager")
                print("Run the demo:  make demo        Stop: Ctrl-C\n", flush=True)
                stop.wait()
    except KeyboardInterrupt:
        pass
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        sink.stop()
        print("stopped.")
    return 0
