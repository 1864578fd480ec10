"""Checks over a whole environment's rendered objects, run by every synth before anything is written.

These are the properties a single construct cannot see: that selectors meet the pods they are meant for, that
references name objects that exist, that no Secret value is about to be committed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from constructs_lib.existing_objects import EXISTING_CLAIMS_ANNOTATION
from constructs_lib.labels import VERSION_LABEL
from constructs_lib.pod_security_labels import missing_labels
from constructs_lib.scratch import NO_WRITABLE_TMP_ANNOTATION, SCRATCH_PATH
from constructs_lib.sync_options import sync_options
from delivery.pod_security import DEFAULT_LEVEL, enforced_levels, violations
from delivery.pod_templates import POD_TEMPLATE_KINDS, LabelIndex, pod_template_of, selects
from delivery.sync_waves import is_hook
from engine import Manifest
from value_types.images import mutable_tag_problem

RECOMMENDED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
)
CDK8S_PATH_LABEL = "cdk8s.io/metadata.addr"
# What a workload's (immutable) selector is made of: the recommended labels that never change with a release.
STABLE_SELECTOR_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
HOSTNAME_TOPOLOGY = "kubernetes.io/hostname"
# Access modes that attach a volume to a single node (ReadWriteOncePod even to a single pod).
_SINGLE_NODE_ACCESS = frozenset({"ReadWriteOnce", "ReadWriteOncePod"})


class RenderCheckError(Exception):
    """The rendered objects break a rule; the message lists every problem."""


@dataclass(frozen=True)
class PodTemplate:
    namespace: str | None
    owner: str
    labels: Mapping[str, str]
    spec: Mapping[str, Any]
    annotations: Mapping[str, str] = field(default_factory=dict)


def pod_templates(manifests: list[Manifest]) -> list[PodTemplate]:
    templates = []
    for manifest in manifests:
        template = pod_template_of(manifest)
        if template is None:
            continue
        templates.append(
            PodTemplate(
                namespace=_namespace(manifest),
                owner=f"{manifest['kind']}/{manifest['metadata']['name']}",
                labels=template.get("metadata", {}).get("labels", {}),
                spec=template.get("spec", {}),
                annotations=template.get("metadata", {}).get("annotations") or {},
            )
        )
    return templates


def check_environment(manifests: list[Manifest]) -> None:
    """RenderCheckError listing every problem in one environment's objects."""
    problems = list(find_problems(manifests))
    if problems:
        raise RenderCheckError("\n".join(problems))


def check_stacks(by_stack: Mapping[str, list[Manifest]]) -> None:
    """RenderCheckError listing every problem in one environment's stacks: each object's rules, and conflicts
    between stacks (each stack is an Argo CD Application, and two Applications must never own the same object)."""
    problems = [
        *_shared_objects(by_stack),
        *find_problems([manifest for manifests in by_stack.values() for manifest in manifests]),
    ]
    if problems:
        raise RenderCheckError("\n".join(problems))


def _shared_objects(by_stack: Mapping[str, list[Manifest]]) -> Iterator[str]:
    first_stack: dict[tuple[str, str | None, str], str] = {}
    # Only the objects rendered more than once get a list (every stack that renders them) and are sorted.
    shared: dict[tuple[str, str | None, str], list[str]] = {}
    for stack, manifests in by_stack.items():
        for manifest in manifests:
            key = (str(manifest.get("kind")), _namespace(manifest), str(manifest["metadata"]["name"]))
            if key in first_stack:
                shared.setdefault(key, [first_stack[key]]).append(stack)
            else:
                first_stack[key] = stack
    for (kind, namespace, name), stacks in sorted(shared.items(), key=lambda item: str(item[0])):
        where = f" in namespace {namespace}" if namespace else ""
        yield (
            f"{kind}/{name}{where}: rendered by stacks {', '.join(sorted(stacks))}; one object can belong to one "
            f"Argo CD Application only (rename one, or move it to one stack)"
        )


