"""Every namespace a workload lands in enforces the Pod Security level the project renders for it, and the API
server's Pod Security admission admits a Pod made from every rendered pod template there.

Each environment is a cluster of its own, and one server holds them all here: an environment's namespaces are made
as `<env>-<namespace>`, with exactly the labels the project renders (its Namespace objects; for a namespace Argo CD
creates, the Application's managedNamespaceMetadata). What a controller would add is added: the `default`
ServiceAccount, and the environment's ServiceAccounts (the ServiceAccount admission plugin refuses a pod whose
account does not exist). Each Pod is then created with a dry-run: the server admits it or refuses it, and tells
whether it would warn (the namespaces also `warn` at the level they enforce).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from constructs_lib.pod_security_labels import missing_labels
from delivery.pod_security import DEFAULT_LEVEL, ENFORCE_LABEL, enforced_levels, violations
from tests.cluster import report
from tests.cluster.control_plane import Client
from tests.cluster.pods import NamespaceLabels, Template, pod, rendered_namespace_labels, templates
from tests.cluster.rendered import environment_objects, environments, in_parallel

ENVIRONMENTS = environments()


def cluster_namespace(environment: str, namespace: str) -> str:
    return f"{environment}-{namespace}"


def _workload_namespaces(environment: str) -> dict[str, NamespaceLabels | None]:
    rendered = environment_objects(environment)
    labelled = rendered_namespace_labels(rendered)
    return {
        namespace: labelled.get(namespace)
        for namespace in sorted({t.namespace for t in templates(rendered) if t.namespace})
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_workload_namespace_carries_the_rendered_pod_security_labels(environment: str, client: Client) -> None:
    rendered = environment_objects(environment)
    levels = enforced_levels([obj.manifest for obj in rendered])
    problems = []
    for namespace, source in _workload_namespaces(environment).items():
        if source is None:
            problems.append(
                f"{namespace}: workloads land here, but nothing the project renders labels it (no Namespace object, "
                f"no Application with CreateNamespace=true); the checks assume {DEFAULT_LEVEL}, the cluster would "
                "enforce its own default"
            )
            continue
        if missing := missing_labels(source.labels):
            problems.append(f"{namespace} ({source.source}): no {missing}")
        if source.labels.get(ENFORCE_LABEL) != levels.get(namespace):
            problems.append(
                f"{namespace} ({source.source}): enforces {source.labels.get(ENFORCE_LABEL)!r}, the project's checks "
                f"assume {levels.get(namespace)!r}"
            )
        name = cluster_namespace(environment, namespace)
        client.ensure_namespace(name, source.labels)
        stored = client.request("GET", f"/api/v1/namespaces/{name}").body["metadata"].get("labels", {})
        if {k: stored.get(k) for k in source.pod_security} != source.pod_security:
            problems.append(f"{namespace}: the server stored {stored}, not {source.pod_security}")
    assert not problems, "\n".join(problems)
    described = ", ".join(
        f"{namespace} ({source.labels.get(ENFORCE_LABEL)} {source.labels.get(f'{ENFORCE_LABEL}-version')})"
        for namespace, source in _workload_namespaces(environment).items()
        if source is not None
    )
    report.add(f"pod security: {environment}: every workload namespace enforces what the project renders: {described}")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_pod_from_every_pod_template_is_admitted(environment: str, client: Client) -> None:
    rendered = environment_objects(environment)
    namespaces = _workload_namespaces(environment)
    levels = enforced_levels([obj.manifest for obj in rendered])
    for namespace, source in namespaces.items():
        client.ensure_namespace(cluster_namespace(environment, namespace), source.labels if source else {})
    for account in (obj for obj in rendered if obj.kind == "ServiceAccount" and obj.namespace in namespaces):
        manifest: dict[str, Any] = {
            **account.manifest,
            "metadata": {
                **account.manifest["metadata"],
                "namespace": cluster_namespace(environment, account.namespace or ""),
            },
        }
        response = client.apply(manifest, manager="cluster-tests")
        assert response.ok, f"{account.where}: {response.message}"
    pod_templates = templates(rendered)
    assert pod_templates, f"{environment} renders no pod template"

    def admit(template: Template) -> tuple[int, str, list[str]]:
        namespace = cluster_namespace(environment, template.namespace or "")
        answer = client.create(pod(template, namespace), dry_run=True)
        return answer.status, answer.message, answer.warnings

    problems = []
    for template, (status, message, warnings) in zip(pod_templates, in_parallel(admit, pod_templates), strict=True):
        level = levels.get(template.namespace or "", DEFAULT_LEVEL)
        ours = [f"{v.field} {v.problem}" for v in violations(level, _as_pod(template.template))]
        if status != 201:
            problems.append(f"{template.owner.where}: the server refuses its pod ({status}): {message}")
        if warnings:
            problems.append(f"{template.owner.where}: the server warns: {warnings}")
        if ours:
            problems.append(f"{template.owner.where}: delivery/pod_security.py refuses it at {level}: {ours}")
    assert not problems, "\n".join(problems)
    report.add(
        f"pod security: {environment}: {len(pod_templates)} of {len(pod_templates)} pod templates admitted as Pods, "
        "no warnings"
    )


def _as_pod(template: Mapping[str, Any]) -> dict[str, Any]:
    return {"metadata": template.get("metadata", {}), "spec": template.get("spec", {})}
