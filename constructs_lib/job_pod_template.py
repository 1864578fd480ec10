"""JobPodTemplate: a Job's pod as a core/v1 PodTemplate, for an orchestrator that creates the Jobs at run time."""

from __future__ import annotations

from dataclasses import dataclass

from cdk8s_plus_27 import k8s
from constructs import Construct

from constructs_lib.batch_job import PodWorkload, PodWorkloadProps

# A policy scanner exempts a Job's pods from the liveness and readiness checks (a run that ends needs neither);
# it does not know a PodTemplate holds the same kind of pod, so each template says so, with the reason.
_SCANNER_EXEMPTIONS = {
    "checkov.io/skip1": "CKV_K8S_8=a run-to-completion Job pod: no liveness probe, as for Jobs",
    "checkov.io/skip2": "CKV_K8S_9=a run-to-completion Job pod: no readiness probe, as for Jobs",
}


@dataclass(frozen=True, kw_only=True)
class JobPodTemplateProps(PodWorkloadProps):
    """Props of `JobPodTemplate`: its `PodWorkloadProps`. `name` is the PodTemplate's, which the orchestrator looks
    it up by; the pod's `active_deadline_seconds` bounds each pod, and its `backoff_limit` is the orchestrator's to
    apply to the Jobs it creates."""


class JobPodTemplate(PodWorkload):
    """A hardened run-to-completion pod, published as a PodTemplate instead of run as a Job.

    A Job's pod template cannot be changed once the Job exists, so a Job kept in a GitOps folder breaks the sync
    of the next image bump. A PodTemplate can be updated in place, runs nothing by itself, and gives an
    orchestrator the reviewed pod to copy into each Job it creates (`kubectl get podtemplate NAME`).
    """

    def __init__(self, scope: Construct, id: str, props: JobPodTemplateProps) -> None:
        super().__init__(scope, id, kind="JobPodTemplate", name=props.name, labels=props.labels, pod=props.pod)
        self.resource = k8s.KubePodTemplate(
            self,
            "Resource",
            metadata=self.object_meta({**_SCANNER_EXEMPTIONS, **props.annotations}),
            template=props.pod.pod_template(props.labels.all, pod_deadline=True),
        )