def find_problems(manifests: list[Manifest]) -> Iterator[str]:
    by_reference: dict[tuple[Any, str | None, Any], Manifest] = {}
    # kind -> (position, object): each rule below reads the kinds it is about, not every object again (in a large
    # environment the objects outgrow the CPU's cache, and each pass over all of them is paid in memory reads).
    by_kind: dict[Any, list[tuple[int, Manifest]]] = {}
    for position, manifest in enumerate(manifests):
        by_reference[manifest.get("kind"), _namespace(manifest), manifest["metadata"]["name"]] = manifest
        by_kind.setdefault(manifest.get("kind"), []).append((position, manifest))
    owners = _of_kinds(by_kind, *POD_TEMPLATE_KINDS)
    templates = pod_templates(owners)  # one per owner: zipped with them below
    pods = LabelIndex[PodTemplate]()
    for template in templates:
        pods.add(template, template.namespace, template.labels)
    # (namespace, claim name) -> the pod templates that mount the claim, each once, in order.
    mounted_by: dict[tuple[str | None, Any], list[PodTemplate]] = {}
    for template in templates:
        volumes = template.spec.get("volumes", [])
        for claim_name in dict.fromkeys(
            v["persistentVolumeClaim"]["claimName"] for v in volumes if "persistentVolumeClaim" in v
        ):
            mounted_by.setdefault((template.namespace, claim_name), []).append(template)
    for manifest in manifests:
        kind = manifest.get("kind")
        name = manifest["metadata"]["name"]
        where = f"{kind}/{name}"
        namespace = _namespace(manifest)
        spec = manifest.get("spec", {})
        labels = manifest["metadata"].get("labels", {})
        missing = [label for label in RECOMMENDED_LABELS if label not in labels]
        if missing:
            yield f"{where}: missing recommended labels {missing}"
        for selector in _selectors(manifest):
            if CDK8S_PATH_LABEL in selector:
                yield f"{where}: selects by {CDK8S_PATH_LABEL}, which changes when the construct tree is refactored"
        if kind == "Job" and not _replaced_or_hook(manifest):
            yield (
                f"{where}: a Job's pod template cannot be changed, so the next image bump would fail the sync; "
                f"make it an Argo CD hook, mark it for replacement (Replace=true), or render a PodTemplate "
                f"(JobPodTemplate) for whatever creates the Jobs"
            )
        if kind == "Secret" and (manifest.get("data") or manifest.get("stringData")):
            yield f"{where}: a Secret with values would be committed to git; reference an existing Secret instead"
        for claim in spec.get("volumeClaimTemplates", []) if kind == "StatefulSet" else ():
            if VERSION_LABEL in claim.get("metadata", {}).get("labels", {}):
                yield (
                    f"{where}: claim template {claim['metadata'].get('name')} carries {VERSION_LABEL}; claim "
                    f"templates cannot be changed, so the next image bump would be refused (leave the version out)"
                )
        if kind in WORKLOAD_KINDS:
            match_labels = spec.get("selector", {}).get("matchLabels", {})
            template_labels = spec.get("template", {}).get("metadata", {}).get("labels", {})
            if not match_labels or not selects(match_labels, template_labels):
                yield f"{where}: selector {match_labels} does not match its own pod template labels"
            if set(match_labels) != set(STABLE_SELECTOR_LABELS) or spec.get("selector", {}).get("matchExpressions"):
                yield (
                    f"{where}: selector {match_labels} is not exactly the stable labels {list(STABLE_SELECTOR_LABELS)}; "
                    f"a selector cannot be changed in place, so it holds only labels that never change"
                )
        pod_selector = _pod_selector(manifest)
        if pod_selector is not None and not pods.selects_any(namespace, pod_selector):
            yield f"{where}: selector {pod_selector} matches no pod rendered in namespace {namespace}"
        if kind == "HorizontalPodAutoscaler":
            target = spec.get("scaleTargetRef", {})
            scaled = by_reference.get((target.get("kind"), namespace, target.get("name")))
            if scaled is None:
                yield f"{where}: scales {target.get('kind')}/{target.get('name')}, which is not rendered"
            elif scaled.get("spec", {}).get("replicas") is not None:
                yield f"{where}: {target.get('kind')}/{target.get('name')} has fixed replicas while an HPA scales it"
        if kind == "Ingress":
            for rule in spec.get("rules", []):
                for path in rule.get("http", {}).get("paths", []):
                    backend = path.get("backend", {}).get("service", {})
                    port = backend.get("port", {})
                    problem = _service_port_problem(
                        f"{where}: backend",
                        by_reference,
                        namespace,
                        backend.get("name"),
                        port.get("name") or port.get("number"),
                    )
                    if problem:
                        yield problem
        if kind == "IngressRoute":
            for route in spec.get("routes", []):
                for backend in route.get("services", []):
                    if backend.get("kind", "Service") != "Service":
                        continue
                    problem = _service_port_problem(
                        f"{where}: route", by_reference, namespace, backend.get("name"), backend.get("port")
                    )
                    if problem:
                        yield problem
        if kind == "NetworkPolicy":
            yield from _policy_peer_problems(where, namespace, spec, pods)
    claims = _of_kinds(by_kind, "PersistentVolumeClaim")
    bindings = _of_kinds(by_kind, "RoleBinding")
    workloads = [
        (owner, template)
        for owner, template in zip(owners, templates, strict=True)
        if owner.get("kind") in WORKLOAD_KINDS
    ]
    yield from _overlapping_workloads(workloads, pods)
    yield from _rbac_problems(bindings, _of_kinds(by_kind, "Role"), by_reference)
    yield from _single_node_claim_problems(claims, mounted_by, by_reference)
    yield from _route_conflicts(_of_kinds(by_kind, "Ingress", "IngressRoute"))
    yield from _pod_security_problems(_of_kinds(by_kind, "Namespace", "Application"), templates)
    for claim in claims:
        if (_namespace(claim), claim["metadata"]["name"]) not in mounted_by:
            yield f"PersistentVolumeClaim/{claim['metadata']['name']}: no rendered pod mounts it"
    bound_accounts = {
        (_namespace(binding), subject.get("name"))
        for binding in bindings
        for subject in binding.get("subjects", [])
        if subject.get("kind") == "ServiceAccount"
    }
    for template in templates:
        yield from _pod_reference_problems(template, by_reference, bound_accounts)
        yield from _image_problems(template)
        yield from _writable_tmp_problems(template)


