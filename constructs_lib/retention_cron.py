"""RetentionCron: a hardened CronJob for recurring maintenance (pruning, reports, clean-ups, batch processing)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

from cdk8s_plus_27 import k8s
from constructs import Construct

from constructs_lib.batch_job import PodWorkload, PodWorkloadProps
from constructs_lib.errors import PropsError
from value_types.schedules import SCHEDULE, TIME_ZONE

ConcurrencyPolicy = Literal["Forbid", "Allow", "Replace"]
# CronJob names feed Job names (name + 11 characters) and the pod's job-name label (63 characters).
_MAX_NAME = 52


@dataclass(frozen=True, kw_only=True)
class RetentionCronProps(PodWorkloadProps):
    """Props of `RetentionCron`: its `PodWorkloadProps` (`name` at most 52 characters, so Job and pod names fit;
    the labels' component names the task, e.g. `retention`; `pod` with its retries `backoff_limit` and deadline
    `active_deadline_seconds`; `annotations` on the CronJob), and when it runs.

    Attributes:
        schedule: five-field cron expression, e.g. `0 3 * * *`.
        time_zone: IANA time zone the schedule is read in, e.g. `Europe/Amsterdam`. Default: the controller's (UTC
            on managed clusters). Prefer setting it: a schedule without one moves with the cluster's configuration.
        concurrency_policy: `Forbid` (default: a run still going skips the next), `Allow` or `Replace`.
        starting_deadline_seconds: a run that cannot start within this many seconds of its time is skipped.
            Default: none (Kubernetes then counts missed runs from the last one, and stops after 100).
        successful_jobs_history_limit: finished Jobs kept for their logs. Default 3.
        failed_jobs_history_limit: failed Jobs kept for their logs. Default 1.
        suspend: render the CronJob suspended. Default False.
    """

    schedule: str
    time_zone: str | None = None
    concurrency_policy: ConcurrencyPolicy = "Forbid"
    starting_deadline_seconds: int | None = None
    successful_jobs_history_limit: int = 3
    failed_jobs_history_limit: int = 1
    suspend: bool = False


# What RetentionCronProps adds to PodWorkloadProps is the CronJob spec's own fields, under the same names: they are
# passed to it as they are.
_CRON_JOB_SPEC_FIELDS = tuple(
    prop.name
    for prop in fields(RetentionCronProps)
    if prop.name not in {common.name for common in fields(PodWorkloadProps)}
)


class RetentionCron(PodWorkload):
    """A CronJob whose runs are hardened `JobPod`s, never overlap by default, and are bounded in time."""

    def __init__(self, scope: Construct, id: str, props: RetentionCronProps) -> None:
        super().__init__(scope, id, kind="RetentionCron", name=props.name, labels=props.labels, pod=props.pod)
        _validate(props)
        labels = props.labels.all
        self.resource = k8s.KubeCronJob(
            self,
            "Resource",
            metadata=self.object_meta(props.annotations),
            spec=k8s.CronJobSpec(
                **{name: getattr(props, name) for name in _CRON_JOB_SPEC_FIELDS},
                job_template=k8s.JobTemplateSpec(metadata=k8s.ObjectMeta(labels=labels), spec=props.pod.render(labels)),
            ),
        )


def _validate(props: RetentionCronProps) -> None:
    construct = "RetentionCron"
    if len(props.name) > _MAX_NAME:
        raise PropsError(construct, "name", props.name, f"at most {_MAX_NAME} characters (Job names add 11)")
    SCHEDULE.require(construct, "schedule", props.schedule)
    if props.time_zone is not None:
        TIME_ZONE.require(construct, "time_zone", props.time_zone)
    if props.concurrency_policy not in ("Forbid", "Allow", "Replace"):
        raise PropsError(construct, "concurrency_policy", props.concurrency_policy, "Forbid | Allow | Replace")
    if props.starting_deadline_seconds is not None and props.starting_deadline_seconds < 10:
        raise PropsError(
            construct,
            "starting_deadline_seconds",
            props.starting_deadline_seconds,
            "an integer >= 10 (the controller checks every 10 s; less can skip every run)",
        )
    for name in ("successful_jobs_history_limit", "failed_jobs_history_limit"):
        if getattr(props, name) < 0:
            raise PropsError(construct, name, getattr(props, name), "an integer >= 0")
