"""The generated sections of docs/runbooks/<system>.md, derived from what the stacks render, so they cannot drift:
the cluster prerequisites (from the kinds and references in the output), every Secret the pods read with its keys
and a `kubectl create secret` command, and one troubleshooting section per alert (its heading is the anchor the
alert's `runbook_url` points at).

The rest of each runbook is prose, kept by hand between the generated blocks:

    <!-- BEGIN GENERATED: secrets -->
    ... rewritten by `python -m delivery.runbooks` ...
    <!-- END GENERATED: secrets -->

`python -m delivery.runbooks` rewrites the blocks from dist/ and the environment settings; `--check` only reports
the runbooks whose blocks differ (a test runs the same comparison).
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from constructs_lib.alert import Alert
from delivery.pod_templates import pod_template_of
from environment_model.registry import STACKS
from stacks.observability import kube_state_metrics_minimum

Manifest = dict[str, Any]
# environment -> stack -> its rendered objects
Rendered = Mapping[str, Mapping[str, list[Manifest]]]
RUNBOOKS = Path(__file__).resolve().parent.parent / "docs" / "runbooks"
_BLOCK = re.compile(
    r"(<!-- BEGIN GENERATED: (?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- END GENERATED: (?P=name) -->)", re.S
)
_MONITORING = "prometheus-operator (the PrometheusRule and ServiceMonitor CRDs)"
# constructs_lib.grafana_dashboard's SIDECAR_LABEL and FOLDER_ANNOTATION (a test keeps them equal), not imported:
# that module starts the jsii runtime, which this command does not otherwise need.
SIDECAR_LABEL = {"grafana_dashboard": "1"}
FOLDER_ANNOTATION = "grafana_folder"
# The HPA metric types and the API that serves each (what the cluster must run besides the API server).
_RESOURCE_METRICS = ("Resource", "ContainerResource")
_CUSTOM_METRICS = ("Pods", "Object")


@dataclass
class SecretUse:
    """One Secret the pods of a stack read, over all environments."""

    name: str
    keys: set[str] = field(default_factory=set)
    whole: bool = False  # read with envFrom: every key becomes a variable
    pull: bool = False  # an image pull secret (docker-registry)
    used_by: set[str] = field(default_factory=set)
    namespaces: dict[str, set[str]] = field(default_factory=dict)  # namespace -> environments
    synced_in: set[str] = field(default_factory=set)  # environments where an ExternalSecret creates it
    remote: set[str] = field(default_factory=set)  # remote keys the ExternalSecrets read


def secret_uses(rendered: Rendered, stack: str) -> list[SecretUse]:
    """Every Secret the stack's pods and service accounts reference, with the keys they read."""
    uses: dict[str, SecretUse] = {}

    def use(name: str, env: str, namespace: str, user: str) -> SecretUse:
        entry = uses.setdefault(name, SecretUse(name=name))
        entry.used_by.add(user)
        entry.namespaces.setdefault(namespace, set()).add(env)
        return entry

    external: dict[tuple[str, str], Manifest] = {}
    for env, stacks in rendered.items():
        for manifest in stacks.get(stack, []):
            metadata = manifest["metadata"]
            namespace = metadata.get("namespace", "")
            user = f"{manifest['kind']}/{metadata['name']}"
            if manifest["kind"] == "ExternalSecret":
                target = manifest["spec"].get("target", {}).get("name") or metadata["name"]
                external[(env, target)] = manifest
            if manifest["kind"] == "ServiceAccount":
                for pull in manifest.get("imagePullSecrets", []):
                    use(pull["name"], env, namespace, user).pull = True
            template = pod_template_of(manifest)
            if template is None:
                continue
            pod = template.get("spec", {})
            for pull in pod.get("imagePullSecrets", []):
                use(pull["name"], env, namespace, user).pull = True
            for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
                for variable in container.get("env", []):
                    ref = variable.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        use(ref["name"], env, namespace, user).keys.add(ref["key"])
                for source in container.get("envFrom", []):
                    if "secretRef" in source:
                        use(source["secretRef"]["name"], env, namespace, user).whole = True
            for volume in pod.get("volumes", []):
                secret = volume.get("secret")
                if secret:
                    entry = use(secret["secretName"], env, namespace, user)
                    entry.keys.update(item["key"] for item in secret.get("items", []))
    for (env, target), manifest in external.items():
        if target in uses:
            entry = uses[target]
            entry.synced_in.add(env)
            for item in manifest["spec"].get("data", []):
                entry.keys.add(item["secretKey"])
                entry.remote.add(item["remoteRef"]["key"])
            if manifest["spec"].get("target", {}).get("template", {}).get("type") == "kubernetes.io/dockerconfigjson":
                entry.pull = True
    return sorted(uses.values(), key=lambda entry: entry.name)


