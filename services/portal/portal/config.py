"""The portal's settings (environment variables with the prefix ``GRANTS_``, like every service).

The portal shares the services' token settings (issuer, audience, JWKS URL or development secret):
it checks the tokens it is given the way the services do. In production it signs people in with
OpenID Connect; in development a "sign in as" page mints development tokens for the demo personas.
"""

from typing import Annotated

from fastapi import Depends, Request
from pydantic import Field, SecretStr

from grants_shared.forms import MAX_FILE_BYTES
from grants_shared.settings import ServiceSettings

#: Development only: anyone can read it here, so production must set GRANTS_SESSION_SECRET.
DEV_SESSION_SECRET = "dev-only-portal-session-secret-change-me-in-production"


class Settings(ServiceSettings):
    # The four services' public HTTP APIs: the portal calls nothing else.
    applications_url: str = "http://127.0.0.1:8001"
    scoring_url: str = "http://127.0.0.1:8002"
    disbursement_url: str = "http://127.0.0.1:8003"
    notifications_url: str = "http://127.0.0.1:8004"
    api_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    #: Room for the largest file a programme's form may accept, passed on to applications.
    max_request_bytes: int = Field(default=MAX_FILE_BYTES + 65_536, ge=1_024)

    #: Where people reach the portal (links in emails point here too); OpenID Connect redirects back to it.
    public_url: str = Field(default="http://localhost:8000", max_length=200)
    session_secret: SecretStr = SecretStr(DEV_SESSION_SECRET)
    session_max_age_seconds: int = Field(default=8 * 3600, ge=300, le=7 * 86_400)

    # Who runs the programme, for the header, the footer and the page titles.
    service_name: str = Field(default="Community grants", min_length=1, max_length=80)
    funder_name: str = Field(default="Community Grants Fund", min_length=1, max_length=120)
    #: A logo image URL (served by the portal or the funder); None shows the funder's name only.
    funder_logo_url: str | None = Field(default=None, max_length=500)
    #: Only an NHS organisation may show the NHS logo (NHS identity guidelines).
    funder_is_nhs: bool = False

    # OpenID Connect (production): authorisation code flow with PKCE against the identity provider.
    oidc_discovery_url: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid profile email"

    @property
    def uses_oidc(self) -> bool:
        return self.oidc_discovery_url is not None

    def development_values(self) -> list[str]:
        found = super().development_values()
        if self.session_secret.get_secret_value() == DEV_SESSION_SECRET:
            found.append("GRANTS_SESSION_SECRET (the development secret)")
        if not (self.oidc_discovery_url and self.oidc_client_id):
            found.append("GRANTS_OIDC_DISCOVERY_URL and GRANTS_OIDC_CLIENT_ID (to sign people in)")
        return found


def current_settings(request: Request) -> Settings:
    return request.app.state.settings


CurrentSettings = Annotated[Settings, Depends(current_settings)]
