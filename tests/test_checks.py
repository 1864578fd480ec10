"""The whole-environment checks that every synth runs: each rule fires on a broken object set."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from delivery.checks import RenderCheckError, check_environment, find_problems
from delivery.render import RenderedEnvironment

LABELS = {
    "app.kubernetes.io/name": "web",
    "app.kubernetes.io/instance": "web",
    "app.kubernetes.io/component": "api",
    "app.kubernetes.io/part-of": "web",
    "app.kubernetes.io/version": "1",
    "app.kubernetes.io/managed-by": "cdk8s",
}
SELECTOR = {
    k: LABELS[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component")
}


def good() -> list[dict[str, Any]]:
    meta = {"name": "web", "namespace": "apps", "labels": LABELS}
    return [
        {
            "kind": "Deployment",
            "metadata": meta,
            "spec": {
                "selector": {"matchLabels": SELECTOR},
                "template": {"metadata": {"labels": LABELS}, "spec": {"automountServiceAccountToken": False}},
            },
        },
        {"kind": "Service", "metadata": meta, "spec": {"selector": SELECTOR, "ports": [{"name": "http", "port": 80}]}},
        {"kind": "NetworkPolicy", "metadata": meta, "spec": {"podSelector": {"matchLabels": SELECTOR}}},
        {
            "kind": "Ingress",
            "metadata": meta,
            "spec": {
                "rules": [{"http": {"paths": [{"backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]
            },
        },
        {
            "kind": "HorizontalPodAutoscaler",
            "metadata": meta,
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}},
        },
    ]


def test_a_consistent_set_passes() -> None:
    assert list(find_problems(good())) == []


def broken(kind: str, path: list[str], value: Any) -> list[dict[str, Any]]:
    manifests = copy.deepcopy(good())
    target = next(m for m in manifests if m["kind"] == kind)
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return manifests


@pytest.mark.parametrize(
    ("manifests", "expected"),
    [
        (broken("Service", ["spec", "selector"], {"app.kubernetes.io/name": "other"}), "matches no pod"),
        (broken("NetworkPolicy", ["spec", "podSelector"], {"matchLabels": {"x": "y"}}), "matches no pod"),
        (
            broken("Deployment", ["spec", "selector"], {"matchLabels": {"cdk8s.io/metadata.addr": "c8"}}),
            "metadata.addr",
        ),
        (broken("Deployment", ["spec", "replicas"], 3), "fixed replicas while an HPA"),
        (
            broken("HorizontalPodAutoscaler", ["spec", "scaleTargetRef"], {"kind": "Deployment", "name": "x"}),
            "not rendered",
        ),
        (broken("Service", ["spec", "ports"], [{"name": "grpc", "port": 9000}]), "backend port"),
        (
            broken("Service", ["metadata"], {"name": "other", "namespace": "apps", "labels": LABELS}),
            "backend Service web",
        ),
        (broken("Deployment", ["metadata", "labels"], {}), "missing recommended labels"),
        (
            broken("NetworkPolicy", ["spec", "ingress"], [{"from": [{"podSelector": {"matchLabels": {"a": "b"}}}]}]),
            "peer selector",
        ),
        (
            broken(
                "Deployment",
                ["spec", "template", "spec"],
                {"containers": [{"name": "c", "volumeMounts": [{"name": "v"}]}]},
            ),
            "undeclared volume v",
        ),
        (
            broken(
                "Deployment",
                ["spec", "template", "spec"],
                {"containers": [{"name": "c", "envFrom": [{"configMapRef": {"name": "cm"}}]}]},
            ),
            "reads ConfigMap cm",
        ),
        (
            broken(
                "Deployment",
                ["spec", "template", "spec"],
                {"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]},
            ),
            "PersistentVolumeClaim data",
        ),
        (
            broken(
                "Deployment",
                ["spec", "template", "spec"],
                {"serviceAccountName": "web", "automountServiceAccountToken": True},
            ),
            "no RoleBinding grants",
        ),
        (
            [*good(), {"kind": "Role", "metadata": {"name": "r", "namespace": "apps", "labels": LABELS}}],
            "bound by no RoleBinding",
        ),
        (
            [
                *good(),
                {
                    "kind": "RoleBinding",
                    "metadata": {"name": "b", "namespace": "apps", "labels": LABELS},
                    "roleRef": {"kind": "Role", "name": "missing"},
                    "subjects": [{"kind": "ServiceAccount", "name": "ghost"}],
                },
            ],
            "binds Role/missing",
        ),
        (
            [
                *good(),
                {"kind": "Secret", "metadata": {"name": "s", "labels": LABELS}, "data": {"password": "aHVudGVyMg=="}},
            ],
            "would be committed to git",
        ),
    ],
)
def test_each_rule_fires(manifests: list[dict[str, Any]], expected: str) -> None:
    with pytest.raises(RenderCheckError, match=expected):
        check_environment(manifests)


def test_rendered_environments_pass(rendered: dict[str, RenderedEnvironment]) -> None:
    for by_stack in rendered.values():
        assert list(find_problems([m for objs in by_stack.values() for m in objs])) == []