def _of_kinds(by_kind: Mapping[Any, list[tuple[int, Manifest]]], *kinds: str) -> list[Manifest]:
    """The objects of `kinds`, in their order among all the objects."""
    entries = [entry for kind in kinds for entry in by_kind.get(kind, [])]
    return [manifest for _, manifest in sorted(entries, key=itemgetter(0))]


def _writable_tmp_problems(template: PodTemplate) -> Iterator[str]:
    """A container with a read-only root filesystem fails at its first write to /tmp (npm's cache and logs,
    Python's tempfile, nginx's buffers) unless a writable scratch volume is mounted there; only a container its
    pod names in NO_WRITABLE_TMP_ANNOTATION (its props say it needs none) goes without."""
    exempt = {name.strip() for name in str(template.annotations.get(NO_WRITABLE_TMP_ANNOTATION, "")).split(",")}
    scratch = {volume["name"] for volume in template.spec.get("volumes", []) if "emptyDir" in volume}
    for container in [*template.spec.get("initContainers", []), *template.spec.get("containers", [])]:
        if not (container.get("securityContext") or {}).get("readOnlyRootFilesystem") or container["name"] in exempt:
            continue
        mounts = [m for m in container.get("volumeMounts", []) if m.get("mountPath", "").rstrip("/") == SCRATCH_PATH]
        if not any(m["name"] in scratch and not m.get("readOnly") for m in mounts):
            yield (
                f"{template.owner}: container {container['name']} has a read-only root filesystem and no writable "
                f"emptyDir at {SCRATCH_PATH}; mount one (render_pod does), or set writable_tmp=False in its props if "
                f"it never writes there"
            )


def _overlapping_workloads(
    workloads: list[tuple[Manifest, PodTemplate]], pods: LabelIndex[PodTemplate]
) -> Iterator[str]:
    """Two workloads whose selector matches the other's pods fight over them (each controller counts the other's
    pods as its own), and a Service or policy built from one selector reaches both. `workloads`: each workload with
    its pod template, in order."""
    for workload, template in workloads:
        selector = workload.get("spec", {}).get("selector", {}).get("matchLabels", {})
        if not selector:
            continue
        for other in pods.select(template.namespace, selector):
            if other is not template and other.owner.partition("/")[0] in WORKLOAD_KINDS:
                yield (
                    f"{template.owner}: selector {selector} also matches the pods of {other.owner}; each workload's "
                    f"name, instance and component must together select its pods alone"
                )


def _image_problems(template: PodTemplate) -> Iterator[str]:
    for container in [*template.spec.get("initContainers", []), *template.spec.get("containers", [])]:
        image = str(container.get("image", ""))
        if "@" in image:  # pinned by digest
            continue
        name, _, tag = image.rpartition(":")
        if not name or "/" in tag:
            yield f"{template.owner}: container {container.get('name')} image {image} has no tag (it means latest)"
        elif problem := mutable_tag_problem(tag):
            yield f"{template.owner}: container {container.get('name')} image {image}: {problem}"