def secrets_section(rendered: Rendered, stack: str) -> str:
    uses = secret_uses(rendered, stack)
    if not uses:
        return "This system reads no Secret.\n"
    lines = [
        "| Secret | Keys | Read by | Environments (namespace) |",
        "| --- | --- | --- | --- |",
    ]
    for entry in uses:
        keys = ", ".join(f"`{key}`" for key in sorted(entry.keys)) or (
            "`.dockerconfigjson`" if entry.pull else "every key (envFrom)"
        )
        where = "; ".join(
            f"{', '.join(sorted(envs))} (`{namespace}`)" for namespace, envs in sorted(entry.namespaces.items())
        )
        lines.append(f"| `{entry.name}` | {keys} | {', '.join(sorted(entry.used_by))} | {where} |")
    lines.append("")
    synced = [entry for entry in uses if entry.synced_in]
    if synced:
        lines.append("Synced by External Secrets (an `ExternalSecret` renders in these environments; create the remote")
        lines.append("keys in the secret store, not the Secret):")
        lines.append("")
        for entry in synced:
            remote = ", ".join(f"`{key}`" for key in sorted(entry.remote))
            lines.append(f"- `{entry.name}` in {', '.join(sorted(entry.synced_in))}: from {remote}")
        lines.append("")
    lines.append("Elsewhere, create each Secret before the first sync (values are yours; never commit them):")
    lines.append("")
    lines.append("```bash")
    for entry in uses:
        for namespace, envs in sorted(entry.namespaces.items()):
            if envs <= entry.synced_in:
                continue
            lines.append(f"# {entry.name}: {', '.join(sorted(envs - entry.synced_in))}")
            lines.append(_create_command(entry, namespace))
    lines.append("```")
    return "\n".join(lines) + "\n"


def _create_command(entry: SecretUse, namespace: str) -> str:
    if entry.pull:
        return (
            f"kubectl create secret docker-registry {entry.name} --namespace {namespace} \\\n"
            "  --docker-server=ghcr.io --docker-username=<github-user> --docker-password=<token with read:packages>"
        )
    literals = " \\\n".join(f"  --from-literal={key}='<{key}>'" for key in sorted(entry.keys))
    return f"kubectl create secret generic {entry.name} --namespace {namespace} \\\n{literals}"


# Each prerequisite, and how to tell from the output that the system needs it.
def _kinds(stacks: Iterable[list[Manifest]]) -> set[str]:
    return {manifest["kind"] for objects in stacks for manifest in objects}


