"""Argo CD sync waves derived from what objects reference, not typed by hand.

Argo CD applies an Application's objects wave by wave (`argocd.argoproj.io/sync-wave`, lowest first) and ignores
file order. An object's wave is one more than the highest wave of anything it depends on, so a Namespace comes
before what lives in it, a Secret source before the pods that read the Secret, a workload before the Service that
selects its pods, a Service before the routes and monitors that point at it, a scale target before its autoscaler.
Argo CD hooks (the PreSync migration) run in their own phase and get no wave.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from delivery.pod_templates import LabelIndex, pod_template_of

Manifest = dict[str, Any]
Key = tuple[str, str | None, str]  # kind, namespace, name
WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave"
HOOK_ANNOTATION = "argocd.argoproj.io/hook"


def key(manifest: Manifest) -> Key:
    metadata = manifest.get("metadata", {})
    return (str(manifest.get("kind")), metadata.get("namespace"), str(metadata.get("name")))


def is_hook(manifest: Manifest) -> bool:
    return HOOK_ANNOTATION in (manifest.get("metadata", {}).get("annotations") or {})


def dependencies(manifests: list[Manifest]) -> dict[Key, set[Key]]:
    """Object -> the rendered objects it references (and so must follow)."""
    by_key = {key(m): m for m in manifests}
    secret_sources = _secret_sources(manifests)
    templates = {key(m): template for m in manifests if (template := pod_template_of(m)) is not None}
    pods, services = LabelIndex[Key](), LabelIndex[Key]()
    for owner, template in templates.items():
        pods.add(owner, owner[1], template.get("metadata", {}).get("labels", {}))
    for service in (m for m in manifests if m.get("kind") == "Service"):
        service_key = key(service)
        services.add(service_key, service_key[1], service.get("metadata", {}).get("labels", {}))
    found: dict[Key, set[Key]] = {}
    for manifest in manifests:
        own = key(manifest)
        namespace = own[1]
        refs: set[Key] = set()
        if namespace is not None:
            refs.add(("Namespace", None, namespace))
        for kind, name in _references(manifest, templates.get(own), pods):
            if kind == "Secret":
                refs.update(secret_sources.get((namespace, name), ()))
            else:
                refs.add((kind, namespace if kind not in ("Namespace", "AppProject") else None, name))
        if manifest.get("kind") == "ServiceMonitor":
            # A monitor selects Services by their labels.
            selector = manifest.get("spec", {}).get("selector", {}).get("matchLabels", {})
            refs.update(services.select(namespace, selector) if selector else ())  # an empty one: no order
        if manifest.get("kind") == "Application":
            project = manifest.get("spec", {}).get("project")
            refs.add(("AppProject", namespace, str(project)))
        found[own] = {ref for ref in refs if ref in by_key and ref != own}
    return found


def assign_sync_waves(manifests: list[Manifest]) -> None:
    """Annotate every non-hook object with its wave: 0 with no dependencies, else 1 + the highest dependency's."""
    graph = dependencies(manifests)
    waves: dict[Key, int] = {}

    def wave(node: Key, visiting: frozenset[Key] = frozenset()) -> int:
        if node in waves:
            return waves[node]
        if node in visiting:
            raise ValueError(f"dependency cycle through {node[0]}/{node[2]}")
        deps = graph.get(node, set())
        waves[node] = 1 + max((wave(dep, visiting | {node}) for dep in deps), default=-1)
        return waves[node]

    for manifest in manifests:
        if is_hook(manifest):
            continue
        metadata = manifest.setdefault("metadata", {})
        annotations = metadata.get("annotations") or {}
        metadata["annotations"] = {**annotations, WAVE_ANNOTATION: str(wave(key(manifest)))}


def _secret_sources(manifests: list[Manifest]) -> dict[tuple[str | None, str], set[Key]]:
    """(namespace, Secret name) -> the rendered objects that create that Secret."""
    sources: dict[tuple[str | None, str], set[Key]] = {}
    for manifest in manifests:
        namespace = manifest.get("metadata", {}).get("namespace")
        if manifest.get("kind") == "ExternalSecret":
            target = manifest.get("spec", {}).get("target", {}).get("name") or manifest["metadata"]["name"]
            sources.setdefault((namespace, target), set()).add(key(manifest))
        elif manifest.get("kind") == "SealedSecret":
            sources.setdefault((namespace, manifest["metadata"]["name"]), set()).add(key(manifest))
        elif manifest.get("kind") == "Certificate":
            secret = manifest.get("spec", {}).get("secretName")
            if secret:
                sources.setdefault((namespace, secret), set()).add(key(manifest))
    return sources


def _references(
    manifest: Manifest, template: Mapping[str, Any] | None, pods: LabelIndex[Key]
) -> Iterator[tuple[str, str]]:
    kind = manifest.get("kind")
    spec = manifest.get("spec", {})
    if template is not None:
        yield from _pod_references(template.get("spec", {}))
    if kind == "ServiceAccount":
        for secret in manifest.get("imagePullSecrets", []):
            yield "Secret", secret["name"]
    if kind == "RoleBinding":
        role = manifest.get("roleRef", {})
        yield str(role.get("kind")), str(role.get("name"))
        for subject in manifest.get("subjects", []):
            if subject.get("kind") == "ServiceAccount":
                yield "ServiceAccount", subject["name"]
    if kind in ("Service", "PodDisruptionBudget"):
        selector = spec.get("selector", {})
        selector = selector.get("matchLabels", selector) if kind == "PodDisruptionBudget" else selector
        namespace = manifest.get("metadata", {}).get("namespace")
        for owner_kind, _, owner_name in pods.select(namespace, selector) if selector else ():
            yield owner_kind, owner_name
    if kind == "HorizontalPodAutoscaler":
        target = spec.get("scaleTargetRef", {})
        yield str(target.get("kind")), str(target.get("name"))
    if kind == "Ingress":
        for rule in spec.get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                yield "Service", path["backend"]["service"]["name"]
        for tls in spec.get("tls", []):
            if tls.get("secretName"):
                yield "Secret", tls["secretName"]
    if kind == "IngressRoute":
        for route in spec.get("routes", []):
            for service in route.get("services", []):
                yield "Service", service["name"]
            for middleware in route.get("middlewares", []):
                yield "Middleware", middleware["name"]
        if spec.get("tls", {}).get("secretName"):
            yield "Secret", spec["tls"]["secretName"]


def _pod_references(pod: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    if pod.get("serviceAccountName"):
        yield "ServiceAccount", pod["serviceAccountName"]
    for secret in pod.get("imagePullSecrets", []):
        yield "Secret", secret["name"]
    for volume in pod.get("volumes", []):
        if "configMap" in volume:
            yield "ConfigMap", volume["configMap"]["name"]
        if "secret" in volume:
            yield "Secret", volume["secret"]["secretName"]
        if "persistentVolumeClaim" in volume:
            yield "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]
    for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                yield "ConfigMap", source["configMapRef"]["name"]
            if "secretRef" in source:
                yield "Secret", source["secretRef"]["name"]
        for variable in container.get("env", []):
            value_from = variable.get("valueFrom", {})
            if "configMapKeyRef" in value_from:
                yield "ConfigMap", value_from["configMapKeyRef"]["name"]
            if "secretKeyRef" in value_from:
                yield "Secret", value_from["secretKeyRef"]["name"]
