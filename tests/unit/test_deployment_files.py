"""What can be checked of the deployment files without a Docker engine (none runs on CI's machine).

docker-compose.yml is read the way compose reads it (YAML merge keys, then `${...}` interpolation of
every value from .env), with a .env made by deploy/compose/make-env.sh, and what each service would
then be given is loaded by that service's own settings class, in production. The monitoring files
are checked against what the services really expose (grants_shared.metrics): the alerting rules and
every dashboard query are parsed as PromQL (promql-parser, the Rust parser's Python binding) and may
name only metrics the services serve. promtool itself is not on PyPI or npm; with it,
`promtool check config`, `check rules` and `test rules deploy/prometheus/alerts.test.yml` also pass
(docs/operating.md).
"""

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import promql_parser
import pytest
import yaml
from cryptography.fernet import Fernet
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

import grants_shared.metrics
from applications.config import Settings as ApplicationsSettings
from disbursement.config import Settings as DisbursementSettings
from grants_shared.settings import ServiceSettings
from notifications.config import Settings as NotificationsSettings
from portal.config import Settings as PortalSettings
from scoring.config import Settings as ScoringSettings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"applications": 8001, "scoring": 8002, "disbursement": 8003, "notifications": 8004}
WORKLOADS = {**SERVICES, "portal": 8000}
SETTINGS: dict[str, type[ServiceSettings]] = {
    "applications": ApplicationsSettings, "scoring": ScoringSettings, "disbursement": DisbursementSettings,
    "notifications": NotificationsSettings, "portal": PortalSettings,
}  # fmt: skip
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
#: A variable holding one of these is a secret: it must never have a default.
SENSITIVE = re.compile(r"SECRET|KEY|PASSWORD|TOKEN")
INFRASTRUCTURE = ("rabbitmq", "mongodb", "mail", "prometheus", "grafana")
PROMETHEUS = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
ALERTS = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
DASHBOARD = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "grants.json").read_text())
OPERATING = (ROOT / "docs" / "operating.md").read_text()


# --- compose, as compose reads it --------------------------------------------------------------------

INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's interpolation of every string in a parsed file: ${VAR}, ${VAR:-default},
    ${VAR:?message} (raising), and $$ for a literal $."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        present = env.get(name)
        if op in (":?", "?") and (present is None or (op == ":?" and present == "")):
            raise LookupError(f"{name}: {arg}")
        if op in (":-", "-") and (present is None or (op == ":-" and present == "")):
            return arg
        return present or ""

    parts = value.split("$$")
    return "$".join(INTERPOLATION.sub(one, part) for part in parts)


def environment_of(service: str, env: dict[str, str]) -> dict[str, str]:
    """What the container gets: interpolated values, and a variable listed without a value passed on
    from .env when set there (unset otherwise)."""
    definition = interpolate(COMPOSE["services"][service], env)
    given = {}
    for name, value in definition.get("environment", {}).items():
        if value is None:
            if name in env:
                given[name] = env[name]
        else:
            given[name] = str(value)
    return given