def prerequisites_section(rendered: Rendered, stack: str) -> str:
    objects = [m for stacks in rendered.values() for m in stacks.get(stack, [])]
    kinds = _kinds([objects])
    needs: list[str] = ["Argo CD (the root Application of each environment syncs this system; `dist/argocd/<env>/`)."]
    ingress_classes = sorted(
        {m["spec"]["ingressClassName"] for m in objects if m["kind"] == "Ingress" and "ingressClassName" in m["spec"]}
    )
    if ingress_classes:
        needs.append(f"An ingress controller serving the IngressClass {', '.join(f'`{c}`' for c in ingress_classes)}.")
    if kinds & {"IngressRoute", "Middleware"}:
        needs.append("Traefik v3 with its CRDs (`IngressRoute`, `Middleware`; entry points `web` and `websecure`).")
    issuers = sorted(
        {
            issuer
            for m in objects
            for issuer in (
                m.get("metadata", {}).get("annotations", {}).get("cert-manager.io/cluster-issuer"),
                m.get("spec", {}).get("issuerRef", {}).get("name") if m["kind"] == "Certificate" else None,
            )
            if issuer
        }
    )
    if issuers:
        needs.append(f"cert-manager with the ClusterIssuer {', '.join(f'`{i}`' for i in issuers)}.")
    if kinds & {"PrometheusRule", "ServiceMonitor"}:
        needs.append(
            f"{_MONITORING}; its `ruleSelector` / `serviceMonitorSelector` must match the labels set in "
            "the environment's `monitoring.prometheus_labels`, which every ServiceMonitor and PrometheusRule carries."
        )
    needs += _kube_state_metrics_need(objects)
    needs += _autoscaling_needs(rendered, stack)
    needs += _dashboard_sidecar_need(objects)
    stores = sorted(
        {
            f"{m['spec']['secretStoreRef'].get('kind', 'SecretStore')} `{m['spec']['secretStoreRef']['name']}`"
            for m in objects
            if m["kind"] == "ExternalSecret"
        }
    )
    if stores:
        needs.append(
            f"External Secrets Operator with the {', '.join(stores)} (environments that render ExternalSecrets)."
        )
    claims = [m for m in objects if m["kind"] == "PersistentVolumeClaim"] + [
        template
        for m in objects
        if m["kind"] == "StatefulSet"
        for template in m["spec"].get("volumeClaimTemplates", [])
    ]
    if claims:
        classes = sorted({c["spec"]["storageClassName"] for c in claims if c["spec"].get("storageClassName")})
        named = f"the StorageClass {', '.join(f'`{c}`' for c in classes)}" if classes else "a default StorageClass"
        needs.append(f"{named} for its PersistentVolumeClaims.")
    return "".join(f"- {need}\n" for need in needs)


def _promql_of(objects: list[Manifest]) -> list[str]:
    """Every PromQL expression the objects carry: alert rules, and the dashboards' panel queries."""
    found = [
        rule["expr"]
        for m in objects
        if m["kind"] == "PrometheusRule"
        for group in m["spec"]["groups"]
        for rule in group["rules"]
    ]
    for m in objects:
        if m["kind"] == "ConfigMap" and SIDECAR_LABEL.items() <= m["metadata"].get("labels", {}).items():
            for text in m.get("data", {}).values():
                panels = json.loads(text).get("panels", [])
                found += [target["expr"] for panel in panels for target in panel.get("targets", [])]
    return found


def _kube_state_metrics_need(objects: list[Manifest]) -> list[str]:
    """kube-state-metrics, at the oldest version that serves every kube_* metric the rules and dashboards read."""
    expressions = [text for text in _promql_of(objects) if "kube_" in text]
    if not expressions:
        return []
    version, reasons = kube_state_metrics_minimum(expressions)
    why = f": {'; '.join(reasons)}" if reasons else " (the v2 metric names)"
    return [
        f"kube-state-metrics v{version} or later, scraped by that Prometheus{why}. An older one pages nothing falsely: "
        "the expressions are written so that what it lacks leaves them silent (and blind)."
    ]


def _autoscaling_needs(rendered: Rendered, stack: str) -> list[str]:
    """The metrics APIs the HorizontalPodAutoscalers read: metrics-server for CPU and memory, an adapter for custom
    (Pods, Object) and for external metrics, each with the metrics, HPAs and environments that need it."""
    # API -> metric -> HPA -> environments
    users: dict[str, dict[str, dict[str, set[str]]]] = {"resource": {}, "custom": {}, "external": {}}
    for env, stacks in rendered.items():
        for m in stacks.get(stack, []):
            if m["kind"] != "HorizontalPodAutoscaler":
                continue
            for metric in m["spec"].get("metrics", []):
                kind = metric["type"]
                source = metric[
                    kind[0].lower() + kind[1:]
                ]  # Resource -> resource, ContainerResource -> containerResource
                if kind in _RESOURCE_METRICS:
                    api, name = "resource", f"`{source['name']}`"
                else:
                    api = "custom" if kind in _CUSTOM_METRICS else "external"
                    name = f"`{source['metric']['name']}` ({kind})"
                users[api].setdefault(name, {}).setdefault(m["metadata"]["name"], set()).add(env)

    def where(api: str) -> str:
        return "; ".join(
            f"{name} for " + ", ".join(f"`{hpa}` ({', '.join(sorted(envs))})" for hpa, envs in sorted(by_hpa.items()))
            for name, by_hpa in sorted(users[api].items())
        )

    needs = []
    if users["resource"]:
        needs.append(
            "metrics-server (the resource metrics API `metrics.k8s.io`) for the HorizontalPodAutoscalers' resource "
            f"targets: {where('resource')}."
        )
    if users["custom"]:
        needs.append(
            "A custom metrics adapter serving `custom.metrics.k8s.io` (such as prometheus-adapter) with the metrics "
            f"the settings' `autoscaling.custom_metrics` name: {where('custom')}."
        )
    if users["external"]:
        needs.append(
            "An external metrics adapter serving `external.metrics.k8s.io` (such as prometheus-adapter or KEDA's) "
            f"with the metrics the settings' `autoscaling.custom_metrics` name: {where('external')}."
        )
    return needs


