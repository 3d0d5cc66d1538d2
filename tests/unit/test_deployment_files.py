"""What can be checked of the deployment files without a Docker engine (none runs on CI's machine)."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"applications": 8001, "scoring": 8002, "disbursement": 8003, "notifications": 8004}
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.mark.parametrize(("service", "port"), SERVICES.items())
def test_each_service_image_holds_only_shared_and_itself_and_runs_as_non_root(service: str, port: int) -> None:
    dockerfile = (ROOT / "services" / service / "Dockerfile").read_text()
    copies = re.findall(r"^COPY\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert sorted(copies) == sorted(["shared/", f"services/{service}/"])
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert "HEALTHCHECK" in dockerfile and f"{port}/healthz" in dockerfile
    assert f'"--port", "{port}"' in dockerfile
    # The embedded MongoDB-wire server is GPL and for development only: never in an image.
    assert "secantus" not in dockerfile.lower() and "[dev]" not in dockerfile


@pytest.mark.parametrize("service", SERVICES)
def test_compose_builds_each_service_and_lets_it_scale(service: str) -> None:
    definition = COMPOSE["services"][service]
    assert definition["build"]["dockerfile"] == f"services/{service}/Dockerfile"
    assert (ROOT / definition["build"]["dockerfile"]).exists()
    # Fixed host ports would make `--scale` fail; the gateway owns the public ports.
    assert "ports" not in definition
    assert {"rabbitmq", "mongodb"} <= set(definition["depends_on"])


def test_the_portal_image_builds_its_assets_and_holds_only_shared_and_itself() -> None:
    dockerfile = (ROOT / "services" / "portal" / "Dockerfile").read_text()
    sources = [s for line in re.findall(r"^COPY\s+(.+)$", dockerfile, flags=re.MULTILINE)
               for s in line.split()[:-1] if not s.startswith("--from")]
    assert sources and all(s.startswith(("shared/", "services/portal/", "/build/")) for s in sources)
    assert "npm ci" in dockerfile and "npm run --silent build" in dockerfile
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert "8000/healthz" in dockerfile and '"--port", "8000"' in dockerfile
    portal = COMPOSE["services"]["portal"]
    assert portal["build"]["dockerfile"] == "services/portal/Dockerfile" and "ports" not in portal
    assert {f"GRANTS_{s.upper()}_URL" for s in SERVICES} <= set(portal["environment"])
    assert "proxy_pass http://$$up:8000" in COMPOSE["configs"]["gateway"]["content"]


def test_compose_runs_the_real_infrastructure() -> None:
    services = COMPOSE["services"]
    assert "management" in services["rabbitmq"]["image"]
    assert "--replSet" in services["mongodb"]["command"]
    assert "rs.initiate" in " ".join(services["mongodb"]["healthcheck"]["test"])
    assert "8025:8025" in services["mail"]["ports"]
    assert sorted(services["gateway"]["ports"]) == [f"{p}:{p}" for p in sorted([8000, *SERVICES.values()])]
    for service, port in SERVICES.items():
        assert f"proxy_pass http://$$up:{port}" in COMPOSE["configs"]["gateway"]["content"]
