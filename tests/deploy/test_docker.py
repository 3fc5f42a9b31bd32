"""deploy/docker/Dockerfile: one final stage per service, each running a module that exists."""

from __future__ import annotations

import importlib.util
import json
import re

from tests.deploy.manifests import DOCKERFILE


def test_each_service_stage_runs_its_module() -> None:
    text = DOCKERFILE.read_text()
    stages = dict(re.findall(r"^FROM runtime AS runtime-(\w+)\nCMD (\[.*\])$", text, flags=re.MULTILINE))
    assert set(stages) == {"messages", "gateway", "presence"}
    for service, cmd in stages.items():
        command = json.loads(cmd)
        assert command == ["python", "-m", f"parley_{service}"]
        assert importlib.util.find_spec(f"parley_{service}.__main__") is not None
    assert text.rstrip().endswith("FROM runtime-${SERVICE}")


def test_image_runs_as_a_user_without_healthcheck() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^USER 10001:10001$", text, flags=re.MULTILINE)
    assert not re.search(r"^\s*HEALTHCHECK", text, flags=re.MULTILINE | re.IGNORECASE)
    assert "-c constraints.txt" in text
