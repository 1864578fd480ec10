"""Every rendered object, of every environment and of the Argo CD folders, is accepted by the API server: a
server-side dry-run apply (`kubectl apply --server-side --dry-run=server`), which runs the server's defaulting,
validation (built-in kinds) or CRD schema validation (custom resources) and every admission plugin, storing nothing.

The Namespace objects are dry-run first, while no namespace exists (as in a new cluster); then every namespace an
object lives in is created (an Argo CD-created one, or `argocd` itself, plainly), since the server refuses even a
dry-run into a namespace that does not exist.
"""

from __future__ import annotations

import pytest

from tests.cluster import report
from tests.cluster.control_plane import Client, Response
from tests.cluster.rendered import RenderedObject, in_parallel, objects, scopes

SCOPES = scopes()
# Warnings that are not the project's to fix: Argo CD's own finalizer name predates the advice the server gives.
UPSTREAM_WARNINGS = (
    'metadata.finalizers: "resources-finalizer.argocd.argoproj.io": prefer a domain-qualified finalizer name',
)


@pytest.fixture(scope="module")
def namespace_dry_runs(client: Client) -> dict[str, list[tuple[RenderedObject, Response]]]:
    """scope -> its Namespace objects with the server's answer to their dry-run; afterwards every namespace that any
    scope's objects live in exists."""
    answers = {}
    for scope in SCOPES:
        namespaces = [obj for obj in objects(scope) if obj.kind == "Namespace"]
        answers[scope] = [(obj, client.apply(obj.manifest, dry_run=True)) for obj in namespaces]
    for name in sorted({obj.namespace for scope in SCOPES for obj in objects(scope) if obj.namespace}):
        client.ensure_namespace(name)
    return answers


def _problems(answers: list[tuple[RenderedObject, Response]]) -> list[str]:
    return [
        f"{obj.where}: {answer.status} {answer.reason}: {answer.message}" for obj, answer in answers if not answer.ok
    ]


@pytest.mark.parametrize("scope", SCOPES)
def test_every_object_is_accepted_by_a_server_side_dry_run(
    scope: str, client: Client, namespace_dry_runs: dict[str, list[tuple[RenderedObject, Response]]]
) -> None:
    rendered = [obj for obj in objects(scope) if obj.kind != "Namespace"]
    assert rendered, f"dist/{scope}/ holds no objects"
    answers = [
        *namespace_dry_runs[scope],
        *zip(rendered, in_parallel(lambda obj: client.apply(obj.manifest, dry_run=True), rendered), strict=True),
    ]
    problems = _problems(answers)
    assert not problems, f"the API server refuses {len(problems)} of dist/{scope}/'s objects:\n" + "\n".join(problems)
    # A warning is no refusal, but an object the server warns about (a deprecated API, a Pod Security warning on
    # a workload) is one to fix before the server refuses it.
    warnings = [
        f"{obj.where}: {warning}"
        for obj, answer in answers
        for warning in answer.warnings
        if not warning.startswith(UPSTREAM_WARNINGS)
    ]
    assert not warnings, f"the API server warns about dist/{scope}/'s objects:\n" + "\n".join(warnings)
    kinds = sorted({obj.kind for obj, _ in answers})
    report.add(f"dry-run: dist/{scope}/: {len(answers)} of {len(answers)} objects accepted ({', '.join(kinds)})")