def _dashboard_sidecar_need(objects: list[Manifest]) -> list[str]:
    """Grafana's dashboard sidecar, watching the namespaces the dashboard ConfigMaps are rendered into."""
    namespaces = sorted(
        {
            m["metadata"].get("namespace", "default")
            for m in objects
            if m["kind"] == "ConfigMap" and SIDECAR_LABEL.items() <= m["metadata"].get("labels", {}).items()
        }
    )
    if not namespaces:
        return []
    ((label, value),) = SIDECAR_LABEL.items()
    return [
        "Grafana with its dashboard sidecar (kube-prometheus-stack: `grafana.sidecar.dashboards.enabled: true`) "
        f'loading ConfigMaps labelled `{label}: "{value}"` (`label`, `labelValue`), `folderAnnotation: '
        f"{FOLDER_ANNOTATION}`, and `searchNamespace` listing {', '.join(f'`{n}`' for n in namespaces)} (or `ALL`): "
        "by default the sidecar reads only Grafana's own namespace, and the dashboard ConfigMap is rendered into "
        "the system's."
    ]


def alerts_section(alerts_by_env: Mapping[str, list[Alert]]) -> str:
    """One `### <AlertName>` section per alert (the anchor of its runbook_url), in the order they are defined."""
    first: dict[str, Alert] = {}
    envs: dict[str, list[str]] = {}
    for env, alerts in alerts_by_env.items():
        for alert in alerts:
            first.setdefault(alert.name, alert)
            if env not in envs.setdefault(alert.name, []):
                envs[alert.name].append(env)
    if not first:
        return "This system has no alerts.\n"
    parts = []
    for name, alert in first.items():
        checks = "".join(f"{index}. {check}\n" for index, check in enumerate(alert.checks, start=1))
        parts.append(
            f"### {name}\n\n"
            f"Severity `{alert.severity}`; rendered in {', '.join(sorted(envs[name]))}. {_plain(alert.description)}\n\n"
            f"What to check:\n\n{checks}"
        )
    return "\n".join(parts)


def _plain(template: str) -> str:
    """An alert template as prose: `{{ $labels.cronjob }}` reads as `<cronjob>`, `{{ $value }}` as `<value>`."""
    return re.sub(r"\{\{ *\$(?:labels\.)?([a-z_]+)[^}]*\}\}", r"`<\1>`", template)


def rollback_section(rendered: Rendered, stack: str) -> str:
    """How to roll back, with what each environment's sync policy does to `argocd app rollback`."""
    automated: list[str] = []
    manual: list[str] = []
    for env, stacks in sorted(rendered.items()):
        for app in stacks.get("argocd", []):
            if app["kind"] == "Application" and app["metadata"]["name"] == f"{env}-{stack}":
                policy = app["spec"].get("syncPolicy", {})
                (automated if "automated" in policy else manual).append(f"`{env}-{stack}`")
    lines = [
        "The rollback is a commit: `git revert <commit>` on the branch the environment follows "
        "(`argocd.target_revision`), `make synth`, read `make diff`, open the pull request and merge. Argo CD then "
        "syncs the Application back to what git says, and git stays the truth.",
        "",
    ]
    if automated:
        lines += [
            f"Automated sync ({', '.join(automated)}): `argocd app rollback` is refused while automated sync is on, "
            "and switching it off by hand does not last: the root Application renders every Application from git "
            "and its self-heal puts automated sync back, which syncs to the newest commit again. Revert in git.",
            "",
        ]
    if manual:
        lines += [
            f"Manual sync ({', '.join(manual)}): in an emergency `argocd app history <app>` and "
            "`argocd app rollback <app> <id>` redeploy an earlier sync at once; the Application then shows OutOfSync "
            "until the revert is merged and synced. Revert in git as well, or the next Sync deploys the bad commit "
            "again.",
            "",
        ]
    lines.append(
        'A change listed under "Changes that cannot be applied in place" by `make diff` (a selector, a claim) is '
        "not undone by a revert either: follow what the diff says for that object."
    )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Generated:
    """The generated blocks of one runbook."""

    system: str
    blocks: Mapping[str, str]

    @property
    def path(self) -> Path:
        return RUNBOOKS / f"{self.system}.md"


