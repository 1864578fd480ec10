"""AppService: a long-running HTTP service (Deployment + Service) and everything that usually comes with it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cdk8s_plus_27 import k8s
from constructs import Construct

from constructs_lib.container import (
    ContainerSpec,
    HttpProbe,
    PodSecurity,
    SecretKeyRef,
    VolumeMount,
    render_pod,
    writable_scratch,
)
from constructs_lib.errors import PropsError
from constructs_lib.k8s_values import int_or_string, quantity
from constructs_lib.labels import RecommendedLabels, Workload
from constructs_lib.network_policy import NetworkAccess, PodNetworkPolicy
from constructs_lib.web_ingress import IngressOptions, WebIngress, WebIngressProps
from value_types.images import ImageSettings
from value_types.monitoring import RelabelingSettings
from value_types.names import DNS_LABEL, LABEL_KEY, LABEL_VALUE
from value_types.ports import PORT
from value_types.quantities import ResourceSettings
from value_types.workloads import (
    AutoscalingSettings,
    CustomMetricSettings,
    ObjectMetricSettings,
    PodsMetricSettings,
)

CONFIG_CHECKSUM_ANNOTATION = "checksum/config"
_PORT_NAME = "http"


@dataclass(frozen=True, kw_only=True)
class Metrics:
    """Prometheus scraping of the service.

    Attributes:
        path: the metrics path. Default `/metrics`.
        service_monitor: also render a Prometheus Operator ServiceMonitor. Default True.
        interval: scrape interval of the ServiceMonitor. Default `30s`.
        service_monitor_labels: extra labels the Prometheus' serviceMonitorSelector looks for. Default none.
        relabelings: the endpoint's relabeling rules, applied to the target before the scrape (value_types'
            RelabelingSettings, validated when made: action, regex in RE2 syntax, target_label where needed).
            Default: none.
        metric_relabelings: rules applied to the scraped samples (drop or rename series). Default: none.
    """

    path: str = "/metrics"
    service_monitor: bool = True
    interval: str = "30s"
    service_monitor_labels: Mapping[str, str] = field(default_factory=dict)
    relabelings: Sequence[RelabelingSettings] = ()
    metric_relabelings: Sequence[RelabelingSettings] = ()


@dataclass(frozen=True, kw_only=True)
class AppServiceProps:
    """Props of `AppService`. Only `name`, `image`, `port`, `resources` and the two probes are required.

    Attributes:
        name: name of every object, e.g. `core-pipeline` (a DNS label).
        image: image, tag and pull policy. The tag is the `app.kubernetes.io/version` label.
        port: the container's HTTP port, named `http`.
        resources: the main container's requests and limits.
        liveness_probe: restarts a wedged container.
        readiness_probe: keeps a container out of the Service until it answers.
        startup_probe: holds the other probes off while the application starts. Default: none.
        container_name: the main container's name. Default: `name`.
        component: `app.kubernetes.io/component`, part of the selector. Default `server`.
        part_of: `app.kubernetes.io/part-of`. Default: `name`.
        instance: `app.kubernetes.io/instance`, part of the selector. Default: `name`.
        service_port: the Service's port (named `http`, targeting `port`). Default 80.
        headless: render the Service without a cluster IP (`clusterIP: None`): its DNS name resolves to the ready
            pods' addresses (clients that balance themselves, gRPC, peer discovery). Default False. Switching an
            existing Service either way is refused in place (the diff says so): rename it or delete it first.
        expose: render the Service. Default True; False for workloads nothing connects to (a bot whose port only
            serves its probes).
        replicas: fixed replica count. Default 1; must stay unset with `autoscaling`.
        strategy: `RollingUpdate` (default: zero downtime, never below the desired count) or `Recreate` (for
            pods holding ReadWriteOnce volumes, which a second pod on another node could not attach).
        autoscaling: a HorizontalPodAutoscaler on CPU and memory, and its `custom_metrics` (Pods, Object,
            External), when `autoscaling.enabled` (the settings' own
            type, value_types.workloads.AutoscalingSettings, checked when made). Default: none.
        max_unavailable: a PodDisruptionBudget allowing this many pods down at once. Default: none.
        command, args: override the image's entrypoint. Default: the image's.
        env: literal environment variables on the pod spec (no credentials).
        config: environment variables from a ConfigMap `<name>-config`; a change rolls the pods.
        secret_env: variables from keys of existing Secrets.
        field_env: variables from the downward API, name -> field path (e.g. POD_NAMESPACE -> metadata.namespace).
        env_from_secrets: existing Secrets whose every key becomes a variable.
        env_from_config_maps: existing ConfigMaps (e.g. one shared by a system's services) whose every key becomes a
            variable; pass their checksum in `pod_annotations` to roll pods when they change.
        writable_paths: emptyDir mounts, since the root filesystem is read-only. Default `/tmp`.
        volumes: extra pod volumes. volume_mounts: their mounts into the main container.
        init_containers: run to completion before the main container (hardened the same way).
        sidecars: extra long-running containers in the pod (hardened the same way).
        security: UID, GID and fsGroup. Default: UID/GID 65532.
        image_pull_secrets: existing registry Secrets the ServiceAccount pulls with. Default: none.
        node_selector: schedule only on nodes with these labels. Default: any node.
        api_access: mount the ServiceAccount's API token, for pods that call the Kubernetes API (leader election).
            Default False: no token in the pod.
        metrics: Prometheus scrape annotations and a ServiceMonitor. Default: none.
        network_access: a NetworkPolicy (default-deny ingress, plus what it allows). Default: none.
        spread: prefer one pod per node and an even spread across zones. Default True.
        pod_annotations: extra pod template annotations.
        pod_labels: extra labels on the pods only, never in a selector, e.g. `{"app": "hivemind-bot"}` for a
            seed's `kubectl get pods -l app=...`. Added or changed in place (a pod template label outside the
            selector rolls the pods, nothing more). The recommended labels may not be overridden. Default: none.
        termination_grace_period_seconds: Default: Kubernetes' 30.
    """

    name: str
    image: ImageSettings
    port: int
    resources: ResourceSettings
    liveness_probe: HttpProbe
    readiness_probe: HttpProbe
    startup_probe: HttpProbe | None = None
    container_name: str | None = None
    component: str = "server"
    part_of: str | None = None
    instance: str | None = None
    service_port: int = 80
    expose: bool = True
    headless: bool = False
    replicas: int | None = None
    strategy: Literal["RollingUpdate", "Recreate"] = "RollingUpdate"
    autoscaling: AutoscalingSettings | None = None
    max_unavailable: int | None = None
    command: Sequence[str] | None = None
    args: Sequence[str] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, str] = field(default_factory=dict)
    secret_env: Sequence[SecretKeyRef] = ()
    field_env: Mapping[str, str] = field(default_factory=dict)
    env_from_secrets: Sequence[str] = ()
    env_from_config_maps: Sequence[str] = ()
    writable_paths: Sequence[str] = ("/tmp",)
    volumes: Sequence[k8s.Volume] = ()
    volume_mounts: Sequence[VolumeMount] = ()
    init_containers: Sequence[ContainerSpec] = ()
    sidecars: Sequence[ContainerSpec] = ()
    security: PodSecurity = field(default_factory=PodSecurity)
    image_pull_secrets: Sequence[str] = ()
    node_selector: Mapping[str, str] = field(default_factory=dict)
    api_access: bool = False
    metrics: Metrics | None = None
    network_access: NetworkAccess | None = None
    spread: bool = True
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    termination_grace_period_seconds: int | None = None


class AppService(Construct):
    """A hardened HTTP service: ServiceAccount, optional ConfigMap, Deployment, Service, and on request an HPA, a
    PodDisruptionBudget, a NetworkPolicy, an Ingress and a ServiceMonitor.

    Pods are selected by the stable recommended labels only (name, instance, component), never by cdk8s'
    construct-path label, so refactoring a stack never changes an immutable selector.
    """

    def __init__(self, scope: Construct, id: str, props: AppServiceProps) -> None:
        super().__init__(scope, id)
        _validate(props)
        self.props = props
        self.name = props.name
        self.labels = RecommendedLabels(
            name=props.name,
            instance=props.instance,
            component=props.component,
            part_of=props.part_of,
            version=props.image.tag,
        )
        #: Labels that select this service's pods (for Services, policies and other constructs).
        self.selector_labels: dict[str, str] = self.labels.selector
        #: The Service's name, port and port name, for Ingresses and clients.
        self.service_name = props.name
        self.service_port = props.service_port
        self.service_port_name = _PORT_NAME
        self.container_port = props.port
        #: The port a client uses with the Service's DNS name: the Service's, or with a headless Service (no cluster
        #: IP, so no port mapping: the name resolves to the pods) the pods' own.
        self.service_dns_port = props.port if props.headless else props.service_port
        self.config_map_name = f"{props.name}-config" if props.config else None
        self.service_account_name = props.name
        labels = self.labels.all

        k8s.KubeServiceAccount(
            self,
            "ServiceAccount",
            metadata=k8s.ObjectMeta(name=self.service_account_name, labels=labels),
            automount_service_account_token=props.api_access,
            image_pull_secrets=[k8s.LocalObjectReference(name=name) for name in props.image_pull_secrets] or None,
        )
        pod_annotations: dict[str, str] = {}
        if props.config:
            k8s.KubeConfigMap(
                self,
                "Config",
                metadata=k8s.ObjectMeta(name=self.config_map_name, labels=labels),
                data=dict(sorted(props.config.items())),
            )
            pod_annotations[CONFIG_CHECKSUM_ANNOTATION] = config_checksum(props.config)
        if props.metrics:
            pod_annotations.update(
                {
                    "prometheus.io/scrape": "true",
                    "prometheus.io/path": props.metrics.path,
                    "prometheus.io/port": str(props.port),
                }
            )
        pod_annotations.update(props.pod_annotations)
        pod_spec, scratch_annotations = self._pod_spec(props)
        pod_annotations.update(scratch_annotations)

        self.deployment = k8s.KubeDeployment(
            self,
            "Resource",
            metadata=k8s.ObjectMeta(name=props.name, labels=labels),
            spec=k8s.DeploymentSpec(
                replicas=None if _scales(props) else (props.replicas if props.replicas is not None else 1),
                selector=k8s.LabelSelector(match_labels=self.selector_labels),
                strategy=k8s.DeploymentStrategy(
                    type="RollingUpdate",
                    # Never below the desired count during a rollout: zero-downtime deploys.
                    rolling_update=k8s.RollingUpdateDeployment(
                        max_surge=int_or_string("25%"), max_unavailable=int_or_string(0)
                    ),
                )
                if props.strategy == "RollingUpdate"
                else k8s.DeploymentStrategy(type="Recreate"),
                template=k8s.PodTemplateSpec(
                    metadata=k8s.ObjectMeta(labels={**labels, **props.pod_labels}, annotations=pod_annotations or None),
                    spec=pod_spec,
                ),
            ),
        )
        if props.expose:
            self._service(props, labels)
        if props.autoscaling is not None and props.autoscaling.enabled:
            self._autoscaler(props.autoscaling, labels)
        if props.max_unavailable is not None:
            k8s.KubePodDisruptionBudget(
                self,
                "DisruptionBudget",
                metadata=k8s.ObjectMeta(name=props.name, labels=labels),
                spec=k8s.PodDisruptionBudgetSpec(
                    max_unavailable=int_or_string(props.max_unavailable),
                    selector=k8s.LabelSelector(match_labels=self.selector_labels),
                ),
            )
        #: The NetworkPolicy, when `props.network_access` asks for one (`allow_from` adds to it).
        self.network_policy: PodNetworkPolicy | None = None
        if props.network_access is not None:
            self.network_policy = PodNetworkPolicy.isolating(
                self, "NetworkPolicy", self, name=props.name, ports=[props.port], access=props.network_access
            )
        #: The Ingress, once `expose_via_ingress` has made one.
        self.ingress: WebIngress | None = None
        if props.metrics and props.metrics.service_monitor:
            self._service_monitor(props.metrics, labels)

    def allow_from(self, workload: Workload) -> None:
        """Admit `workload`'s pods (same namespace) to this service's port. Without `network_access` nothing is
        isolated, so there is nothing to add."""
        if self.network_policy is not None:
            self.network_policy.allow_from(workload)

    def expose_via_ingress(self, options: IngressOptions) -> WebIngress:
        """Route `options.hosts` to this service's Service through an Ingress named after the service."""
        if not self.props.expose:
            raise PropsError("AppService", "expose", False, "True to expose via an Ingress (it routes to the Service)")
        if self.ingress is not None:
            raise PropsError("AppService", "expose_via_ingress", options.hosts, "one Ingress per service")
        self.ingress = WebIngress(
            self, "Ingress", WebIngressProps.for_service(self, options, name=self.name, labels=self.labels.all)
        )
        return self.ingress

    def _service(self, props: AppServiceProps, labels: Mapping[str, str]) -> None:
        k8s.KubeService(
            self,
            "Service",
            metadata=k8s.ObjectMeta(name=self.service_name, labels=labels),
            spec=k8s.ServiceSpec(
                type="ClusterIP",
                cluster_ip="None" if props.headless else None,
                selector=self.selector_labels,
                ports=[
                    k8s.ServicePort(
                        name=_PORT_NAME, port=props.service_port, target_port=int_or_string(props.port), protocol="TCP"
                    )
                ],
            ),
        )

    def _pod_spec(self, props: AppServiceProps) -> tuple[k8s.PodSpec, dict[str, str]]:
        """The pod spec, and the annotations `render_pod` puts on the template."""
        volumes, scratch_mounts = writable_scratch(props.writable_paths)
        main = ContainerSpec(
            name=props.container_name or props.name,
            image=props.image,
            resources=props.resources,
            command=props.command,
            args=props.args,
            ports={_PORT_NAME: props.port},
            env=props.env,
            secret_env=props.secret_env,
            field_env=props.field_env,
            env_from_config_maps=(
                *props.env_from_config_maps,
                *((self.config_map_name,) if self.config_map_name else ()),
            ),
            env_from_secrets=props.env_from_secrets,
            volume_mounts=(
                *scratch_mounts,
                *props.volume_mounts,
            ),
            liveness_probe=props.liveness_probe,
            readiness_probe=props.readiness_probe,
            startup_probe=props.startup_probe,
        )
        pod = render_pod([main, *props.sidecars], props.init_containers, [*volumes, *props.volumes])
        spec = k8s.PodSpec(
            service_account_name=self.service_account_name,
            automount_service_account_token=props.api_access,
            security_context=props.security.render(),
            init_containers=pod.init_containers or None,
            containers=pod.containers,
            volumes=pod.volumes or None,
            affinity=self._affinity() if props.spread else None,
            topology_spread_constraints=[
                k8s.TopologySpreadConstraint(
                    max_skew=1,
                    topology_key="topology.kubernetes.io/zone",
                    when_unsatisfiable="ScheduleAnyway",
                    label_selector=k8s.LabelSelector(match_labels=self.selector_labels),
                )
            ]
            if props.spread
            else None,
            termination_grace_period_seconds=props.termination_grace_period_seconds,
            node_selector=dict(props.node_selector) or None,
        )
        return spec, pod.annotations

    def _affinity(self) -> k8s.Affinity:
        return k8s.Affinity(
            pod_anti_affinity=k8s.PodAntiAffinity(
                preferred_during_scheduling_ignored_during_execution=[
                    k8s.WeightedPodAffinityTerm(
                        weight=100,
                        pod_affinity_term=k8s.PodAffinityTerm(
                            topology_key="kubernetes.io/hostname",
                            label_selector=k8s.LabelSelector(match_labels=self.selector_labels),
                        ),
                    )
                ]
            )
        )

    def _autoscaler(self, autoscaling: AutoscalingSettings, labels: Mapping[str, str]) -> None:
        metrics = [
            k8s.MetricSpecV2(
                type="Resource",
                resource=k8s.ResourceMetricSourceV2(
                    name=resource, target=k8s.MetricTargetV2(type="Utilization", average_utilization=percent)
                ),
            )
            for resource, percent in (
                ("cpu", autoscaling.target_cpu_utilization_percentage),
                ("memory", autoscaling.target_memory_utilization_percentage),
            )
        ]
        metrics += [_custom_metric(metric) for metric in autoscaling.custom_metrics]
        k8s.KubeHorizontalPodAutoscalerV2(
            self,
            "Autoscaler",
            metadata=k8s.ObjectMeta(name=self.name, labels=dict(labels)),
            spec=k8s.HorizontalPodAutoscalerSpecV2(
                scale_target_ref=k8s.CrossVersionObjectReferenceV2(
                    api_version="apps/v1", kind="Deployment", name=self.name
                ),
                min_replicas=autoscaling.min_replicas,
                max_replicas=autoscaling.max_replicas,
                metrics=metrics,
            ),
        )

    def _service_monitor(self, metrics: Metrics, labels: Mapping[str, str]) -> None:
        # Imported here so that stacks without Prometheus Operator objects never load the generated module.
        from imports.com.coreos.monitoring import (
            ServiceMonitor,
            ServiceMonitorSpec,
            ServiceMonitorSpecEndpoints,
            ServiceMonitorSpecEndpointsMetricRelabelings,
            ServiceMonitorSpecEndpointsMetricRelabelingsAction,
            ServiceMonitorSpecEndpointsRelabelings,
            ServiceMonitorSpecEndpointsRelabelingsAction,
            ServiceMonitorSpecSelector,
        )

        ServiceMonitor(
            self,
            "ServiceMonitor",
            metadata={"name": self.name, "labels": {**labels, **metrics.service_monitor_labels}},
            spec=ServiceMonitorSpec(
                selector=ServiceMonitorSpecSelector(match_labels=self.selector_labels),
                endpoints=[
                    ServiceMonitorSpecEndpoints(
                        port=_PORT_NAME,
                        path=metrics.path,
                        interval=metrics.interval,
                        relabelings=[
                            ServiceMonitorSpecEndpointsRelabelings(
                                **_relabel_fields(rule),
                                action=ServiceMonitorSpecEndpointsRelabelingsAction[rule.action.upper()],
                            )
                            for rule in metrics.relabelings
                        ]
                        or None,
                        metric_relabelings=[
                            ServiceMonitorSpecEndpointsMetricRelabelings(
                                **_relabel_fields(rule),
                                action=ServiceMonitorSpecEndpointsMetricRelabelingsAction[rule.action.upper()],
                            )
                            for rule in metrics.metric_relabelings
                        ]
                        or None,
                    )
                ],
            ),
        )


