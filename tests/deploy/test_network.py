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
    """Names of the workloads of this namespace whose pods the policy lets in."""
    allowed = set()
    for rule in policy["spec"]["ingress"]:
        assert rule.get("from"), "a rule without `from` lets everyone in"
        assert {p["port"] for p in rule["ports"]} == {"http"}
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


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_gateways_and_the_ingress_reach_messages(renders: dict[str, Render], overlay: str) -> None:
    render = renders[overlay]
    policy = policy_for(render, "messages")
    assert same_namespace_pods_allowed(render, policy) == {"parley-gateway"}
    namespaces = {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for rule in policy["spec"]["ingress"]
        for peer in rule["from"]
        if "namespaceSelector" in peer
    }
    assert namespaces == OUTSIDE_NAMESPACES


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
