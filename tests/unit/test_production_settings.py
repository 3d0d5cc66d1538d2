"""Outside development, no service starts on a value from this repository."""

import pytest
from cryptography.fernet import Fernet

from applications.config import Settings as ApplicationsSettings
from disbursement.config import Settings as DisbursementSettings
from grants_shared.settings import ServiceSettings
from notifications.config import Settings as NotificationsSettings
from portal.config import Settings as PortalSettings
from scoring.config import Settings as ScoringSettings

SECRET = "a-production-jwt-secret-that-is-long-enough"
PORTAL = {"session_secret": "a-production-session-secret-of-enough-length",
          "oidc_discovery_url": "https://idp.example/.well-known/openid-configuration", "oidc_client_id": "portal"}


def test_development_runs_on_the_development_values() -> None:
    for settings in (ApplicationsSettings, ScoringSettings, DisbursementSettings, NotificationsSettings, PortalSettings):
        assert settings().development


@pytest.mark.parametrize("settings", [ApplicationsSettings, ScoringSettings, DisbursementSettings,
                                      NotificationsSettings, PortalSettings])  # fmt: skip
def test_production_refuses_the_development_jwt_secret(settings: type[ServiceSettings]) -> None:
    with pytest.raises(ValueError, match="GRANTS_JWT_SECRET"):
        settings(environment="production")


def test_production_refuses_a_short_jwt_secret_but_takes_a_jwks_url_instead() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        ScoringSettings(environment="production", jwt_secret="short-secret")
    assert not ScoringSettings(environment="production", jwks_url="https://idp.example/jwks").development
    assert not ScoringSettings(environment="production", jwt_secret=SECRET).development


def test_production_refuses_the_development_keys_naming_each() -> None:
    with pytest.raises(ValueError, match="GRANTS_BANK_DETAILS_KEY"):
        DisbursementSettings(environment="production", jwt_secret=SECRET)
    with pytest.raises(ValueError, match="GRANTS_WEBHOOK_SECRETS_KEY"):
        NotificationsSettings(environment="production", jwt_secret=SECRET)
    with pytest.raises(ValueError, match="GRANTS_SESSION_SECRET"):
        PortalSettings(environment="production", jwt_secret=SECRET, **{**PORTAL, "session_secret": PortalSettings().session_secret})
    key = Fernet.generate_key().decode()
    assert DisbursementSettings(environment="production", jwt_secret=SECRET, bank_details_key=key)
    assert NotificationsSettings(environment="production", jwt_secret=SECRET, webhook_secrets_key=key)
    assert PortalSettings(environment="production", jwt_secret=SECRET, **PORTAL)
    # A rotation that still lists the development key is refused too.
    with pytest.raises(ValueError, match="GRANTS_BANK_DETAILS_KEY"):
        DisbursementSettings(environment="production", jwt_secret=SECRET,
                             bank_details_key=f"{key},{DisbursementSettings().bank_details_key.get_secret_value()}")


def test_an_empty_jwks_url_is_no_jwks_url() -> None:
    # An env file's `GRANTS_JWKS_URL=` must not skip the check on the JWT secret.
    with pytest.raises(ValueError, match="GRANTS_JWT_SECRET"):
        ScoringSettings(environment="production", jwks_url="")
    assert ScoringSettings(jwks_url=" ").jwks_url is None
