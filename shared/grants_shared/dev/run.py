"""`make run`: the whole platform on this machine, with Ctrl-C stopping everything it started.

Stopping goes in the reverse order of starting: the services (all at once, a short grace each),
then the database, then the SMTP sink, so nothing waits on something already gone.

``GRANTS_RUN_PORT_OFFSET`` moves every port (services and SMTP sink) by that much and
``GRANTS_RUN_DIR`` moves logs and mail, so a test can run a second platform beside a developer's.
``GRANTS_RUN_DATABASE_CACHE`` sizes the embedded database's cache (default 4G: what a programme of
100,000 applications needs, as ``tests/bench/applications_search.py`` and ``scoring_lists.py`` load
it; the cache grows to that size only as it is used).
"""

import json
import os
import signal
import sys
import threading
from pathlib import Path

from grants_shared.dev import infra
from grants_shared.dev.journey import load_demo_programme
from grants_shared.dev.smtp_sink import start_sink
from grants_shared.dev.stack import PORTS, local_stack


def main() -> int:
    offset = int(os.environ.get("GRANTS_RUN_PORT_OFFSET", "0"))
    run_dir = Path(os.environ.get("GRANTS_RUN_DIR", ".run"))
    ports = {name: port + offset for name, port in PORTS.items()}
    smtp_port = int(os.environ.get("GRANTS_SMTP_PORT", "1025")) + offset

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        rabbitmq_url = infra.ensure_rabbitmq()
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    busy = [f"{name} ({port})" for name, port in ports.items() if infra.port_open("127.0.0.1", port)]
    if busy or infra.port_open("127.0.0.1", smtp_port):
        print(f"error: ports already in use: {', '.join(busy) or smtp_port}; is `make run` already up?", file=sys.stderr)
        return 2
    sink = start_sink(run_dir / "mail", smtp_port)
    try:
        cache_size = os.environ.get("GRANTS_RUN_DATABASE_CACHE", "4G")
        with infra.mongodb(log_file=run_dir / "mongodb.log", cache_size=cache_size) as mongodb_url:
            print(f"MongoDB: {mongodb_url.split('?')[0]}   RabbitMQ: {rabbitmq_url.rsplit('@', 1)[-1]}")
            # Webhooks may go to a receiver on this machine (a developer's test endpoint): only here.
            env = {"GRANTS_SMTP_HOST": "127.0.0.1", "GRANTS_SMTP_PORT": str(smtp_port),
                   "GRANTS_WEBHOOK_ALLOWED_TARGETS": json.dumps(["127.0.0.1", "::1", "localhost"])}
            with local_stack(mongodb_url, rabbitmq_url, run_dir / "logs", ports=ports, env=env) as stack:
                programme = load_demo_programme(stack.urls)
                print(f"\nThe portal:    {stack.urls['portal']}   (sign in as anyone in the demo programme)\n")
                print(f"Demo programme loaded: {programme['name']} ({programme['id']})\n")
                for name, url in stack.urls.items():
                    if name != "portal":
                        print(f"  {name:<14} {url}   API docs: {url}/docs")
                print(f"  {'smtp sink':<14} 127.0.0.1:{smtp_port}   mail kept in {run_dir / 'mail'}")
                print(f"  {'logs':<14} {stack.log_dir}/")
                print("\nMint a token:  .venv/bin/grants token --sub alice --role programme_manager")
                print("Run the demo:  make demo        Stop: Ctrl-C\n", flush=True)
                stop.wait()
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        sink.stop()
    print("stopped.", flush=True)
    return 0
