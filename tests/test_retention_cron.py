"""RetentionCron: a hardened, non-overlapping, bounded CronJob, generic enough for any recurring task."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from constructs_lib import ContainerSpec, JobPod, PropsError, RecommendedLabels, RetentionCron, RetentionCronProps
from tests.construct_helpers import IMAGE, RESOURCES, only, synth

LABELS = RecommendedLabels(name="app", component="retention", version="1")
POD = JobPod(container=ContainerSpec(name="prune", image=IMAGE, resources=RESOURCES, command=["prune"]))


def props(**overrides: Any) -> RetentionCronProps:
    return dataclasses.replace(
        RetentionCronProps(name="app-retention", labels=LABELS, schedule="0 3 * * *", pod=POD), **overrides
    )


def render(cron_props: RetentionCronProps) -> dict[str, Any]:
    return only(synth(lambda chart: RetentionCron(chart, "Cron", cron_props)), "CronJob")


def test_defaults_are_safe() -> None:
    spec = render(props())["spec"]
    assert spec["schedule"] == "0 3 * * *"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["successfulJobsHistoryLimit"] == 3
    assert spec["failedJobsHistoryLimit"] == 1
    assert "timeZone" not in spec
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 1
    assert job["activeDeadlineSeconds"] == 600
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["resources"]["requests"] == {"cpu": "100m", "memory": "128Mi"}
    assert job["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == "retention"


def test_kairoflow_email_processor_shape() -> None:
    """The KairoFlow seed's email processor: every minute, Forbid, 50 s deadline, 128Mi/256Mi."""
    pod = dataclasses.replace(POD, active_deadline_seconds=50)
    spec = render(props(schedule="*/1 * * * *", pod=pod, time_zone="Europe/Amsterdam"))["spec"]
    assert spec["schedule"] == "*/1 * * * *"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["timeZone"] == "Europe/Amsterdam"
    assert spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 50


@pytest.mark.parametrize(
    ("overrides", "prop", "allowed"),
    [
        ({"schedule": "0 3 * *"}, "schedule", "five cron fields"),
        ({"schedule": "@daily"}, "schedule", "five cron fields"),
        ({"schedule": "0 24 * * *"}, "schedule", "five cron fields"),
        ({"schedule": "*/0 * * * *"}, "schedule", "five cron fields"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "IANA"),
        ({"concurrency_policy": "Sometimes"}, "concurrency_policy", "Forbid | Allow | Replace"),
        ({"starting_deadline_seconds": 5}, "starting_deadline_seconds", ">= 10"),
        ({"successful_jobs_history_limit": -1}, "successful_jobs_history_limit", ">= 0"),
        ({"name": "x" * 53}, "name", "at most 52"),
        ({"pod": dataclasses.replace(POD, active_deadline_seconds=0)}, "active_deadline_seconds", ">= 1"),
        ({"pod": dataclasses.replace(POD, backoff_limit=-1)}, "backoff_limit", ">= 0"),
        (
            {"pod": dataclasses.replace(POD, restart_policy="Always")},  # type: ignore[arg-type]
            "restart_policy",
            "Never | OnFailure",
        ),
    ],
)
def test_validation_errors(overrides: dict[str, Any], prop: str, allowed: str) -> None:
    with pytest.raises(PropsError) as caught:
        render(props(**overrides))
    assert caught.value.construct == "RetentionCron"
    assert caught.value.prop == prop
    assert allowed in caught.value.allowed
