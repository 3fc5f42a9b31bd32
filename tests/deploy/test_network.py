"""NetworkPolicies and Ingresses: who reaches what."""

from __future__ import annotations

import pytest

from tests.deploy.manifests import OVERLAYS, Doc, Render, pod_labels, selects

OUTSIDE_NAMESPACES = {"ingress-nginx", "monitoring"}


def policy_for(render: Render, service: str) -> Doc:
    labels = pod_labels(render.deployment(service))
    (policy,) = [
        p for p in render.of_kind("NetworkPolicy") if selects(p["spec"]["podSelector"]["matchLabels"], labels)
    ]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    return policy


def same_namespace_pods_allowed(render: Render, policy: Doc) -> set[str]:
    """Names of the workloads of this namespace whose pods the policy lets in (on http)."""
    allowed = set()
    for rule in policy["spec"]["ingress"]:
        assert rule.get("from"), "a rule without `from` lets everyone in"
        ports = {p["port"] for p in rule["ports"]}
        if ports == {"metrics"}:
            assert only_monitoring(rule), "only Prometheus reads /metrics"
            continue
        assert ports == {"http"}
        assert not any("monitoring" in str(peer) for peer in rule["from"]), "Prometheus needs no http"
        for peer in rule["from"]:
            assert peer, "an empty peer lets everyone in"
            if "namespaceSelector" in peer:
                names = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                assert names in OUTSIDE_NAMESPACES
                continue
            selector = peer["podSelector"].get("matchLabels", {})
            assert selector, "an empty podSelector lets in every pod of the namespace"
            allowed |= {w["metadata"]["name"] for w in render.workloads() if selects(selector, pod_labels(w))}
    return allowed


def only_monitoring(rule: Doc) -> bool:
    return [p.get("namespaceSelector", {}).get("matchLabels") for p in rule["from"]] == [
        {"kubernetes.io/metadata.name": "monitoring"}
    ]


def http_namespaces(policy: Doc) -> set[str]:
    return {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for rule in policy["spec"]["ingress"]
        if {p["port"] for p in rule["ports"]} == {"http"}
        for peer in rule["from"]
        if "namespaceSelector" in peer
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", ["messages", "presence", "gateway"])
def test_only_prometheus_reads_metrics(renders: dict[str, Render], overlay: str, service: str) -> None:
    rules = policy_for(renders[overlay], service)["spec"]["ingress"]
    metrics = [rule for rule in rules if {p["port"] for p in rule["ports"]} == {"metrics"}]
    assert len(metrics) == 1 and only_monitoring(metrics[0])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_ingress_reaches_the_gateways(renders: dict[str, Render], overlay: str) -> None:
    """So that the X-Forwarded-For the gateway believes (FORWARDED_ALLOW_IPS) is the ingress's."""
    render = renders[overlay]
    policy = policy_for(render, "gateway")
    assert same_namespace_pods_allowed(render, policy) == set()
    assert http_namespaces(policy) == {"ingress-nginx"}
    (gateway,) = [c for c in render.parley_containers() if c.service == "gateway"]
    assert render.env(gateway).get("FORWARDED_ALLOW_IPS") == "*"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_gateways_and_the_ingress_reach_messages(renders: dict[str, Render], overlay: str) -> None:
    render = renders[overlay]
    policy = policy_for(render, "messages")
    assert same_namespace_pods_allowed(render, policy) == {"parley-gateway"}
    assert http_namespaces(policy) == {"ingress-nginx"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nothing_in_the_namespace_reaches_presence(renders: dict[str, Render], overlay: str) -> None:
    render = renders[overlay]
    assert same_namespace_pods_allowed(render, policy_for(render, "presence")) == set()


def routes(render: Render) -> dict[str, tuple[Doc, str]]:
    found = {}
    for ingress in render.of_kind("Ingress"):
        assert ingress["spec"]["ingressClassName"] == "nginx"
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["pathType"] == "Prefix"
                found[path["path"]] = (ingress, path["backend"]["service"]["name"])
                service = render.get("Service", path["backend"]["service"]["name"])
                assert path["backend"]["service"]["port"]["name"] in {
                    p["name"] for p in service["spec"]["ports"]
                }
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ingress_routes_clients_to_the_gateways_and_api_to_messages(
    renders: dict[str, Render], overlay: str
) -> None:
    found = routes(renders[overlay])
    assert {path: service for path, (_, service) in found.items()} == {
        "/": "parley-gateway",
        "/api": "parley-messages",
    }
    gateway_ingress, _ = found["/"]
    annotations = gateway_ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert annotations["nginx.ingress.kubernetes.io/affinity-mode"] == "persistent"
    for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(annotations[f"nginx.ingress.kubernetes.io/{timeout}"]) >= 3600
    api_ingress, _ = found["/api"]
    assert "nginx.ingress.kubernetes.io/affinity" not in api_ingress["metadata"].get("annotations", {})
