"""What every API response and request goes through before the routes see it.

- **Security headers** on every response: ``nosniff``; a content security policy that lets nothing
  load and no page frame the API (the documentation page gets one that lets it run its own local
  scripts); no referrer; ``Cache-Control: no-store`` unless a route set its own caching (answers hold
  personal data, and a shared cache must not keep them); HSTS when the request came over TLS.
- **A request body limit**: a declared ``Content-Length`` above it is refused before anything is
  read, a streamed body as soon as it passes it; either way a 413 problem, and nothing is handled.
"""

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from grants_shared.errors import PROBLEM_JSON

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
#: The Swagger UI page runs its own bundled script and an inline start-up script; nothing else.
DOCS_POLICY = ("default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")  # fmt: skip
DOCS_PREFIX = "/docs"


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class Hardening:
    def __init__(self, app: ASGIApp, max_body_bytes: int, hsts_seconds: int = 31_536_000) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.hsts_seconds = hsts_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(send)
            return
        policy = DOCS_POLICY if scope["path"].startswith(DOCS_PREFIX) else API_POLICY
        over_tls = scope.get("scheme") == "https"
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # Raised where the route reads its body: an HTTP error, so it answers 413.
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                         (b"content-security-policy", policy.encode())]  # fmt: skip
                if b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-store"))
                if over_tls:
                    extra.append((b"strict-transport-security", f"max-age={self.hsts_seconds}".encode()))
                message["headers"] = [*message.get("headers", []), *[(k, v) for k, v in extra if k not in present]]
            await send(message)

        await self.app(scope, limited_receive, send_with_headers)

    async def _too_large(self, send: Send) -> None:
        body = json.dumps({"type": "about:blank", "title": "Request body too large", "status": 413,
                           "detail": f"the request body is larger than {self.max_body_bytes} bytes"}).encode()  # fmt: skip
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode()),
            (b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store"), (b"connection", b"close")]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})