def _relabel_fields(rule: RelabelingSettings) -> dict[str, Any]:
    """A relabeling rule's fields but its action (each binding has its own action enum), unset ones left out."""
    return {
        "source_labels": list(rule.source_labels) or None,
        "separator": rule.separator,
        "regex": rule.regex,
        "target_label": rule.target_label,
        "replacement": rule.replacement,
        "modulus": rule.modulus,
    }


def _custom_metric(metric: CustomMetricSettings) -> k8s.MetricSpecV2:
    """One autoscaling/v2 metric from its settings (validated when they were made)."""
    identifier = k8s.MetricIdentifierV2(
        name=metric.name,
        selector=k8s.LabelSelector(match_labels=dict(metric.selector)) if metric.selector else None,
    )
    if isinstance(metric, PodsMetricSettings):
        return k8s.MetricSpecV2(
            type="Pods",
            pods=k8s.PodsMetricSourceV2(
                metric=identifier,
                target=k8s.MetricTargetV2(type="AverageValue", average_value=quantity(metric.target_average_value)),
            ),
        )
    target = k8s.MetricTargetV2(
        type=metric.target.type,
        value=quantity(metric.target.value) if metric.target.type == "Value" else None,
        average_value=quantity(metric.target.value) if metric.target.type == "AverageValue" else None,
    )
    if isinstance(metric, ObjectMetricSettings):
        described = metric.described_object
        return k8s.MetricSpecV2(
            type="Object",
            object=k8s.ObjectMetricSourceV2(
                described_object=k8s.CrossVersionObjectReferenceV2(
                    api_version=described.api_version, kind=described.kind, name=described.name
                ),
                metric=identifier,
                target=target,
            ),
        )
    return k8s.MetricSpecV2(type="External", external=k8s.ExternalMetricSourceV2(metric=identifier, target=target))