def read_env_file(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            found[name] = value
    return found


def make_env(environment: str, path: Path) -> dict[str, str]:
    result = subprocess.run(["sh", str(ROOT / "deploy" / "compose" / "make-env.sh"), environment, str(path)],
                            capture_output=True, text=True, check=True)  # fmt: skip
    assert str(path) in result.stdout
    return read_env_file(path)


def identity_provider(env: dict[str, str]) -> dict[str, str]:
    """The production .env once its identity provider lines are filled in, as make-env.sh asks."""
    example = {line.lstrip("#").partition("=")[0]: line.lstrip("#").partition("=")[2]
               for line in (ROOT / ".env.example").read_text().splitlines() if line.startswith("#GRANTS_")}
    names = ("GRANTS_JWKS_URL", "GRANTS_JWT_ISSUER", "GRANTS_JWT_AUDIENCE", "GRANTS_OIDC_DISCOVERY_URL",
             "GRANTS_OIDC_CLIENT_ID")  # fmt: skip
    return {**env, **{name: example[name] for name in names}}


def long_running() -> list[str]:
    return [name for name, definition in COMPOSE["services"].items() if definition.get("restart") != "no"]


def load_settings(service: str, given: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> ServiceSettings:
    for key in [key for key in os.environ if key.startswith("GRANTS_")]:
        monkeypatch.delenv(key)
    for key, value in given.items():
        monkeypatch.setenv(key, value)
    try:
        return SETTINGS[service]()
    finally:
        for key in given:
            monkeypatch.delenv(key, raising=False)


# --- images ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("service", "port"), SERVICES.items())
def test_each_service_image_holds_only_shared_and_itself_and_runs_as_non_root(service: str, port: int) -> None:
    dockerfile = (ROOT / "services" / service / "Dockerfile").read_text()
    copies = re.findall(r"^COPY\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert sorted(copies) == sorted(["shared/", f"services/{service}/"])
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    # Healthy means ready: the database and the broker answer. python is the one tool in the image.
    (healthcheck,) = re.findall(r"^HEALTHCHECK .*$", dockerfile, flags=re.MULTILINE)
    assert "python -c" in healthcheck and f"127.0.0.1:{port}/readyz" in healthcheck
    assert f'"--port", "{port}"' in dockerfile and '"--proxy-headers"' in dockerfile
    # The embedded MongoDB-wire server is GPL and for development only: never in an image.
    assert "secantus" not in dockerfile.lower() and "[dev]" not in dockerfile


def test_the_portal_image_builds_its_assets_and_holds_only_shared_and_itself() -> None:
    dockerfile = (ROOT / "services" / "portal" / "Dockerfile").read_text()
    sources = [s for line in re.findall(r"^COPY\s+(.+)$", dockerfile, flags=re.MULTILINE)
               for s in line.split()[:-1] if not s.startswith("--from")]
    assert sources and all(s.startswith(("shared/", "services/portal/", "/build/")) for s in sources)
    assert "npm ci" in dockerfile and "npm run --silent build" in dockerfile
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert "127.0.0.1:8000/readyz" in dockerfile and '"--port", "8000"' in dockerfile
    assert '"--proxy-headers"' in dockerfile


def test_the_build_context_leaves_out_environments_version_control_tests_and_secrets() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for needed in (".git", "**/.venv", "**/node_modules", "**/__pycache__", ".run", "tests", ".env", ".env.*",
                   "**/*.pem", "**/*.key"):
        assert needed in patterns, needed
    # What the images copy stays in: shared/ and services/ (the portal's sources, package files, scss).
    assert not [p for p in patterns if p.rstrip("/") in ("shared", "services", "services/portal")]


# --- compose -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_compose_builds_each_service_and_lets_it_scale(service: str) -> None:
    definition = COMPOSE["services"][service]
    assert definition["build"]["dockerfile"] == f"services/{service}/Dockerfile"
    assert (ROOT / definition["build"]["dockerfile"]).exists()
    # Fixed host ports would make `--scale` fail; the gateway owns the public ports.
    assert "ports" not in definition and "container_name" not in definition
    # Not before its broker user exists and the database is a primary.
    assert definition["depends_on"] == {"rabbitmq-users": {"condition": "service_completed_successfully"},
                                        "mongodb": {"condition": "service_healthy"}}  # fmt: skip


def test_the_portal_reaches_the_services_through_the_gateway_and_nothing_else() -> None:
    portal = COMPOSE["services"]["portal"]
    assert portal["build"]["dockerfile"] == "services/portal/Dockerfile" and "ports" not in portal
    assert {f"GRANTS_{s.upper()}_URL" for s in SERVICES} <= set(portal["environment"])
    # Neither the database's root password nor a broker user.
    assert not {"GRANTS_MONGODB_URL", "GRANTS_RABBITMQ_URL"} & set(portal["environment"])
    gateway = COMPOSE["configs"]["gateway"]["content"]
    for name, port in WORKLOADS.items():
        assert f"set $$up {name};" in gateway and f"proxy_pass http://$$up:{port};" in gateway
    # The services send HSTS only to a request that came over TLS, which this header tells them.
    assert "proxy_set_header X-Forwarded-Proto $$forwarded_proto;" in gateway
    assert "proxy_set_header X-Forwarded-For $$proxy_add_x_forwarded_for;" in gateway


def test_no_secret_has_a_fallback() -> None:
    interpolations = list(INTERPOLATION.finditer(COMPOSE_TEXT.replace("$$", "")))
    assert interpolations
    secrets = set()
    for match in interpolations:
        if SENSITIVE.search(match["name"]):
            secrets.add(match["name"])
            assert match["op"] == ":?" and match["arg"].strip(), f"{match[0]}: a secret must be required, with a message"
    assert len(secrets) >= 12, secrets
    # Bare $VAR (no braces) would dodge the rule above.
    assert not re.search(r"(?<!\$)\$(?!\$|\{)[A-Za-z_]", COMPOSE_TEXT.replace("$$", ""))
    for name, definition in COMPOSE["services"].items():
        for variable, value in (definition.get("environment") or {}).items():
            if not SENSITIVE.search(variable):
                continue
            if value is None:
                # Passed on from .env only when set there: allowed for what has no development value.
                owner = SETTINGS.get(name)
                assert owner is not None, f"{name}: {variable}"
                assert owner.model_fields[variable.removeprefix("GRANTS_").lower()].default is None, variable
            else:
                assert re.fullmatch(r".*\$\{[A-Z0-9_]+:\?[^}]+\}.*", str(value)), f"{name}: {variable} = {value}"
        # No credential written into a URL: its password is a required variable.
        for value in (definition.get("environment") or {}).values():
            if isinstance(value, str) and "://" in value and "@" in value:
                assert re.search(r"://[a-z]+:\$\{[A-Z0-9_]+:\?[^}]+\}@", value), value


def test_dot_env_example_documents_every_variable_compose_requires() -> None:
    required = {m["name"] for m in INTERPOLATION.finditer(COMPOSE_TEXT.replace("$$", "")) if m["op"] == ":?"}
    lines = (ROOT / ".env.example").read_text().splitlines()
    documented = {}
    variable = re.compile(r"^[A-Z][A-Z0-9_]*=")
    for number, line in enumerate(lines):
        if variable.match(line):
            name, _, value = line.partition("=")
            documented[name] = value
            # Explained by the comment above it (or above the group of variables it belongs to).
            above = next(lines[i] for i in range(number - 1, -1, -1) if not variable.match(lines[i]))
            assert above.startswith("#"), f"{name} has no explanation above it"
    assert required <= set(documented), required - set(documented)
    # Secrets are empty in the example: copying it unfilled makes compose refuse, not start.
    assert all(documented[name] == "" for name in required)
    assert "GRANTS_ENVIRONMENT" in documented
    # .env itself is never committed.
    assert "/.env" in (ROOT / ".gitignore").read_text().splitlines()


@pytest.mark.parametrize("environment", ["production", "development"])
def test_make_env_gives_every_service_what_it_needs_to_start(
    environment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make_env(environment, tmp_path / ".env")
    assert (tmp_path / ".env").stat().st_mode & 0o077 == 0, "readable by its owner only"
    if environment == "production":
        env = identity_provider(env)
    for name in long_running() + ["rabbitmq-users"]:
        environment_of(name, env)  # raises if compose would refuse to start
    Fernet(env["GRANTS_BANK_DETAILS_KEY"]) and Fernet(env["GRANTS_WEBHOOK_SECRETS_KEY"])
    assert env["GRANTS_BANK_DETAILS_KEY"] != env["GRANTS_WEBHOOK_SECRETS_KEY"]
    users = environment_of("rabbitmq-users", env)
    for name, port in WORKLOADS.items():
        given = environment_of(name, env)
        settings = load_settings(name, given, monkeypatch)  # production refuses any development value
        assert settings.environment == environment and settings.prefix == "grants"
        if name == "portal":
            assert settings.uses_oidc is (environment == "production")
            continue
        broker = urlsplit(settings.rabbitmq_url)
        # Its own broker user, with the password rabbitmq-users gave that user.
        assert (broker.username, broker.hostname) == (name, "rabbitmq")
        assert broker.password == users[f"RABBITMQ_{name.upper()}_PASSWORD"]
        database = urlsplit(settings.mongodb_url)
        assert database.username and database.password == env["MONGODB_ROOT_PASSWORD"]
        assert parse_qs(database.query) == {"replicaSet": ["rs0"], "authSource": ["admin"]}
    # A second run never replaces secrets that encrypt data.
    again = subprocess.run(["sh", str(ROOT / "deploy" / "compose" / "make-env.sh"), environment, str(tmp_path / ".env")],
                           capture_output=True, text=True)  # fmt: skip
    assert again.returncode != 0 and read_env_file(tmp_path / ".env")["GRANTS_JWT_SECRET"] == env["GRANTS_JWT_SECRET"]


def test_compose_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    env = make_env("development", tmp_path / ".env")
    for missing in ("GRANTS_JWT_SECRET", "MONGODB_ROOT_PASSWORD", "RABBITMQ_SCORING_PASSWORD", "GRANTS_BANK_DETAILS_KEY"):
        with pytest.raises(LookupError, match=missing):
            for name in COMPOSE["services"]:
                environment_of(name, {**env, missing: ""})


def test_production_is_the_default_and_development_is_asked_for() -> None:
    env = {name: "x" for name in {m["name"] for m in INTERPOLATION.finditer(COMPOSE_TEXT.replace("$$", ""))}}
    del env["GRANTS_ENVIRONMENT"]
    for name in WORKLOADS:
        assert environment_of(name, env)["GRANTS_ENVIRONMENT"] == "production"
        assert environment_of(name, {**env, "GRANTS_ENVIRONMENT": "development"})["GRANTS_ENVIRONMENT"] == "development"


def required_variables() -> set[str]:
    return {m["name"] for m in INTERPOLATION.finditer(COMPOSE_TEXT.replace("$$", "")) if m["op"] == ":?"}


def test_no_port_is_published_beyond_loopback_by_default() -> None:
    published = {}
    for name, definition in interpolate(COMPOSE["services"], dict.fromkeys(required_variables(), "x")).items():
        for port in definition.get("ports", []):
            assert isinstance(port, str) and port.count(":") == 2, f"{name}: {port} names no address"
            address, host, container = port.split(":")
            assert address == "127.0.0.1", f"{name}: {port}"
            published[name] = published.get(name, []) + [int(container)]
    assert {"rabbitmq", "mongodb", "mail", "prometheus", "grafana", "gateway"} <= set(published)
    assert sorted(published["rabbitmq"]) == [5672, 15672] and published["mongodb"] == [27017]
    assert sorted(published["gateway"]) == sorted(WORKLOADS.values())
    # Only the gateway's address may be changed (for a TLS-terminating proxy on another machine).
    assert "GRANTS_LISTEN_ADDRESS" not in json.dumps([COMPOSE["services"][n] for n in INFRASTRUCTURE])


def test_every_long_running_container_has_a_health_check() -> None:
    services = COMPOSE["services"]
    for name in long_running():
        if name in ("mail", "gateway", "prometheus", "grafana"):
            continue  # their images' own checks; nothing waits on them
        assert "healthcheck" in services[name], name
    for name, port in WORKLOADS.items():
        check = services[name]["healthcheck"]
        command = " ".join(check["test"])
        assert check["test"][:3] == ["CMD", "python", "-c"] and f"http://127.0.0.1:{port}/readyz" in command
        assert check["start_period"] and check["retries"] >= 3
    # The one-shots run once and are waited for.
    one_shots = {name for name, d in services.items() if d.get("restart") == "no"}
    assert one_shots == {"rabbitmq-users", "mongodb-keyfile"}
    waited = {dep for d in services.values() if isinstance(d.get("depends_on"), dict)
              for dep, condition in d["depends_on"].items() if condition == {"condition": "service_completed_successfully"}}
    assert waited == one_shots


def test_the_broker_runs_without_guest_and_each_service_has_its_own_user() -> None:
    assert "guest" not in json.dumps(COMPOSE), "no guest user, nor its password, anywhere"
    rabbitmq = COMPOSE["services"]["rabbitmq"]
    assert re.fullmatch(r"rabbitmq:\d+\.\d+\.\d+-management", rabbitmq["image"])
    assert rabbitmq["hostname"] == "rabbitmq" and rabbitmq["environment"]["RABBITMQ_DEFAULT_USER"] == "admin"
    (config,) = rabbitmq["configs"]
    assert config["target"].startswith("/etc/rabbitmq/conf.d/")
    conf = (ROOT / COMPOSE["configs"][config["source"]]["file"]).read_text()
    assert re.search(r"^loopback_users\.guest = true$", conf, flags=re.MULTILINE)
    users = COMPOSE["services"]["rabbitmq-users"]
    assert users["image"] == rabbitmq["image"] and users["user"] == "rabbitmq"
    assert users["environment"]["RABBITMQ_GUEST"] == "delete"
    assert users["environment"]["RABBITMQCTL"] == f"rabbitmqctl --node rabbit@{rabbitmq['hostname']}"
    # The script and its rules from the repository; the node's Erlang cookie from the node's volume.
    mounts = dict(volume.rsplit(":", 1)[0].split(":", 1) for volume in users["volumes"])
    assert mounts["./deploy/rabbitmq"] == "/opt/grants/rabbitmq" and users["command"][-1] == "/opt/grants/rabbitmq/users.sh"
    assert mounts["rabbitmq-data"] == "/var/lib/rabbitmq" and all(v.endswith(":ro") for v in users["volumes"])
    for service in SERVICES:
        assert f"RABBITMQ_{service.upper()}_PASSWORD" in users["environment"]
        url = COMPOSE["services"][service]["environment"]["GRANTS_RABBITMQ_URL"]
        assert url.startswith(f"amqp://{service}:${{RABBITMQ_{service.upper()}_PASSWORD:?")


def test_the_database_requires_authentication_with_a_keyfile_made_at_first_start() -> None:
    mongodb = COMPOSE["services"]["mongodb"]
    command = mongodb["command"]
    keyfile = command[command.index("--keyFile") + 1]
    volumes = dict(v.split(":")[:2] for v in mongodb["volumes"])
    assert volumes["mongodb-keyfile"] == str(Path(keyfile).parent) and "--replSet" in command
    maker = COMPOSE["services"]["mongodb-keyfile"]
    assert maker["volumes"] == ["mongodb-keyfile:/keyfile"] and maker["network_mode"] == "none"
    script = " ".join(maker["command"])
    assert "/dev/urandom" in script and "chmod 400" in script and "chown 999:999" in script
    assert mongodb["depends_on"] == {"mongodb-keyfile": {"condition": "service_completed_successfully"}}
    assert mongodb["environment"]["MONGO_INITDB_ROOT_PASSWORD"].startswith("${MONGODB_ROOT_PASSWORD:?")
    health = " ".join(mongodb["healthcheck"]["test"])
    assert "process.env.MONGO_INITDB_ROOT_PASSWORD" in health and "rs.initiate" in health
    assert "isWritablePrimary" in health
    assert "transactionLifetimeLimitSeconds=15" in command
    assert not (ROOT / "deploy" / "mongodb").exists(), "the keyfile is made, never committed"


def test_images_are_pinned() -> None:
    for name, definition in COMPOSE["services"].items():
        if "image" in definition:
            repository, _, tag = definition["image"].rpartition(":")
            assert repository and re.search(r"\d+\.\d+", tag) and tag != "latest", definition["image"]


# --- the broker users script, with a stand-in rabbitmqctl ----------------------------------------------
# (tests/integration/deploy/test_broker_users.py runs it against the real broker.)

STAND_IN = """#!/bin/sh
printf 'ARGS %s\\n' "$*" >> "$LOG"
case "$*" in
  *list_users*) printf 'guest\\t[administrator]\\nadmin\\t[administrator]\\n' ;;
  *list_vhosts*) printf '/\\n' ;;
  *add_user* | *change_password*) read -r password; printf 'STDIN %s\\n' "$password" >> "$LOG" ;;
esac
"""


def run_users_script(tmp_path: Path, **extra: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    stand_in = tmp_path / "rabbitmqctl"
    stand_in.write_text(STAND_IN)
    stand_in.chmod(0o755)
    log = tmp_path / "log"
    log.write_text("")
    passwords = {f"RABBITMQ_{role.upper()}_PASSWORD": f"pw-{role}" for role in (*SERVICES, "integrator")}
    env = {"PATH": os.environ["PATH"], "LOG": str(log), "RABBITMQCTL": str(stand_in), **passwords, **extra}
    result = subprocess.run(["sh", str(ROOT / "deploy" / "rabbitmq" / "users.sh")], env=env, capture_output=True,
                            text=True)  # fmt: skip
    return result, log.read_text().splitlines()


def test_the_users_script_deletes_guest_only_when_told_and_never_puts_a_password_on_a_command_line(
    tmp_path: Path,
) -> None:
    result, calls = run_users_script(tmp_path, RABBITMQ_GUEST="delete", RABBITMQ_ADMIN_PASSWORD="pw-admin")
    assert result.returncode == 0, result.stderr
    arguments = [line.removeprefix("ARGS ") for line in calls if line.startswith("ARGS ")]
    assert "--quiet delete_user guest" in arguments
    assert not [a for a in arguments if "pw-" in a], "a password on a command line"
    assert sorted(line for line in calls if line.startswith("STDIN")) == sorted(
        f"STDIN pw-{role}" for role in (*SERVICES, "integrator", "admin"))
    # The administrator existed: its password reset and its tag kept; new users get none.
    assert "--quiet change_password admin" in arguments and "--quiet set_user_tags admin administrator" in arguments
    assert "--quiet add_user scoring" in arguments and not [a for a in arguments if "set_user_tags scoring" in a]
    assert len([a for a in arguments if a.startswith("--quiet set_permissions --vhost / ")]) == 6
    assert "pw-" not in result.stdout + result.stderr

    result, calls = run_users_script(tmp_path, RABBITMQ_GUEST="keep")
    assert result.returncode == 0 and not [line for line in calls if "delete_user" in line]
    assert not [line for line in calls if line.endswith(" admin")], "no administrator without its password"
    result, calls = run_users_script(tmp_path, RABBITMQ_GUEST="maybe")
    assert result.returncode != 0 and calls == []


# --- Prometheus, the alerting rules and Grafana ------------------------------------------------------


def exposed_metrics() -> set[str]:
    """Every series name a service serves on /metrics: the platform's own (grants_shared.metrics, with
    the suffixes prometheus-client adds to each type) and the client's default process and Python ones."""
    names: set[str] = set()
    collectors = [c for c in vars(grants_shared.metrics).values() if isinstance(c, MetricWrapperBase)]
    assert len(collectors) >= 8
    suffixes = {"counter": ["_total", "_created"], "gauge": [""], "histogram": ["_bucket", "_count", "_sum", "_created"]}
    for collector in collectors:
        (family,) = collector.describe()
        names |= {family.name + suffix for suffix in suffixes[family.type]}
    names |= {sample.name for family in REGISTRY.collect() for sample in family.samples}
    return names


def platform_metric_families() -> set[str]:
    return {c.describe()[0].name for c in vars(grants_shared.metrics).values() if isinstance(c, MetricWrapperBase)}


def selectors(expression: str) -> list[str]:
    found: list[str] = []

    def visit(node: Any, *_: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            assert node.name, f"a selector without a metric name in {expression}"
            found.append(node.name)

    promql_parser.walk(promql_parser.parse(expression), visit)
    return found


def test_prometheus_scrapes_every_replica_of_every_service_and_the_broker() -> None:
    jobs = {job["job_name"]: job for job in PROMETHEUS["scrape_configs"]}
    for service, port in SERVICES.items():
        job = jobs[service]
        # Docker's DNS answers the service's name with every replica's address.
        assert job["dns_sd_configs"] == [{"names": [service], "type": "A", "port": port, "refresh_interval": "15s"}]
        assert job.get("metrics_path", "/metrics") == "/metrics"
    assert jobs["rabbitmq"]["static_configs"] == [{"targets": ["rabbitmq:15692"]}]
    assert set(jobs) == {*SERVICES, "rabbitmq"}
    prometheus = COMPOSE["services"]["prometheus"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert PROMETHEUS["rule_files"] == ["/etc/prometheus/alerts.yml"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]


def test_the_alerting_rules_parse_and_name_only_metrics_the_services_expose() -> None:
    exposed = exposed_metrics() | {"up"}
    rules = [rule for group in ALERTS["groups"] for rule in group["rules"]]
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)) >= 10
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        unknown = set(selectors(rule["expr"])) - exposed
        assert not unknown, f"{rule['alert']} names {unknown}"
        if "for" in rule:
            promql_parser.parse_duration(rule["for"])
        assert rule["labels"]["severity"] in ("warning", "critical")
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"]
        # What to do: a section of docs/operating.md named after the alert.
        assert annotations["runbook"] == f"docs/operating.md#{rule['alert'].lower()}"
        assert re.search(rf"^### {rule['alert']}\b", OPERATING, flags=re.MULTILINE), rule["alert"]
    # The job names the rules use are the scrape jobs'.
    for rule in rules:
        for job in re.findall(r'job=~?"([^"]+)"', rule["expr"]):
            assert set(job.split("|")) <= {j["job_name"] for j in PROMETHEUS["scrape_configs"]}, rule["alert"]
    # Everything the issue asks to be alerted on.
    everything = " ".join(rule["expr"] for rule in rules)
    for needed in ("up{", 'outcome="dead_lettered"', "grants_outbox_oldest_pending_seconds",
                   'queue="payments", status="failed"', 'status=~"5.."'):
        assert needed in everything, needed


def test_every_alert_has_a_promtool_unit_test() -> None:
    tests = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.test.yml").read_text())
    assert tests["rule_files"] == ["alerts.yml"]
    tested = {case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"] if case["exp_alerts"]}
    assert tested == {rule["alert"] for group in ALERTS["groups"] for rule in group["rules"]}


def dashboard_panels() -> list[dict[str, Any]]:
    return [panel for panel in DASHBOARD["panels"] if panel["type"] != "row"]


def as_promql(expression: str) -> str:
    """A panel's query with Grafana's variables replaced as Grafana would."""
    for variable, value in (("$__rate_interval", "1m"), ("$__interval", "15s"), ("$__range", "6h")):
        expression = expression.replace(variable, value)
    return expression


def test_the_dashboard_shows_what_the_services_expose_and_only_that() -> None:
    exposed = exposed_metrics() | {"up", "ALERTS"}
    used: set[str] = set()
    for panel in dashboard_panels():
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = selectors(as_promql(target["expr"]))
            assert not set(names) - exposed, f"{panel['title']}: {set(names) - exposed}"
            used |= set(names)
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    # Every metric of the platform is on it: requests, events, outbox, work, database.
    families = platform_metric_families()
    assert not {f for f in families if not any(name.startswith(f) for name in used)}
    titles = [panel["title"] for panel in dashboard_panels()]
    assert len(titles) == len(set(titles))
    text = json.dumps(DASHBOARD)
    for needed in ('outcome=\\"dead_lettered\\"', 'error=\\"WriteConflict\\"', "grants_outbox_oldest_pending_seconds",
                   "grants_work_items", 'status=~\\"5..\\"', "histogram_quantile"):
        assert needed in text, needed
    # The service picker lists what the services report.
    (picker,) = [v for v in DASHBOARD["templating"]["list"] if v["name"] == "service"]
    metric = re.fullmatch(r"label_values\((\w+), service\)", picker["query"]["query"])[1]
    assert metric in exposed
    (source,) = [v for v in DASHBOARD["templating"]["list"] if v["type"] == "datasource"]
    assert source["name"] == "datasource" and source["query"] == "prometheus"


def test_the_dashboards_panels_fit_the_grid_without_overlapping() -> None:
    taken: set[tuple[int, int]] = set()
    for panel in DASHBOARD["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
    ids = [panel["id"] for panel in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    assert DASHBOARD["uid"] and DASHBOARD["title"] and DASHBOARD["editable"] is False


def test_grafana_is_provisioned_with_the_prometheus_data_source_and_the_dashboard() -> None:
    provisioning = ROOT / "deploy" / "grafana" / "provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090" and source["isDefault"]
    assert "127.0.0.1:9090:9090" in COMPOSE["services"]["prometheus"]["ports"]
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "grants.yml").read_text())["providers"]
    grafana = COMPOSE["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