def _pod_security_problems(namespace_sources: list[Manifest], templates: list[PodTemplate]) -> Iterator[str]:
    """Every namespace the project creates enforces a Pod Security level (labels on the Namespace, or Argo CD's
    managedNamespaceMetadata), and no pod breaks the level of its namespace: the API server would refuse to create
    it, and a Deployment would roll out nothing, with the sync reported as progressing. `namespace_sources`: the
    Namespaces and Argo CD Applications, in order."""
    for manifest in namespace_sources:
        where = f"{manifest.get('kind')}/{manifest['metadata']['name']}"
        if manifest.get("kind") == "Namespace":
            labels, owner = manifest["metadata"].get("labels", {}), "its labels"
        elif manifest.get("kind") == "Application" and "CreateNamespace=true" in manifest.get("spec", {}).get(
            "syncPolicy", {}
        ).get("syncOptions", []):
            managed = manifest["spec"]["syncPolicy"].get("managedNamespaceMetadata") or {}
            labels, owner = managed.get("labels", {}), "spec.syncPolicy.managedNamespaceMetadata.labels"
        else:
            continue
        missing = missing_labels(labels)
        if missing:
            yield f"{where}: creates a namespace without the Pod Security labels {missing} in {owner}"
    levels = enforced_levels(namespace_sources)
    for template in templates:
        level = levels.get(template.namespace or "", DEFAULT_LEVEL)
        pod = {"metadata": {"annotations": template.annotations}, "spec": template.spec}
        for violation in violations(level, pod):
            container = f" container {violation.container}:" if violation.container else ""
            yield (
                f"{template.owner}:{container} {violation.field} {violation.problem}; namespace {template.namespace} "
                f"enforces Pod Security {level}, so the API server would refuse the pod"
            )


def _replaced_or_hook(manifest: Manifest) -> bool:
    options = sync_options(manifest.get("metadata", {}).get("annotations"))
    return is_hook(manifest) or options.get("Replace") == "true"


def _single_node_claim_problems(
    claims: list[Manifest],
    mounted_by: Mapping[tuple[str | None, Any], list[PodTemplate]],
    by_reference: Mapping[Any, Manifest],
) -> Iterator[str]:
    """A ReadWriteOnce claim attaches to one node at a time: every pod that mounts it must be scheduled onto the
    same node, or the pods placed elsewhere wait for it forever (on a multi-node cluster with block storage)."""
    for claim in claims:
        modes = set(claim.get("spec", {}).get("accessModes", []))
        if not modes or not modes <= _SINGLE_NODE_ACCESS:
            continue
        namespace, name = _namespace(claim), claim["metadata"]["name"]
        users = mounted_by.get((namespace, name), [])
        for template in users:
            owner_kind, _, owner_name = template.owner.partition("/")
            if owner_kind != "Deployment":
                continue
            owner = by_reference.get((owner_kind, namespace, owner_name), {})
            strategy = owner.get("spec", {}).get("strategy", {}).get("type", "RollingUpdate")
            if strategy != "Recreate" and not _pinned_node(template):
                yield (
                    f"{template.owner}: mounts ReadWriteOnce claim {name} with a {strategy} strategy; a surge pod on "
                    f"another node cannot attach it (use Recreate, pin the node, or ReadWriteMany storage)"
                )
        if len(users) < 2 or _on_one_node(users):
            continue
        yield (
            f"PersistentVolumeClaim/{name}: ReadWriteOnce, mounted by {', '.join(t.owner for t in users)} with no "
            f"shared placement; on a multi-node cluster the pods on another node cannot attach it (give them the "
            f"same {HOSTNAME_TOPOLOGY} node selector or required pod affinity to one of them, or use ReadWriteMany)"
        )


def _pinned_node(template: PodTemplate) -> str | None:
    node: str | None = (template.spec.get("nodeSelector") or {}).get(HOSTNAME_TOPOLOGY)
    return node


def _on_one_node(templates: list[PodTemplate]) -> bool:
    """Whether the scheduler must put all these pods on one node: they are all pinned to the same host name, or
    one of them is the anchor that every other one requires (pod affinity on the host name)."""
    nodes = {_pinned_node(template) for template in templates}
    if len(nodes) == 1 and None not in nodes:
        return True
    # The anchor is the first template or one the first requires: only those are tried against all the others.
    anchors = templates[:1] + [anchor for anchor in templates[1:] if _requires_node_of(templates[0], anchor)]
    return any(all(other is anchor or _requires_node_of(other, anchor) for other in templates) for anchor in anchors)


