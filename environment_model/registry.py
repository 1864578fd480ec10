"""The stacks this project renders. Adding a system: a package under stacks/ and one entry here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Where the environment's settings model is: the Argo CD stack's settings hold one (a render worker imports it).
SETTINGS_MODULE = "environment_model.settings"


@dataclass(frozen=True)
class StackAbout:
    """A system's descriptive metadata, as a Helm chart's Chart.yaml holds it."""

    home: str
    sources: tuple[str, ...]
    keywords: tuple[str, ...]
    maintainers: tuple[str, ...]


@dataclass(frozen=True)
class StackDefinition:
    """One system's stack.

    Attributes:
        name: the folder under dist/<env>/ and the name on the command line, e.g. `core-pipeline`.
        settings_field: its section in the environment files, e.g. `core_pipeline`: what its chart takes.
        chart: `module:Class` of its cdk8s Chart, imported only when rendering (cdk8s is slow to import); called as
            `Chart(scope, name, settings)` with what `settings_for` gives.
        description: one line for `python main.py list`.
        cluster_kinds: cluster-scoped kinds the stack renders (its Argo CD AppProject allows exactly these; a test
            checks the list against the rendered output). A stack rendering `Namespace` gets no CreateNamespace.
        bindings: the generated CRD bindings (modules under imports/) its objects use. Constructs import them only
            when they need them; the render workers import these up front, once for all workers (a test checks the
            list against what a render imports).
        covers_environment: its chart takes the whole environment (`ArgoCdInputs`: its name, all its settings and the
            stacks), not only its own section: the Argo CD stack, whose AppProject and Applications cover every stack.
        about: what a Helm chart's Chart.yaml says of it beyond its description (keywords, home, sources,
            maintainers); its Argo CD Applications carry it as annotations, the home and sources as links in Argo CD's
            UI. Default: none.
    """

    name: str
    description: str
    cluster_kinds: tuple[str, ...] = ()
    bindings: tuple[str, ...] = ()
    covers_environment: bool = False
    about: StackAbout | None = None
    # By convention from the name (`kairoflow-web` -> `kairoflow_web`, `stacks.kairoflow_web.chart:KairoflowWebChart`).
    settings_field: str = ""
    chart: str = ""

    def __post_init__(self) -> None:
        field = self.settings_field or self.name.replace("-", "_")
        object.__setattr__(self, "settings_field", field)
        chart_class = "".join(part.capitalize() for part in self.name.split("-")) + "Chart"
        object.__setattr__(self, "chart", self.chart or f"stacks.{field}.chart:{chart_class}")

    def modules(self) -> tuple[str, ...]:
        """The Python modules rendering this stack imports beyond the shared ones: its chart's and its bindings."""
        return (self.chart.partition(":")[0], *self.bindings)

    def settings_for(self, environment: str, settings: Any) -> Any:
        """What this stack's chart takes, from environment `environment`'s settings (an EnvironmentSettings)."""
        if self.covers_environment:
            from stacks.argocd.settings import ArgoCdInputs

            return ArgoCdInputs(environment=environment, settings=settings, stacks=STACKS)
        return getattr(settings, self.settings_field)


MONITORING = "imports.com.coreos.monitoring"  # PrometheusRule and ServiceMonitor: every stack has alerts

STACKS: tuple[StackDefinition, ...] = (
    StackDefinition(
        "core-pipeline",
        "NestJS core-pipeline API: Deployment, HPA, Ingress, ServiceMonitor, migration, backup and check hooks",
        bindings=(MONITORING, "imports.io.external_secrets"),
    ),
    StackDefinition(
        "discord-monitor",
        "Discord bot with Redis and retention CronJob, and an agent pod template carrying the watcher sidecar",
        bindings=(MONITORING,),
    ),
    StackDefinition(
        "hivemind-bot",
        "Hivemind Discord bot: 3 replicas with leader election RBAC, PDB, NetworkPolicy",
        bindings=(MONITORING, "imports.io.external_secrets"),
    ),
    StackDefinition(
        "kairoflow",
        "KairoFlow: nginx + php-fpm pod, 4 PVCs, CronJobs, Traefik IngressRoutes, cert-manager TLS",
        cluster_kinds=("Namespace",),
        bindings=("imports.io.traefik", "imports.io.cert_manager", "imports.io.external_secrets", MONITORING),
    ),
    StackDefinition(
        "verta",
        "Verta: backend, frontend and ML AppServices, shared ConfigMap, Redis, path-routed Ingress",
        bindings=(MONITORING,),
        # The seed's Chart.yaml (verta-helm-chart.md task 1.2: "Tenant Static Archive System"; keywords, home,
        # sources, maintainers); its images are ghcr.io/niekcandaele/verta-*.
        about=StackAbout(
            home="https://github.com/niekcandaele/verta",
            sources=("https://github.com/niekcandaele/verta",),
            keywords=("verta", "archive", "static-site", "multi-tenant", "discord"),
            maintainers=("niekcandaele",),
        ),
    ),
)


# Not a system: the Argo CD AppProject, one Application per stack and the root app of apps of one environment,
# rendered with every synth into dist/argocd/<env>/.
ARGOCD = StackDefinition(
    "argocd",
    "Argo CD AppProject, Applications and root app of apps",
    bindings=("imports.io.argoproj",),
    covers_environment=True,
    chart="stacks.argocd.chart:ArgoCdChart",
)


def rendered_with(stacks: Sequence[StackDefinition]) -> list[StackDefinition]:
    """What a render of `stacks` renders: those, and the Argo CD stack (its Applications name every stack)."""
    return [*stacks, ARGOCD]


def stack_names() -> list[str]:
    return [stack.name for stack in STACKS]


def get_stack(name: str) -> StackDefinition:
    for stack in STACKS:
        if stack.name == name:
            return stack
    raise KeyError(name)