def generate(rendered: Rendered, alerts_by_system: Mapping[str, Mapping[str, list[Alert]]]) -> list[Generated]:
    return [
        Generated(
            system=stack.name,
            blocks={
                "prerequisites": prerequisites_section(rendered, stack.name),
                "secrets": secrets_section(rendered, stack.name),
                "alerts": alerts_section(alerts_by_system.get(stack.name, {})),
                "rollback": rollback_section(rendered, stack.name),
            },
        )
        for stack in STACKS
    ]


def apply_blocks(text: str, blocks: Mapping[str, str]) -> str:
    """The runbook with each generated block replaced; a block the text lacks is an error (the prose places it)."""
    missing = set(blocks) - {match["name"] for match in _BLOCK.finditer(text)}
    if missing:
        raise ValueError(f"no <!-- BEGIN GENERATED: {sorted(missing)[0]} --> block")

    def replace(match: re.Match[str]) -> str:
        body = blocks.get(match["name"], match["body"])
        return f"{match.group(1)}{body}{match.group(4)}"

    return _BLOCK.sub(replace, text)


def system_alerts(environments: Iterable[str]) -> dict[str, dict[str, list[Alert]]]:
    """stack -> environment -> the alerts rendered there, from the environment settings. Each stack package's
    `alerts.system_alerts(settings)` builds them (the same function its chart renders the PrometheusRule from)."""
    from environment_model.settings import load_environment

    builders: dict[str, Callable[[Any], list[Alert]]] = {
        stack.name: importlib.import_module(f"{stack.chart.partition(':')[0].rpartition('.')[0]}.alerts").system_alerts
        for stack in STACKS
    }
    found: dict[str, dict[str, list[Alert]]] = {}
    for env in environments:
        settings = load_environment(env)
        for stack in STACKS:
            system = getattr(settings, stack.settings_field)
            if system.alerts.enabled:
                found.setdefault(stack.name, {})[env] = builders[stack.name](system)
    return found


def read_dist(dist: Path) -> dict[str, dict[str, list[Manifest]]]:
    """environment -> stack -> objects, as rendered into dist/; dist/argocd/<env>/ as the stack `argocd`."""

    def objects(folder: Path) -> list[Manifest]:
        return [yaml.safe_load(file.read_text()) for file in sorted(folder.glob("*.yaml"))]

    rendered: dict[str, dict[str, list[Manifest]]] = {}
    for env_dir in sorted(path for path in dist.iterdir() if path.is_dir() and path.name != "argocd"):
        for stack_dir in sorted(path for path in env_dir.iterdir() if path.is_dir()):
            rendered.setdefault(env_dir.name, {})[stack_dir.name] = objects(stack_dir)
        rendered[env_dir.name]["argocd"] = objects(dist / "argocd" / env_dir.name)
    return rendered


def stale_runbooks(generated: Iterable[Generated]) -> list[Generated]:
    return [page for page in generated if apply_blocks(page.path.read_text(), page.blocks) != page.path.read_text()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m delivery.runbooks", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report runbooks whose generated blocks differ")
    args = parser.parse_args(argv)
    dist = RUNBOOKS.parent.parent / "dist"
    rendered = read_dist(dist)
    generated = generate(rendered, system_alerts(sorted(rendered)))
    stale = stale_runbooks(generated)
    if args.check:
        for page in stale:
            print(f"{page.path.relative_to(RUNBOOKS.parent.parent)}: generated blocks are out of date", file=sys.stderr)
        return 1 if stale else 0
    for page in stale:
        page.path.write_text(apply_blocks(page.path.read_text(), page.blocks))
        print(f"updated {page.path.relative_to(RUNBOOKS.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