def _requires_node_of(template: PodTemplate, anchor: PodTemplate) -> bool:
    terms = (
        template.spec.get("affinity", {})
        .get("podAffinity", {})
        .get("requiredDuringSchedulingIgnoredDuringExecution", [])
    )
    for term in terms:
        selector = term.get("labelSelector", {})
        match_labels = selector.get("matchLabels", {})
        same_namespace = not term.get("namespaces") and not term.get("namespaceSelector")
        if (
            term.get("topologyKey") == HOSTNAME_TOPOLOGY
            and same_namespace
            and match_labels
            and not selector.get("matchExpressions")
            and selects(match_labels, anchor.labels)
        ):
            return True
    return False


# Traefik rule matchers that name a host or a path (Host(`a`, `b`) and Path/PathPrefix(`/x`)).
_HOST_MATCHER = re.compile(r"Host\(([^)]*)\)")
_PATH_MATCHER = re.compile(r"Path(?:Prefix)?\(([^)]*)\)")
_BACKTICKED = re.compile(r"`([^`]*)`")


def _route_conflicts(routes: list[Manifest]) -> Iterator[str]:
    """Two Ingresses (of one class), or two IngressRoutes (on one entry point), routing the same host and path:
    which backend gets the traffic is then up to the controller, and changes without any change in git."""
    claims: dict[tuple[str, str, str], list[str]] = {}
    for manifest in routes:
        kind, spec = manifest.get("kind"), manifest.get("spec", {})
        owner = f"{kind}/{manifest['metadata']['name']}"
        if kind == "Ingress":
            scope = f"Ingress class {spec.get('ingressClassName', '(default)')}"
            for rule in spec.get("rules", []):
                for path in rule.get("http", {}).get("paths", []):
                    claims.setdefault((scope, rule.get("host", "*"), path.get("path", "/")), []).append(owner)
        elif kind == "IngressRoute":
            for entry_point in spec.get("entryPoints", ["(all)"]):
                for route in spec.get("routes", []):
                    match = route.get("match", "")
                    hosts = [h for m in _HOST_MATCHER.findall(match) for h in _BACKTICKED.findall(m)] or ["*"]
                    paths = [p for m in _PATH_MATCHER.findall(match) for p in _BACKTICKED.findall(m)] or ["/"]
                    for host in hosts:
                        for path in paths:
                            claims.setdefault((f"entry point {entry_point}", host, path), []).append(owner)
    conflicts = {claim: sorted(set(owners)) for claim, owners in claims.items() if len(set(owners)) > 1}
    for (scope, host, path), owners in sorted(conflicts.items()):
        yield f"{' and '.join(owners)}: both route host {host} path {path} ({scope})"


def _service_port_problem(
    where: str, by_reference: Mapping[Any, Manifest], namespace: str | None, name: Any, port: Any
) -> str | None:
    """What is wrong with a reference to port `port` (a name or a number) of Service `name`, if anything."""
    service = by_reference.get(("Service", namespace, name))
    if service is None:
        return f"{where} Service {name} is not rendered in namespace {namespace}"
    key = "name" if isinstance(port, str) else "port"
    if not any(p.get(key) == port for p in service.get("spec", {}).get("ports", [])):
        return f"{where} port {port} is not a port of Service {name}"
    return None


def _policy_peer_problems(
    where: str, namespace: str | None, spec: Mapping[str, Any], pods: LabelIndex[PodTemplate]
) -> Iterator[str]:
    """A same-namespace pod selector in a rule must pick rendered pods, or the rule allows nothing intended."""
    rules = [*(r.get("from", []) for r in spec.get("ingress", [])), *(r.get("to", []) for r in spec.get("egress", []))]
    for peers in rules:
        for peer in peers or []:
            if "namespaceSelector" in peer or "podSelector" not in peer:
                continue
            labels = peer["podSelector"].get("matchLabels", {})
            if labels and not pods.selects_any(namespace, labels):
                yield f"{where}: peer selector {labels} matches no pod rendered in namespace {namespace}"


