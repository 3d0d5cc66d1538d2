"""`make demo`: while `make run` is up, drive one grant from submission to payment and notifications."""

import sys

import httpx

from grants_shared.dev.journey import Journey, JourneyFailed
from grants_shared.dev.stack import PORTS


def main() -> int:
    urls = {service: f"http://127.0.0.1:{port}" for service, port in PORTS.items()}
    for service, url in urls.items():
        try:
            httpx.get(f"{url}/readyz", timeout=2).raise_for_status()
        except httpx.HTTPError:
            print(f"error: {service} is not ready at {url}; start the platform with `make run` first", file=sys.stderr)
            return 2
    try:
        Journey(urls).run()
    except JourneyFailed as error:
        print(f"demo failed: {error}", file=sys.stderr)
        return 1
    return 0
