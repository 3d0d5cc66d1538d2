"""Production tokens: keys from the identity provider's JWKS URL (served here on loopback)."""

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from grants_shared.auth import Role, decode_token, mint_token
from grants_shared.clock import utcnow
from grants_shared.errors import Unauthorized
from grants_shared.settings import ServiceSettings

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "idp-key-1", "use": "sig", "alg": "RS256"}]}).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Keys)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()


def idp_token(settings: ServiceSettings, key: rsa.RSAPrivateKey, kid: str = "idp-key-1", **claims: object) -> str:
    now = utcnow()
    payload = {"iss": settings.jwt_issuer, "aud": settings.jwt_audience, "sub": "auth0|maya", "iat": now,
               "exp": now + timedelta(minutes=5), "roles": ["programme_manager"], **claims}
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


def test_a_token_signed_by_the_identity_provider_is_accepted(jwks_url: str) -> None:
    settings = ServiceSettings(jwks_url=jwks_url, jwt_issuer="https://idp.example/", jwt_audience="grants-api")
    caller = decode_token(settings, idp_token(settings, KEY))
    assert caller.subject == "auth0|maya" and caller.roles == {Role.PROGRAMME_MANAGER}


def test_a_token_signed_by_another_key_or_with_the_dev_secret_is_refused(jwks_url: str) -> None:
    settings = ServiceSettings(jwks_url=jwks_url)
    with pytest.raises(Unauthorized):
        decode_token(settings, idp_token(settings, OTHER_KEY))
    with pytest.raises(Unauthorized):
        decode_token(settings, idp_token(settings, KEY, kid="unknown-key"))
    # With an identity provider configured, the development secret no longer mints valid tokens.
    with pytest.raises(Unauthorized):
        decode_token(settings, mint_token(settings, "mallory", ["admin"]))
