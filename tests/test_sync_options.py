"""replace_on_sync: a construct opts an object into Argo CD's delete and re-create, and the diff expects it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cdk8s  # as a module: pytest would collect cdk8s.Testing as a test class
import pytest

from constructs_lib import (
    BatchJob,
    BatchJobProps,
    ContainerSpec,
    JobPod,
    PropsError,
    RecommendedLabels,
    add_sync_options,
    replace_on_sync,
)
from constructs_lib.sync_options import SYNC_OPTIONS_ANNOTATION, replaces_on_sync, sync_options
from delivery.upgrade_rules import Impact, classify_change
from tests.construct_helpers import RESOURCES, only, synth
from value_types.images import ImageSettings


def report_job(chart: cdk8s.Chart, tag: str, annotations: Mapping[str, str] | None = None) -> BatchJob:
    image = ImageSettings(repository="ghcr.io/acme/report", tag=tag)
    return BatchJob(
        chart,
        "Report",
        BatchJobProps(
            name="report",
            labels=RecommendedLabels(name="report", component="batch", version=tag),
            pod=JobPod(container=ContainerSpec(name="report", image=image, resources=RESOURCES)),
            annotations=annotations or {},
        ),
    )


def rendered_job(tag: str, annotations: Mapping[str, str] | None = None, replace: bool = True) -> dict[str, Any]:
    """The small Job construct, opted into replacement unless `replace` is false, as it renders."""

    def build(chart: cdk8s.Chart) -> None:
        job = report_job(chart, tag, annotations)
        if replace:
            replace_on_sync(job.resource)

    return only(synth(build), "Job")


def test_replace_on_sync_sets_force_and_replace() -> None:
    annotations = rendered_job("1.0.0")["metadata"]["annotations"]
    assert annotations[SYNC_OPTIONS_ANNOTATION] == "Force=true,Replace=true"
    assert replaces_on_sync(annotations)


def test_replace_on_sync_merges_with_options_already_there() -> None:
    existing = {SYNC_OPTIONS_ANNOTATION: "Prune=false, Replace=false", "argocd.argoproj.io/sync-wave": "1"}
    annotations = rendered_job("1.0.0", existing)["metadata"]["annotations"]
    assert annotations[SYNC_OPTIONS_ANNOTATION] == "Prune=false,Replace=true,Force=true"
    assert annotations["argocd.argoproj.io/sync-wave"] == "1"
    assert sync_options(annotations) == {"Prune": "false", "Replace": "true", "Force": "true"}


def test_without_it_nothing_is_added() -> None:
    assert "annotations" not in rendered_job("1.0.0", replace=False)["metadata"]


def test_the_diff_reports_a_replaced_job_as_replaced_on_sync() -> None:
    (finding,) = classify_change(rendered_job("1.0.0"), rendered_job("1.1.0"))
    assert (finding.impact, finding.field) == (Impact.REPLACED_ON_SYNC, "spec.template")
    (plain,) = classify_change(rendered_job("1.0.0", replace=False), rendered_job("1.1.0", replace=False))
    assert plain.impact is Impact.REFUSED


def test_bad_options_name_the_prop() -> None:
    with pytest.raises(PropsError, match="prop 'options'"):
        synth(lambda chart: add_sync_options(report_job(chart, "1").resource, {"Replace": "true,Force=true"}))
