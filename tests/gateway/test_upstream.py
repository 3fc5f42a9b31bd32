"""The upstream code parley_gateway.transport overrides is the code it was written against:
an upgrade of python-engineio, python-socketio, uvicorn or websockets must never drop one of
its fixes or speed-ups silently."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from parley_gateway.transport import upstream

PYPROJECT = Path(__file__).parents[2] / "services" / "gateway" / "pyproject.toml"
OVERRIDDEN_PACKAGES = {"uvicorn", "python-socketio", "python-engineio", "websockets"}


def test_the_overridden_upstream_code_is_unchanged() -> None:
    changed = upstream.changed()
    assert not changed, (
        "upstream code that parley_gateway.transport overrides or relies on has changed: read "
        "what changed, bring the override along, then set these digests in "
        f"parley_gateway/transport/upstream.py: {changed}"
    )


def test_the_overridden_packages_are_pinned_and_installed_as_pinned() -> None:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    pins = {(r := Requirement(line)).name: r.specifier for line in dependencies}
    for name in OVERRIDDEN_PACKAGES:
        specifier = pins[name]
        assert str(specifier).startswith("~="), f"{name} is not pinned with ~=: {specifier}"
        assert specifier.contains(version(name)), f"{name} {version(name)} is not {specifier}"


def test_a_change_is_noticed(monkeypatch: pytest.MonkeyPatch) -> None:
    names = {"engineio.async_socket": {"AsyncSocket.poll": "0" * 32}}
    monkeypatch.setattr(upstream, "UPSTREAM", names)
    assert list(upstream.changed()) == ["engineio.async_socket:AsyncSocket.poll"]