def config_checksum(config: Mapping[str, str]) -> str:
    """The pod template annotation value that changes whenever the ConfigMap's content does."""
    return hashlib.sha256(json.dumps(dict(config), sort_keys=True).encode()).hexdigest()


def _validate(props: AppServiceProps) -> None:
    construct = "AppService"
    DNS_LABEL.require(construct, "name", props.name)
    DNS_LABEL.require(construct, "component", props.component)
    if not props.expose and props.metrics is not None and props.metrics.service_monitor:
        raise PropsError(
            construct, "metrics.service_monitor", True, "False when expose is False (it selects the Service)"
        )
    PORT.require(construct, "port", props.port)
    PORT.require(construct, "service_port", props.service_port)
    if _scales(props):
        if props.replicas is not None:
            raise PropsError(
                construct,
                "replicas",
                props.replicas,
                "None when autoscaling is enabled (the HPA owns the replica count)",
            )
    elif props.replicas is not None and props.replicas < 0:
        raise PropsError(construct, "replicas", props.replicas, "an integer >= 0")
    if props.max_unavailable is not None and props.max_unavailable < 1:
        raise PropsError(
            construct, "max_unavailable", props.max_unavailable, "an integer >= 1 (0 would block every node drain)"
        )
    for path in props.writable_paths:
        if not path.startswith("/"):
            raise PropsError(construct, "writable_paths", path, "absolute paths")
    if props.metrics is not None and not props.metrics.path.startswith("/"):
        raise PropsError(construct, "metrics.path", props.metrics.path, "a URL path starting with '/'")
    if props.strategy not in ("RollingUpdate", "Recreate"):
        raise PropsError(construct, "strategy", props.strategy, "RollingUpdate | Recreate")
    for key, value in props.pod_labels.items():
        LABEL_KEY.require(construct, "pod_labels", key)
        LABEL_VALUE.require(construct, f"pod_labels.{key}", value)
        if key.startswith("app.kubernetes.io/"):
            raise PropsError(
                construct, "pod_labels", key, "a label outside app.kubernetes.io/ (the recommended labels are computed)"
            )
    for secret in props.image_pull_secrets:
        DNS_LABEL.require(construct, "image_pull_secrets", secret)
    # The main container is checked as a ContainerSpec: image, resources, env names, probes against its ports.
    ContainerSpec(
        name=props.container_name or props.name,
        image=props.image,
        resources=props.resources,
        ports={_PORT_NAME: props.port},
        env={**props.config, **props.env},
        secret_env=props.secret_env,
        field_env=props.field_env,
        liveness_probe=props.liveness_probe,
        readiness_probe=props.readiness_probe,
        startup_probe=props.startup_probe,
    ).validate(construct, "")
    for index, spec in enumerate(props.init_containers):
        spec.validate(construct, f"init_containers[{index}]")
    for index, spec in enumerate(props.sidecars):
        spec.validate(construct, f"sidecars[{index}]")
    props.security.validate(construct, "security")
    names = [props.container_name or props.name, *(spec.name for spec in (*props.init_containers, *props.sidecars))]
    if len(set(names)) != len(names):
        raise PropsError(construct, "sidecars", names, "distinct container names")


def _scales(props: AppServiceProps) -> bool:
    """Whether an HPA owns the replica count."""
    return props.autoscaling is not None and props.autoscaling.enabled
