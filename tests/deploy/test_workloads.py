"""The pods: commands, ports, probes, security, labels, images, rollout and scaling."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.deploy.manifests import (
    IMAGE_PREFIX,
    OVERLAYS,
    SETTINGS,
    Container,
    Doc,
    Render,
    pod_labels,
    pod_spec,
    selects,
)

SERVICES = ("messages", "gateway", "presence")
PROMETHEUS = {"prometheus.io/scrape": "true", "prometheus.io/path": "/metrics"}


def default_of(service: str, field: str) -> object:
    return SETTINGS[service].model_fields[field].default


def port_of(render: Render, container: Container) -> int:
    return int(render.env(container).get("PORT", str(default_of(container.service, "port"))))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_commands_run_modules_that_exist(renders: dict[str, Render], overlay: str) -> None:
    render = renders[overlay]
    containers = list(render.parley_containers())
    assert {(c.kind, c.service) for c in containers} == {
        ("Deployment", "messages"),
        ("Deployment", "gateway"),
        ("Deployment", "presence"),
        ("Job", "messages"),
    }
    for container in containers:
        python, flag, module, *args = container.command
        assert (python, flag, module) == ("python", "-m", f"parley_{container.service}")
        assert importlib.util.find_spec(module) is not None
        assert importlib.util.find_spec(f"{module}.__main__") is not None
        # Deployments serve (the default command); the Job migrates.
        assert args == (["migrate"] if container.kind == "Job" else [])


def test_the_messages_cli_knows_migrate() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "parley_messages", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "migrate" in result.stdout


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ports_and_probes_match_the_port_served(renders: dict[str, Render], overlay: str) -> None:
    render = renders[overlay]
    for container in render.parley_containers():
        port = port_of(render, container)
        if container.kind == "Job":
            assert "ports" not in container.spec
            continue
        metrics_port = int(render.env(container)["METRICS_PORT"])
        assert metrics_port not in (0, port)
        assert container.spec["ports"] == [
            {"name": "http", "containerPort": port, "protocol": "TCP"},
            {"name": "metrics", "containerPort": metrics_port, "protocol": "TCP"},
        ]
        for probe, path in (
            ("startupProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
            ("livenessProbe", "/healthz"),
        ):
            assert container.spec[probe]["httpGet"] == {"path": path, "port": "http"}, probe
        assert container.workload["spec"]["template"]["metadata"]["annotations"] == PROMETHEUS | {
            "prometheus.io/port": str(metrics_port)
        }
        (service,) = [
            s
            for s in render.of_kind("Service")
            if selects(s["spec"]["selector"], pod_labels(container.workload))
        ]
        assert service["metadata"]["name"] == container.workload["metadata"]["name"]
        assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(port, "http")]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_locked_down(renders: dict[str, Render], overlay: str) -> None:
    """Non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp,
    requests and limits: the "restricted" Pod Security Standard and then some."""
    for workload in renders[overlay].workloads():
        name = f"{workload['kind']} {workload['metadata']['name']}"
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] > 0, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) == {"cpu", "memory"}, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_labels_are_uniform(renders: dict[str, Render], overlay: str) -> None:
    render = renders[overlay]
    for doc in render.docs:
        labels = doc["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == "parley", (doc["kind"], doc["metadata"]["name"])
        if doc["kind"] not in ("Namespace", "ConfigMap", "Secret"):
            assert {"app.kubernetes.io/name", "app.kubernetes.io/component"} <= set(labels), doc["metadata"]
    for workload in render.workloads():
        template = pod_labels(workload)
        for key in ("app.kubernetes.io/name", "app.kubernetes.io/component", "app.kubernetes.io/part-of"):
            assert template[key] == workload["metadata"]["labels"][key], (workload["metadata"]["name"], key)
        if workload["kind"] != "Job":
            assert workload["spec"]["selector"]["matchLabels"] == {
                "app.kubernetes.io/name": workload["metadata"]["name"]
            }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_are_pinned(renders: dict[str, Render], overlay: str) -> None:
    for workload in renders[overlay].workloads():
        for container in pod_spec(workload)["containers"]:
            image: str = container["image"]
            name, _, tag = image.rpartition(":")
            assert name and "/" not in tag and tag != "latest", image
    tags = {c.spec["image"].removeprefix(IMAGE_PREFIX) for c in renders[overlay].parley_containers()}
    expected_tag = "dev" if overlay == "dev" else "0.1.0"
    assert tags == {f"{service}:{expected_tag}" for service in SERVICES}


def prestop_sleep(container: Doc) -> int:
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    return int(command[1])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateways_drain_before_they_are_killed(renders: dict[str, Render], overlay: str) -> None:
    """preStop sleep (endpoints go first), then SIGTERM: DRAIN_TIMEOUT_S for events in flight,
    then up to DRAIN_TIMEOUT_S + 5 for uvicorn to close the connections (parley_gateway's
    __main__), all inside terminationGracePeriodSeconds."""
    render = renders[overlay]
    (gateway,) = [c for c in render.parley_containers() if c.service == "gateway"]
    drain = float(render.env(gateway).get("DRAIN_TIMEOUT_S", str(default_of("gateway", "drain_timeout_s"))))
    grace = pod_spec(gateway.workload)["terminationGracePeriodSeconds"]
    assert grace > prestop_sleep(gateway.spec) + drain + (drain + 5)
    assert gateway.workload["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    messages = render.deployment("messages")
    assert pod_spec(messages)["terminationGracePeriodSeconds"] > prestop_sleep(
        pod_spec(messages)["containers"][0]
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_autoscalers_and_disruption_budgets(renders: dict[str, Render], overlay: str) -> None:
    render = renders[overlay]
    autoscaled = {}
    for hpa in render.of_kind("HorizontalPodAutoscaler"):
        assert hpa["apiVersion"] == "autoscaling/v2"
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
        # The HPA owns the count: a `replicas` in the manifest would be re-applied by every
        # `kubectl apply`, scaling the fleet down to it (and moving every client of the
        # removed gateways).
        assert "replicas" not in render.get("Deployment", target["name"])["spec"]
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        autoscaled[target["name"]] = hpa["spec"]["minReplicas"]
    assert set(autoscaled) == {"parley-gateway", "parley-messages"}
    assert autoscaled["parley-gateway"] >= 2
    assert render.deployment("presence")["spec"]["replicas"] >= 1
    budgets = render.of_kind("PodDisruptionBudget")
    for service in SERVICES:
        deployment = render.deployment(service)
        covering = [
            b for b in budgets if selects(b["spec"]["selector"]["matchLabels"], pod_labels(deployment))
        ]
        assert len(covering) == 1, service
        assert covering[0]["spec"] == {"maxUnavailable": 1, "selector": covering[0]["spec"]["selector"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migrations_can_be_applied_before_the_rollout(renders: dict[str, Render], overlay: str) -> None:
    """`kubectl apply -k … -l parley.io/phase=pre-rollout` applies the Job with everything it
    needs (its namespace, ConfigMaps, Secret) and no Deployment (deploy/README.md)."""
    render = renders[overlay]
    first = {
        (d["kind"], d["metadata"]["name"])
        for d in render.docs
        if d["metadata"].get("labels", {}).get("parley.io/phase") == "pre-rollout"
    }
    (job,) = render.of_kind("Job")
    assert ("Job", job["metadata"]["name"]) in first
    assert ("Namespace", job["metadata"]["namespace"]) in first
    spec = pod_spec(job)["containers"][0]
    for source in spec.get("envFrom", []):
        kind, ref = (
            ("ConfigMap", source["configMapRef"])
            if "configMapRef" in source
            else ("Secret", source["secretRef"])
        )
        assert (kind, ref["name"]) in first
    for var in spec.get("env", []):
        if "valueFrom" in var:
            kind, ref = ("Secret", var["valueFrom"]["secretKeyRef"])
            assert (kind, ref["name"]) in first
    assert not any(kind == "Deployment" for kind, _ in first)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migrations_use_the_settings_of_the_messages_pods(renders: dict[str, Render], overlay: str) -> None:
    render = renders[overlay]
    envs = {c.kind: render.env(c) for c in render.parley_containers() if c.service == "messages"}
    envs["Deployment"].pop("PORT")
    assert envs["Job"] == envs["Deployment"]
