"""delivery/upgrade_rules.py against the API server: for every rule, and for changes the rules call harmless, the old
form is applied for real (server-side apply, field manager `argocd-controller`), then the new form is applied as a
dry-run by the same manager. `main.py diff --exit-code` must say 3 exactly when the server refuses the change, or
accepts it without applying it (the change is then silently lost: the project reports it as refused).

Argo CD does not update everything in place, and each exception is tested for what Argo CD really does:
- a hook with `hook-delete-policy: BeforeHookCreation`, and an object with `Force=true,Replace=true`, are deleted and
  created again (the old one deleted for real, the new one created as a dry-run): the create must be accepted;
  the diff says 1 (3 only when the delete takes data with it, a claim);
- `Replace=true` alone is `kubectl replace`: an update with the whole object (PUT), refused like an apply.

In this cluster nothing binds a claim; a real one is bound by its provisioner, and a bound claim is what the claim
rules are about, so the test marks the old claim Bound (its status, as the PV controller writes it), under a
default StorageClass that allows expansion (the PersistentVolumeClaimResize admission plugin asks for one).

The second test runs the command itself, `main.py diff --dist OLD --exit-code`, on real objects of the prod render
made old by hand, and compares its exit code with the server's answer in the same way.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from delivery.diff import flatten
from environment_model.paths import ROOT
from tests.cluster import report
from tests.cluster.control_plane import FIELD_MANAGER, Client, Response
from tests.cluster.rendered import in_parallel
from tests.cluster.upgrades import Doc, Scenario, diff_exit_code, scenarios

SCENARIOS = scenarios()
STORAGE_CLASSES: list[Doc] = [
    {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": name,
            "annotations": {"storageclass.kubernetes.io/is-default-class": str(default).lower()},
        },
        "provisioner": "csi.example.test",
        "allowVolumeExpansion": True,
    }
    for name, default in (("standard", True), ("fast", False))
]
# Where the server accepts a change the project calls refused, or the reverse, for a reason that is understood:
# scenario name -> why. Each is a finding about delivery/upgrade_rules.py, kept here (not worked around) so that it
# stays visible until the rules change; the test fails when one goes away.
_DEFAULTED_ROLLING_UPDATE = (
    "The old form left the strategy out, so the API server defaulted it to RollingUpdate and filled in {block} "
    "(SetDefaults_{kind}). Nobody's manifest owns that block (not server-side apply's field manager, not kubectl's "
    "last-applied annotation), so an apply that only sets the new type keeps it, and the update is refused: "
    "{message}. delivery/upgrade_rules.py has no rule for it and calls the change in place. It goes through when "
    "the old form wrote the block out (the scenario '... written out before'), or the new one sets it to null."
)
KNOWN_DISAGREEMENTS: dict[str, str] = {
    # None: a strategy changed away from a defaulted RollingUpdate, found here first, is now a rule of
    # delivery/upgrade_rules.py. A new one fails the test until the rules agree with the server again.
}


@dataclass
class Verdict:
    """What the server did with the change, as Argo CD would make it."""

    outcome: str  # "refused", "not applied" (accepted, a changed field kept its old value), "applied"
    detail: str = ""
    invalid: str = ""  # the scenario proves nothing (its old form was refused, or an unexpected answer)


@pytest.fixture(scope="module")
def storage(client: Client) -> None:
    for manifest in STORAGE_CLASSES:
        assert client.apply(manifest, manager="cluster-tests").ok


def placed(doc: Doc, namespace: str, suffix: str, client: Client) -> Doc:
    """`doc` in `namespace` (a cluster-scoped one renamed with `suffix`), so that no two scenarios meet."""
    doc = copy.deepcopy(doc)
    if client.resource_type(doc["apiVersion"], doc["kind"]).namespaced:
        doc["metadata"]["namespace"] = namespace
    else:
        doc["metadata"]["name"] += f"-{suffix}"
    return doc


def bind(client: Client, claim: Doc) -> Response:
    """Mark a claim Bound with the capacity it asked for, as the PV controller does once a volume is provisioned."""
    requests = claim["spec"]["resources"]["requests"]
    status = {
        "phase": "Bound",
        "accessModes": claim["spec"]["accessModes"],
        "capacity": {"storage": requests["storage"]},
    }
    return client.merge_patch(claim, {"status": status}, subresource="status")


def delete_for_real(client: Client, doc: Doc) -> Response:
    """Delete, and finish what the controllers would: a claim's pvc-protection finalizer is removed once no pod uses
    it (none does), so it goes at once."""
    answer = client.delete(doc)
    if answer.ok and doc["kind"] == "PersistentVolumeClaim":
        client.merge_patch(doc, {"metadata": {"finalizers": None}})
    client.wait_for(f"{doc['kind']} {doc['metadata']['name']} to go", lambda: client.get(doc).status == 404, 30)
    return answer


def _leaves(doc: Any) -> dict[str, Any]:
    return {path: value for path, value in flatten(doc).items() if value not in ([], {})}


def _not_applied(old: Doc, new: Doc, updated: Doc, fresh: Doc | None) -> list[str]:
    """Changed fields whose value after the update is not what a fresh create of the new form gives (or, when the
    new form cannot be created on its own, not what it says): the server kept the old value (a Service's clusterIP
    left out of the manifest is the known case)."""
    old_leaves, new_leaves = _leaves(old), _leaves(new)
    changed = {path for path in old_leaves.keys() | new_leaves.keys() if old_leaves.get(path) != new_leaves.get(path)}
    if fresh is None:  # then only what the new form sets can be compared
        changed &= set(new_leaves)
    after, expected = _leaves(updated), _leaves(fresh) if fresh is not None else new_leaves
    return [
        f"{path} stays {after.get(path, '(none)')} (a create of the new form gives {expected.get(path, '(none)')})"
        for path in sorted(changed)
        if after.get(path) != expected.get(path)
    ]


def server_verdict(client: Client, index: int, scenario: Scenario) -> Verdict:
    namespace = f"upgrade-{index:03d}"
    client.ensure_namespace(namespace)
    old, new = (placed(doc, namespace, str(index), client) for doc in (scenario.old, scenario.new))
    created = client.apply(old, manager=FIELD_MANAGER)
    if created.status != 201:
        return Verdict("", invalid=f"its old form was refused: {created.status} {created.message}")
    if scenario.bound_claim and not (bound := bind(client, old)).ok:
        return Verdict("", invalid=f"the claim could not be marked Bound: {bound.message}")
    if scenario.sync == "delete-create":
        update = client.apply(new, dry_run=True, manager=FIELD_MANAGER)
        deleted = delete_for_real(client, old)
        recreated = client.create(new, dry_run=True)
        if not deleted.ok or not recreated.ok:
            return Verdict("refused", f"delete {deleted.status}, create {recreated.status}: {recreated.message}")
        as_update = "refused" if _refused(update) else "accepted"
        return Verdict("applied", f"deleted and created again (as an update it would be {as_update})")
    answer = (
        client.replace(new, dry_run=True)
        if scenario.sync == "replace"
        else client.apply(new, dry_run=True, manager=FIELD_MANAGER)
    )
    if _refused(answer):
        return Verdict("refused", f"{answer.status} {answer.reason}: {answer.message}")
    if not answer.ok:
        return Verdict("", invalid=f"unexpected answer {answer.status} {answer.reason}: {answer.message}")
    # An update may be accepted where a create of the same form is not (a Service going ExternalName keeps its
    # clusterIP: None, which the server then clears): then the new form itself is the reference.
    fresh = client.create(placed(scenario.new, "upgrade-fresh", f"fresh{index}", client), dry_run=True)
    lost = _not_applied(old, new, answer.body, fresh.body if fresh.ok else None)
    return Verdict("not applied", "; ".join(lost)) if lost else Verdict("applied")


def _refused(answer: Response) -> bool:
    """Refused for what the request asks: invalid (422, an immutable field) or forbidden by admission (403)."""
    return answer.status in (403, 422)


def _agrees(exit_code: int, verdict: Verdict) -> bool:
    return (exit_code == 3) == (verdict.outcome in ("refused", "not applied"))


def test_the_diff_says_3_exactly_when_the_server_refuses(client: Client, storage: None) -> None:
    client.ensure_namespace("upgrade-fresh")
    verdicts = in_parallel(lambda pair: server_verdict(client, *pair), list(enumerate(SCENARIOS)))
    invalid, disagreements, exceptions, counts = [], {}, [], {"refused": 0, "not applied": 0, "applied": 0}
    for scenario, verdict in zip(SCENARIOS, verdicts, strict=True):
        if verdict.invalid:
            invalid.append(f"{scenario.name}: {verdict.invalid}")
            continue
        counts[verdict.outcome] += 1
        exit_code, findings = diff_exit_code(scenario.old, scenario.new)
        said = (
            f"diff --exit-code says {exit_code} ({'; '.join(f'{f.field}: {f.reason}' for f in findings) or 'in place'})"
        )
        if scenario.sync == "delete-create":
            # Argo CD deletes and re-creates: the sync goes through. The diff may still say 3, but only for the
            # data the delete takes (a claim), never as a refusal.
            exceptions.append(f"{scenario.name}: {verdict.detail}; {said}")
            data_only = findings and all(f.impact.name == "DESTROYS_DATA" for f in findings)
            if verdict.outcome != "applied" or (exit_code == 3 and not data_only):
                disagreements[scenario.name] = (
                    f"Argo CD's delete and create: {verdict.outcome} {verdict.detail}; {said}"
                )
            continue
        if not _agrees(exit_code, verdict):
            disagreements[scenario.name] = f"the server: {verdict.outcome} {verdict.detail}; {said}"
    assert not invalid, "scenarios that prove nothing:\n" + "\n".join(invalid)
    unexplained = {name: why for name, why in disagreements.items() if name not in KNOWN_DISAGREEMENTS}
    assert not unexplained, "delivery/upgrade_rules.py and the API server disagree:\n" + "\n".join(
        f"{name}: {why}" for name, why in unexplained.items()
    )
    gone = sorted(set(KNOWN_DISAGREEMENTS) - set(disagreements))
    assert not gone, f"no longer a disagreement (remove from KNOWN_DISAGREEMENTS): {gone}"
    report.add(
        f"upgrades: {len(SCENARIOS)} scenarios: the server refused {counts['refused']}, accepted without applying "
        f"{counts['not applied']}, applied {counts['applied']}; diff --exit-code agrees on "
        f"{len(SCENARIOS) - len(disagreements)}"
        + (f", {len(disagreements)} known disagreements" if disagreements else "")
    )
    for line in exceptions:
        report.add(f"  Argo CD exception: {line}")
    not_applied = [
        f"{s.name}: {v.detail}" for s, v in zip(SCENARIOS, verdicts, strict=True) if v.outcome == "not applied"
    ]
    for line in not_applied:
        report.add(f"  accepted but not applied: {line}")
    for scenario, verdict in zip(SCENARIOS, verdicts, strict=True):
        if scenario.sync == "replace":
            report.add(f"  Argo CD exception: {scenario.name}: kubectl replace (PUT) {verdict.outcome}")
    for name in sorted(disagreements):
        report.add(f"  known disagreement: {name}: {disagreements[name]}")


# --- the command itself, on the prod render ------------------------------------------------------------------------

ENVIRONMENT = "prod"


@dataclass(frozen=True)
class CliScenario:
    name: str
    path: str  # under the render, e.g. prod/core-pipeline/deployment-core-pipeline.yaml
    make_old: Callable[[Doc], object]  # edits the current object into the old form
    expected_exit: int


def _first_container(doc: Doc) -> Doc:
    container: Doc = doc["spec"]["template"]["spec"]["containers"][0]
    return container


def _old_instance(doc: Doc) -> None:
    doc["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] = "old"
    doc["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/instance"] = "old"


def _claim_size(size: str) -> Callable[[Doc], object]:
    return lambda doc: doc["spec"]["resources"]["requests"].update(storage=size)


CLI_SCENARIOS = [
    CliScenario(
        "Deployment image",
        "prod/core-pipeline/deployment-core-pipeline.yaml",
        lambda d: _first_container(d).update(image="ghcr.io/example/old:1"),
        1,
    ),
    CliScenario("Deployment selector", "prod/core-pipeline/deployment-core-pipeline.yaml", _old_instance, 3),
    CliScenario(
        "StatefulSet claim template label",
        "prod/discord-monitor/statefulset-discord-bot-redis.yaml",
        lambda d: d["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"].update({"app.kubernetes.io/version": "6"}),
        3,
    ),
    CliScenario(
        "StatefulSet image",
        "prod/discord-monitor/statefulset-discord-bot-redis.yaml",
        lambda d: _first_container(d).update(image="redis:6-alpine"),
        1,
    ),
    CliScenario(
        "migration hook (BeforeHookCreation) image",
        "prod/core-pipeline/job-core-pipeline-migrate.yaml",
        lambda d: _first_container(d).update(image="ghcr.io/example/old:1"),
        1,
    ),
    CliScenario("claim grown", "prod/kairoflow/persistentvolumeclaim-kairoflow-uploads.yaml", _claim_size("1Gi"), 1),
    CliScenario(
        "claim shrunk", "prod/kairoflow/persistentvolumeclaim-kairoflow-uploads.yaml", _claim_size("9000Gi"), 3
    ),
    CliScenario(
        "RoleBinding roleRef",
        "prod/hivemind-bot/rolebinding-hivemind-bot-leader-election.yaml",
        lambda d: d["roleRef"].update(name="old-role"),
        3,
    ),
]


@pytest.fixture(scope="module")
def prod_render(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The prod environment rendered from the working tree, as `diff` renders it (dist/ may lag behind)."""
    out = tmp_path_factory.mktemp("render") / "dist"
    result = subprocess.run(
        [sys.executable, "main.py", "synth", "--env", ENVIRONMENT, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture
def stale_copies(prod_render: Path, tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    def copy_of(index: int) -> Path:
        target = tmp_path / f"old-{index}"
        shutil.copytree(prod_render, target)
        return target

    yield copy_of


def _cli_exit_code(old_dist: Path) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "main.py", "diff", "--env", ENVIRONMENT, "--dist", str(old_dist), "--exit-code"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def test_the_diff_command_on_real_objects(
    client: Client, storage: None, prod_render: Path, stale_copies: Callable[[int], Path]
) -> None:
    problems, lines = [], []
    for index, cli in enumerate(CLI_SCENARIOS):
        new: Doc = yaml.safe_load((prod_render / cli.path).read_text())
        old = copy.deepcopy(new)
        cli.make_old(old)
        assert old != new, cli.name
        stale = stale_copies(index)
        (stale / cli.path).write_text(yaml.safe_dump(old, sort_keys=False))
        exit_code, output = _cli_exit_code(stale)
        scenario = Scenario(cli.name, old, new, bound_claim=new["kind"] == "PersistentVolumeClaim")
        verdict = server_verdict(client, 900 + index, scenario)
        if verdict.invalid:
            problems.append(f"{cli.name}: {verdict.invalid}")
            continue
        if exit_code != cli.expected_exit:
            problems.append(f"{cli.name}: main.py diff exited {exit_code}, expected {cli.expected_exit}:\n{output}")
        server_blocks = verdict.outcome in ("refused", "not applied") and scenario.sync != "delete-create"
        if (exit_code == 3) != server_blocks:
            problems.append(
                f"{cli.name}: main.py diff exited {exit_code}; the server: {verdict.outcome} {verdict.detail}"
            )
        lines.append(f"{cli.name}: exit {exit_code}, server {verdict.outcome}")
    assert not problems, "\n".join(problems)
    report.add(f"upgrades through `main.py diff --exit-code` on {ENVIRONMENT}'s objects: " + "; ".join(lines))
