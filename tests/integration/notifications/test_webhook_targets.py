"""A webhook request is aimed at the address that was checked, not at whatever the name resolves to a
moment later, over real sockets: plain HTTP keeps the URL's host in the Host header, and HTTPS keeps
it as the TLS server name and the name the certificate is checked against (a local HTTPS server with
a certificate for "localhost", reached at the address "localhost" resolved to)."""

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from notifications import webhook_targets
from notifications.domain import AttemptFailed
from notifications.workers import post


def certificate_for(name: str, directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))  # fmt: skip
    return cert_path, key_path


async def first_address_of_localhost() -> str:
    """Where a request to "localhost" is aimed (the first address it resolves to, 127.0.0.1 or ::1)."""
    return str((await webhook_targets.resolve("localhost", 0))[0])


class Endpoint:
    """Answers 204 and keeps the Host header and the TLS server name of each request."""

    def __init__(self) -> None:
        self.hosts: list[str] = []
        self.server_names: list[str | None] = []
        self.port = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
        await reader.readexactly(int(headers.get("content-length", "0")))
        self.hosts.append(headers.get("host", ""))
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


@pytest.fixture
async def https_endpoint(tmp_path: Path) -> AsyncIterator[tuple[Endpoint, Path]]:
    cert, key = certificate_for("localhost", tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    endpoint = Endpoint()

    def server_name(sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
        endpoint.server_names.append(name)

    context.sni_callback = server_name  # type: ignore[assignment]
    server = await asyncio.start_server(endpoint.serve, await first_address_of_localhost(), 0, ssl=context)
    endpoint.port = server.sockets[0].getsockname()[1]
    yield endpoint, cert
    server.close()
    await server.wait_closed()


async def test_https_goes_to_the_checked_address_with_the_urls_name_for_tls_and_the_certificate(
    https_endpoint: tuple[Endpoint, Path],
) -> None:
    endpoint, cert = https_endpoint
    url = f"https://localhost:{endpoint.port}/hooks"
    destination = await webhook_targets.checked_destination(url, webhook_targets.Allowed.of(["localhost"]))
    assert webhook_targets.literal(httpx.URL(destination.url).host) is not None  # the resolved address
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(cert)), timeout=5) as client:
        assert await post(client, destination, b"{}", {"Content-Type": "application/json"}) == 204
        assert endpoint.server_names == ["localhost"] and endpoint.hosts == [f"localhost:{endpoint.port}"]

        # The certificate is checked against the URL's name: one for another name is refused.
        wrong = webhook_targets.Destination(destination.url, f"crm.example.org:{endpoint.port}", "crm.example.org")
        with pytest.raises(AttemptFailed, match="(?i)certificate|hostname"):
            await post(client, wrong, b"{}", {})


async def test_plain_http_goes_to_the_checked_address_with_the_urls_host_header() -> None:
    endpoint = Endpoint()
    server = await asyncio.start_server(endpoint.serve, await first_address_of_localhost(), 0)
    endpoint.port = server.sockets[0].getsockname()[1]
    try:
        url = f"http://localhost:{endpoint.port}/hooks"
        destination = await webhook_targets.checked_destination(url, webhook_targets.Allowed.of(["localhost"]))
        assert destination.tls_server_name is None
        async with httpx.AsyncClient(timeout=5) as client:
            assert await post(client, destination, b"{}", {}) == 204
        assert endpoint.hosts == [f"localhost:{endpoint.port}"]
        with pytest.raises(webhook_targets.TargetRefused, match="loopback"):
            await webhook_targets.checked_destination(url, webhook_targets.Allowed())  # not allowed: nothing sent
        assert len(endpoint.hosts) == 1
    finally:
        server.close()
        await server.wait_closed()
