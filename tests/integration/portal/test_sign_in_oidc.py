"""Signing in to the portal with OpenID Connect: the authorisation code flow with PKCE, against an
identity provider served here on loopback (discovery, authorise, token, JWKS), which checks the
code verifier as a real one does. The access token the portal receives is what it sends to the
services, so it must pass the services' own check."""

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from grants_shared.auth import decode_token
from grants_shared.clock import utcnow
from portal.config import Settings
from portal.main import build_app

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
AUDIENCE = "grants-api"


@dataclass
class IdentityProvider:
    url: str
    codes: dict[str, dict] = field(default_factory=dict)
    verified: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def idp() -> Iterator[IdentityProvider]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
    server = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    provider = IdentityProvider(url=f"http://127.0.0.1:{server.server_port}")

    class Handler(BaseHTTPRequestHandler):
        def _json(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            if url.path == "/.well-known/openid-configuration":
                self._json(200, {
                    "issuer": provider.url, "authorization_endpoint": f"{provider.url}/authorize",
                    "token_endpoint": f"{provider.url}/token", "jwks_uri": f"{provider.url}/jwks",
                    "response_types_supported": ["code"], "code_challenge_methods_supported": ["S256"],
                    "id_token_signing_alg_values_supported": ["RS256"], "subject_types_supported": ["public"],
                })
            elif url.path == "/jwks":
                self._json(200, {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]})
            elif url.path == "/authorize":
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                # The person signs in and consents; the provider remembers the PKCE challenge.
                code = secrets.token_urlsafe(16)
                provider.codes[code] = query
                self.send_response(302)
                self.send_header("Location", f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}")
                self.end_headers()
            else:
                self._json(404, {})

        def do_POST(self) -> None:  # noqa: N802
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}
            asked = provider.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if asked is None or asked.get("code_challenge_method") != "S256" or asked.get("code_challenge") != challenge:
                self._json(400, {"error": "invalid_grant"})
                return
            provider.verified.append(asked["client_id"])
            now = utcnow()
            claims = {"iss": provider.url, "sub": "auth0|sam", "iat": now, "exp": now + timedelta(minutes=10)}
            access = jwt.encode({**claims, "aud": AUDIENCE, "roles": ["applicant"], "organisation_ids": ["org-sam"],
                                 "name": "Sam Okafor"}, KEY, algorithm="RS256", headers={"kid": "k1"})
            identity = jwt.encode({**claims, "aud": asked["client_id"], "nonce": asked.get("nonce")}, KEY,
                                  algorithm="RS256", headers={"kid": "k1"})
            self._json(200, {"access_token": access, "id_token": identity, "token_type": "Bearer", "expires_in": 600})

        def log_message(self, *args: object) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield provider
    server.shutdown()


def portal_settings(idp: IdentityProvider) -> Settings:
    return Settings(
        environment="production", session_secret="a-production-session-secret-of-enough-length",
        public_url="http://portal.test", oidc_discovery_url=f"{idp.url}/.well-known/openid-configuration",
        oidc_client_id="grants-portal", jwt_issuer=idp.url, jwt_audience=AUDIENCE, jwks_url=f"{idp.url}/jwks",
    )


async def test_a_person_signs_in_with_the_identity_provider_using_pkce(idp: IdentityProvider) -> None:
    settings = portal_settings(idp)
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        portal = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://portal.test")
        async with portal, httpx.AsyncClient() as browser:
            started = await portal.get("/sign-in", params={"next": "/accessibility"})
            assert started.status_code == 302
            authorise = urlsplit(started.headers["location"])
            asked = parse_qs(authorise.query)
            assert authorise.netloc == urlsplit(idp.url).netloc
            assert asked["code_challenge_method"] == ["S256"] and asked["code_challenge"][0]
            assert asked["redirect_uri"] == ["http://portal.test/sign-in/callback"]

            back = await browser.get(started.headers["location"])  # the person signs in at the provider
            callback = urlsplit(back.headers["location"])
            done = await portal.get(f"{callback.path}?{callback.query}")
            assert done.status_code == 303 and done.headers["location"] == "/accessibility"
            assert idp.verified == ["grants-portal"]  # the code was exchanged with the right verifier

            page = await portal.get("/accessibility")
            assert "Sam Okafor" in page.text and "Sign out" in page.text
            cookie = done.headers["set-cookie"].lower()
            assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie


async def test_a_callback_with_a_code_the_provider_never_issued_signs_nobody_in(idp: IdentityProvider) -> None:
    app = build_app(portal_settings(idp))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://portal.test") as portal:
            await portal.get("/sign-in")
            refused = await portal.get("/sign-in/callback", params={"code": "forged", "state": "forged"})
            assert refused.status_code == 400
            assert "Sign out" not in (await portal.get("/accessibility")).text


def test_production_refuses_the_development_session_secret_or_no_identity_provider() -> None:
    with pytest.raises(ValueError, match="GRANTS_SESSION_SECRET"):
        Settings(environment="production", oidc_discovery_url="https://idp.example/.well-known/openid-configuration",
                 oidc_client_id="x")
    with pytest.raises(ValueError, match="OIDC"):
        Settings(environment="production", session_secret="a-production-session-secret-of-enough-length")


def test_the_access_token_from_the_provider_is_one_the_services_accept(idp: IdentityProvider) -> None:
    settings = portal_settings(idp)
    now = utcnow()
    token = jwt.encode({"iss": idp.url, "aud": AUDIENCE, "sub": "auth0|sam", "exp": now + timedelta(minutes=5),
                        "roles": ["applicant"]}, KEY, algorithm="RS256", headers={"kid": "k1"})
    assert decode_token(settings, token).subject == "auth0|sam"
