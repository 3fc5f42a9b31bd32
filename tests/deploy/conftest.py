"""The overlays of deploy/k8s, rendered once per test session."""

from __future__ import annotations

import pytest

from tests.deploy.manifests import OVERLAYS, Render, render


@pytest.fixture(scope="session")
def renders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Render]:
    workdir = tmp_path_factory.mktemp("k8s")
    return {overlay: render(overlay, workdir) for overlay in OVERLAYS}
