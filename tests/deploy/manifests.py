"""Rendering the kustomize overlays of deploy/k8s and reading what they say.

The overlays are rendered with the real ``kubectl kustomize`` (no cluster needed). The
prod overlay reads its Secret from ``secrets.env``, which is never committed: it is
rendered from a copy of deploy/k8s with a secrets.env made from secrets.env.example, its
placeholders replaced by values the services accept.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from pydantic_settings import BaseSettings
from starlette.types import ASGIApp

from parley_gateway.app import create_app as create_gateway
from parley_gateway.config import GatewaySettings
from parley_messages.app import create_app as create_messages
from parley_messages.config import MessagesSettings
from parley_presence.app import create_app as create_presence
from parley_presence.config import PresenceSettings

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
SECRETS_EXAMPLE = K8S / "overlays" / "prod" / "secrets.env.example"
OVERLAYS = ("dev", "prod")
# A version kubernetes-validate ships schemas for (and kubectl's own, 1.32).
KUBERNETES_VERSION = "1.32"
IMAGE_PREFIX = "ghcr.io/parley/parley-"
# What the prod render gets instead of the example's REPLACE_ME.
TEST_SECRET = "deploy-test-secret-0123456789abcdef"

SETTINGS: dict[str, type[BaseSettings]] = {
    "messages": MessagesSettings,
    "gateway": GatewaySettings,
    "presence": PresenceSettings,
}
APPS: dict[str, Any] = {"messages": create_messages, "gateway": create_gateway, "presence": create_presence}
# Have defaults in the code (an empty one, or SQLite) that are wrong outside DEV_MODE.
PRODUCTION_REQUIRED = frozenset({"JWT_SECRET", "INTERNAL_TOKEN", "REDIS_URL", "DATABASE_URL"})
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")

Doc = dict[str, Any]


def known_variables(service: str) -> frozenset[str]:
    """Every environment variable the service's settings class reads."""
    return frozenset(name.upper() for name in SETTINGS[service].model_fields)


def required_variables(service: str) -> frozenset[str]:
    fields = SETTINGS[service].model_fields
    required = {name.upper() for name, info in fields.items() if info.is_required()}
    return frozenset(required | (PRODUCTION_REQUIRED & known_variables(service)))


def build_app(service: str, env: dict[str, str]) -> FastAPI:
    """The service's settings from ``env`` alone (as the pod would read them), and its app."""
    values: dict[str, Any] = {name.lower(): value for name, value in env.items()}
    settings = SETTINGS[service](**values)
    app: FastAPI = APPS[service](settings)
    return app


async def get_status(app: ASGIApp, path: str) -> int:
    """``GET path`` on the app as it is before its lifespan runs: a route that needs the
    lifespan's state fails (500), one that does not exist is 404 whatever the state."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    # Host: the pod's IP and port, as the kubelet's probes send it.
    async with httpx.AsyncClient(transport=transport, base_url="http://10.1.2.3:8000") as client:
        return (await client.get(path)).status_code


@dataclass(frozen=True)
class Container:
    workload: Doc
    spec: Doc
    service: str  # messages, gateway or presence

    @property
    def kind(self) -> str:
        kind: str = self.workload["kind"]
        return kind

    @property
    def command(self) -> list[str]:
        return [*self.spec.get("command", []), *self.spec.get("args", [])]


@dataclass(frozen=True)
class Render:
    overlay: str
    docs: list[Doc]

    def of_kind(self, kind: str) -> list[Doc]:
        return [doc for doc in self.docs if doc["kind"] == kind]

    def get(self, kind: str, name: str) -> Doc:
        found = [doc for doc in self.of_kind(kind) if doc["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.overlay}: expected one {kind} {name!r}, found {len(found)}"
        return found[0]

    def named(self, kind: str, name: str) -> Doc:
        """``get`` by the name before kustomize's hash suffix (``parley-config`` → ``parley-config-7f…``)."""
        found = [doc for doc in self.of_kind(kind) if doc["metadata"]["name"].rsplit("-", 1)[0] == name]
        assert len(found) == 1, f"{self.overlay}: expected one generated {kind} {name!r}, found {len(found)}"
        return found[0]

    def workloads(self) -> list[Doc]:
        return [doc for doc in self.docs if doc["kind"] in WORKLOAD_KINDS]

    def parley_containers(self) -> Iterator[Container]:
        for workload in self.workloads():
            for spec in pod_spec(workload)["containers"]:
                if spec["image"].startswith(IMAGE_PREFIX):
                    service = spec["image"].removeprefix(IMAGE_PREFIX).split(":")[0].split("@")[0]
                    yield Container(workload, spec, service)

    def deployment(self, service: str) -> Doc:
        return self.get("Deployment", f"parley-{service}")

    def data(self, kind: str, name: str) -> dict[str, str]:
        obj = self.get(kind, name)
        if kind == "ConfigMap":
            return {key: str(value) for key, value in obj.get("data", {}).items()}
        values = {key: base64.b64decode(value).decode() for key, value in obj.get("data", {}).items()}
        return values | obj.get("stringData", {})

    def env(self, container: Container) -> dict[str, str]:
        """The container's environment as Kubernetes builds it (env wins over envFrom)."""
        env: dict[str, str] = {}
        for source in container.spec.get("envFrom", []):
            assert "prefix" not in source, "envFrom prefixes are not expected"
            if "configMapRef" in source:
                env.update(self.data("ConfigMap", source["configMapRef"]["name"]))
            else:
                env.update(self.data("Secret", source["secretRef"]["name"]))
        for var in container.spec.get("env", []):
            if "value" in var:
                env[var["name"]] = var["value"]
                continue
            source = var["valueFrom"]
            kind = "Secret" if "secretKeyRef" in source else "ConfigMap"
            ref = source["secretKeyRef" if kind == "Secret" else "configMapKeyRef"]
            values = self.data(kind, ref["name"])
            if ref.get("optional") and ref["key"] not in values:
                continue  # Kubernetes leaves the variable unset
            assert ref["key"] in values, f"{var['name']}: {kind} {ref['name']} has no key {ref['key']}"
            env[var["name"]] = values[ref["key"]]
        return env


def pod_spec(workload: Doc) -> Doc:
    spec: Doc = workload["spec"]["template"]["spec"]
    return spec


def pod_labels(workload: Doc) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"].get("labels", {})
    return labels


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def kubectl_kustomize(directory: Path) -> subprocess.CompletedProcess[str]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail(
            "kubectl is not on PATH: tests/deploy renders deploy/k8s with `kubectl kustomize` "
            "(no cluster needed). Install kubectl >= 1.27.",
            pytrace=False,
        )
    return subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False
    )


def copy_k8s(destination: Path) -> Path:
    """deploy/k8s without any real secrets.env a developer may have next to the example."""
    target = destination / "k8s"
    shutil.copytree(K8S, target, ignore=shutil.ignore_patterns("secrets.env"))
    return target


def render(overlay: str, workdir: Path) -> Render:
    directory = K8S / "overlays" / overlay
    if overlay == "prod":
        directory = copy_k8s(workdir) / "overlays" / "prod"
        secrets = SECRETS_EXAMPLE.read_text().replace("REPLACE_ME", TEST_SECRET)
        (directory / "secrets.env").write_text(secrets)
    result = kubectl_kustomize(directory)
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {directory} failed:\n{result.stderr}", pytrace=False)
    return Render(overlay, [doc for doc in yaml.safe_load_all(result.stdout) if doc])


def env_file_keys(text: str) -> set[str]:
    lines = (line.strip() for line in text.splitlines())
    return {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}
