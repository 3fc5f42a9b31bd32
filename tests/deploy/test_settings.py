"""What the manifests give each service agrees with what its settings class reads."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from parley_common.observability import metrics_app
from tests.deploy.manifests import (
    OVERLAYS,
    SETTINGS,
    Render,
    build_app,
    get_status,
    known_variables,
    required_variables,
)

DEFAULT_PORTS = {
    "http": 80,
    "https": 443,
    "postgresql": 5432,
    "postgres": 5432,
    "redis": 6379,
    "rediss": 6379,
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings must come from the manifests alone, not from CI's DATABASE_URL or REDIS_URL."""
    names = {name.upper() for cls in SETTINGS.values() for name in cls.model_fields}
    for name in names:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_required_variables_are_set(renders: dict[str, Render], overlay: str) -> None:
    render = renders[overlay]
    for container in render.parley_containers():
        missing = required_variables(container.service) - set(render.env(container))
        assert not missing, f"{overlay}: {container.workload['metadata']['name']} lacks {sorted(missing)}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_variable_the_service_does_not_read(renders: dict[str, Render], overlay: str) -> None:
    """Catches typos (PING_INTERVAL instead of PING_INTERVAL_MS) and leaked secrets."""
    render = renders[overlay]
    for container in render.parley_containers():
        unknown = set(render.env(container)) - known_variables(container.service)
        assert not unknown, f"{overlay}: {container.workload['metadata']['name']} sets {sorted(unknown)}"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("dev_mode", ["as rendered", "false"])
async def test_each_service_starts_from_its_manifest(
    renders: dict[str, Render], overlay: str, dev_mode: str
) -> None:
    """The settings validate, create_app accepts them (outside DEV_MODE too: no dev defaults
    are relied on), every path the pod is probed on is a route of the app, and the path it
    is scraped on is one of the metrics app (on METRICS_PORT), not of the public one."""
    render = renders[overlay]
    for container in render.parley_containers():
        env = render.env(container)
        if dev_mode == "false":
            env["DEV_MODE"] = "false"
        app = build_app(container.service, env)
        assert await get_status(app, "/no-such-path") == 404  # so that "not 404" means something
        probed = {
            container.spec[probe]["httpGet"]["path"]
            for probe in ("startupProbe", "readinessProbe", "livenessProbe")
            if probe in container.spec
        }
        for path in sorted(probed):
            status = await get_status(app, path)
            assert status not in (404, 405), f"{container.workload['metadata']['name']}: GET {path}: {status}"
        if container.kind == "Job":
            continue
        scraped = container.workload["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"]
        assert await get_status(metrics_app(), scraped) == 200
        assert await get_status(app, scraped) == 404


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_messages_uses_postgresql(renders: dict[str, Render], overlay: str) -> None:
    render = renders[overlay]
    urls = {render.env(c)["DATABASE_URL"] for c in render.parley_containers() if c.service == "messages"}
    assert urls and all(url.startswith("postgresql://") for url in urls), urls


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_in_cluster_urls_name_a_service_and_its_port(renders: dict[str, Render], overlay: str) -> None:
    """MESSAGES_URL, API_PROXY_URL, and in dev DATABASE_URL and REDIS_URL: a bare host name is
    a Service of the overlay, with that port. (Hosts with dots are outside it.)"""
    render = renders[overlay]
    checked = set()
    for container in render.parley_containers():
        for name, value in render.env(container).items():
            if not name.endswith("_URL"):
                continue
            url = urlsplit(value)
            if not url.hostname or "." in url.hostname:
                continue
            service = render.get("Service", url.hostname)
            port = url.port or DEFAULT_PORTS[url.scheme]
            assert port in {p["port"] for p in service["spec"]["ports"]}, f"{name}={value}"
            checked.add(name)
    assert "MESSAGES_URL" in checked


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_in_cluster_names_are_allowed_hosts_in_dev_mode(renders: dict[str, Render], overlay: str) -> None:
    """A DEV_MODE service answers only the Host names it knows: every Service another one
    calls it by (MESSAGES_URL, API_PROXY_URL) must be among its ALLOWED_HOSTS."""
    render = renders[overlay]
    containers = list(render.parley_containers())
    called = {
        urlsplit(value).hostname
        for c in containers
        for name, value in render.env(c).items()
        if name in ("MESSAGES_URL", "API_PROXY_URL")
    }
    for container in containers:
        env = render.env(container)
        if env.get("DEV_MODE") == "true":
            assert called <= set(env.get("ALLOWED_HOSTS", "").split(",")), container.workload["metadata"]
