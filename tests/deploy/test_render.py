"""Both overlays render offline and every document is valid against the Kubernetes schemas."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from tests.deploy.manifests import (
    KUBERNETES_VERSION,
    OVERLAYS,
    SECRETS_EXAMPLE,
    Render,
    copy_k8s,
    env_file_keys,
    kubectl_kustomize,
)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_document_is_valid_kubernetes(renders: dict[str, Render], overlay: str) -> None:
    """Strict schemas: an unknown field (a typo such as `readinessProbes`) is an error too."""
    problems = []
    for doc in renders[overlay].docs:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            problems.append(f"{doc['kind']} {doc['metadata']['name']}: {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            problems.append(exc.message)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_names_are_unique(renders: dict[str, Render], overlay: str) -> None:
    ids = [(doc["kind"], doc["metadata"]["name"]) for doc in renders[overlay].docs]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_everything_is_in_the_overlay_namespace(renders: dict[str, Render], overlay: str) -> None:
    render = renders[overlay]
    (namespace,) = render.of_kind("Namespace")
    name = namespace["metadata"]["name"]
    assert {doc["metadata"].get("namespace") for doc in render.docs if doc["kind"] != "Namespace"} == {name}
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_prod_does_not_render_without_its_secrets(tmp_path: Path) -> None:
    """No secrets.env, no prod: its placeholders cannot be deployed by accident."""
    result = kubectl_kustomize(copy_k8s(tmp_path) / "overlays" / "prod")
    assert result.returncode != 0
    assert "secrets.env" in result.stderr


def test_secrets_have_exactly_the_example_keys(renders: dict[str, Render]) -> None:
    """secrets.env.example lists what the overlays' Secret holds, no more, no less."""
    example = env_file_keys(SECRETS_EXAMPLE.read_text())
    assert example == {"JWT_SECRET", "INTERNAL_TOKEN", "DATABASE_URL", "REDIS_URL"}
    for overlay in OVERLAYS:
        render = renders[overlay]
        secret = render.named("Secret", "parley-secrets")["metadata"]["name"]
        assert set(render.data("Secret", secret)) == example, overlay
