"""SyncHookJob: an Argo CD hook Job, hardened like every other workload."""

from __future__ import annotations

import dataclasses

import pytest

from constructs_lib import ContainerSpec, PropsError, RecommendedLabels, SyncHookJob, SyncHookJobProps
from tests.construct_helpers import IMAGE, RESOURCES, only, synth

LABELS = RecommendedLabels(name="web", component="migration", version="1.2.3")
PROPS = SyncHookJobProps(
    name="web-migrate",
    labels=LABELS,
    container=ContainerSpec(name="migrate", image=IMAGE, resources=RESOURCES, command=["migrate", "up"]),
)


def test_presync_hook_with_before_hook_creation_by_default() -> None:
    job = only(synth(lambda chart: SyncHookJob(chart, "Migrate", PROPS)), "Job")
    assert job["metadata"]["annotations"] == {
        "argocd.argoproj.io/hook": "PreSync",
        "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
    }
    assert job["spec"]["backoffLimit"] == 1
    assert job["spec"]["activeDeadlineSeconds"] == 600
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["containers"][0]["volumeMounts"] == [{"mountPath": "/tmp", "name": "writable-1"}]
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "migration"


@pytest.mark.parametrize(
    ("overrides", "prop"),
    [
        ({"phase": "Before"}, "phase"),
        ({"backoff_limit": -1}, "backoff_limit"),
        ({"active_deadline_seconds": 0}, "active_deadline_seconds"),
        ({"container": dataclasses.replace(PROPS.container, env={"DB_PASSWORD": "x"})}, "container.env.DB_PASSWORD"),
    ],
)
def test_bad_props(overrides: dict[str, object], prop: str) -> None:
    with pytest.raises(PropsError) as caught:
        synth(lambda chart: SyncHookJob(chart, "Migrate", dataclasses.replace(PROPS, **overrides)))  # type: ignore[arg-type]
    assert caught.value.prop == prop