def _rbac_problems(
    bindings: list[Manifest], roles: list[Manifest], by_reference: Mapping[Any, Manifest]
) -> Iterator[str]:
    for binding in bindings:
        where = f"RoleBinding/{binding['metadata']['name']}"
        namespace = _namespace(binding)
        role = binding.get("roleRef", {})
        if role.get("kind") == "Role" and (("Role", namespace, role.get("name")) not in by_reference):
            yield f"{where}: binds Role/{role.get('name')}, which is not rendered in namespace {namespace}"
        for subject in binding.get("subjects", []):
            if subject.get("kind") != "ServiceAccount" or subject.get("namespace", namespace) != namespace:
                continue
            if ("ServiceAccount", namespace, subject.get("name")) not in by_reference:
                yield f"{where}: binds ServiceAccount/{subject.get('name')}, which is not rendered"
    bound_roles = {
        (_namespace(b), b.get("roleRef", {}).get("name"))
        for b in bindings
        if b.get("roleRef", {}).get("kind") == "Role"
    }
    for role in roles:
        if (_namespace(role), role["metadata"]["name"]) not in bound_roles:
            yield f"Role/{role['metadata']['name']}: is bound by no RoleBinding (dead permissions)"


def _pod_reference_problems(
    template: PodTemplate, by_reference: Mapping[Any, Manifest], bound_accounts: set[tuple[str | None, Any]]
) -> Iterator[str]:
    spec = template.spec
    where = template.owner
    namespace = template.namespace
    volumes = {volume["name"] for volume in spec.get("volumes", [])}
    owner_kind, _, owner_name = where.partition("/")
    owner = by_reference.get((owner_kind, namespace, owner_name))
    if owner is not None and owner.get("kind") == "StatefulSet":
        claims = owner.get("spec", {}).get("volumeClaimTemplates", [])
        volumes |= {claim["metadata"]["name"] for claim in claims}
    containers = [*spec.get("initContainers", []), *spec.get("containers", [])]
    for container in containers:
        for mount in container.get("volumeMounts", []):
            if mount["name"] not in volumes:
                yield f"{where}: container {container['name']} mounts undeclared volume {mount['name']}"
        config_maps = [
            ref["configMapKeyRef"]
            for variable in container.get("env", [])
            if (ref := variable.get("valueFrom", {})).get("configMapKeyRef")
        ]
        config_maps += [source["configMapRef"] for source in container.get("envFrom", []) if "configMapRef" in source]
        for ref in config_maps:
            if not ref.get("optional") and ("ConfigMap", namespace, ref.get("name")) not in by_reference:
                yield f"{where}: container {container['name']} reads ConfigMap {ref.get('name')}, which is not rendered"
    owner_annotations = (owner or {}).get("metadata", {}).get("annotations") or {}
    existing = {name.strip() for name in str(owner_annotations.get(EXISTING_CLAIMS_ANNOTATION, "")).split(",")}
    for volume in spec.get("volumes", []):
        claim = volume.get("persistentVolumeClaim", {}).get("claimName")
        if claim and claim not in existing and ("PersistentVolumeClaim", namespace, claim) not in by_reference:
            yield (
                f"{where}: volume {volume['name']} claims PersistentVolumeClaim {claim}, which is not rendered (nor "
                f"named in {EXISTING_CLAIMS_ANNOTATION} as one that exists before the first sync)"
            )
        config_map = volume.get("configMap", {}).get("name")
        if config_map and ("ConfigMap", namespace, config_map) not in by_reference:
            yield f"{where}: volume {volume['name']} uses ConfigMap {config_map}, which is not rendered"
    if spec.get("automountServiceAccountToken") is not False:
        account = spec.get("serviceAccountName", "default")
        if (namespace, account) not in bound_accounts:
            yield f"{where}: mounts an API token for ServiceAccount {account}, which no RoleBinding grants anything"


def _pod_selector(manifest: Manifest) -> dict[str, str] | None:
    """The pod selector of objects that must select at least one rendered pod."""
    kind = manifest.get("kind")
    spec = manifest.get("spec", {})
    if kind == "Service":
        selector: dict[str, str] | None = spec.get("selector")
        return selector
    if kind == "NetworkPolicy":
        return dict(spec.get("podSelector", {}).get("matchLabels", {}))
    if kind == "PodDisruptionBudget":
        return dict(spec.get("selector", {}).get("matchLabels", {}))
    return None


def _selectors(manifest: Manifest) -> Iterator[Mapping[str, str]]:
    spec = manifest.get("spec", {})
    for selector in (
        spec.get("selector"),
        spec.get("selector", {}).get("matchLabels") if isinstance(spec.get("selector"), dict) else None,
        spec.get("podSelector", {}).get("matchLabels"),
    ):
        if isinstance(selector, dict):
            yield selector


def _namespace(manifest: Manifest) -> str | None:
    namespace: str | None = manifest.get("metadata", {}).get("namespace")
    return namespace
