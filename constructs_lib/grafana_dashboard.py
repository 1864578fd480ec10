"""A Grafana dashboard delivered as a ConfigMap that the Grafana sidecar (kiwigrid k8s-sidecar, as in
kube-prometheus-stack) loads: label `grafana_dashboard: "1"`, folder from an annotation."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from constructs import Construct

from constructs_lib.errors import PropsError
from constructs_lib.labels import RecommendedLabels

# The sidecar's defaults in the Grafana chart: `sidecar.dashboards.label` / `labelValue`, and the annotation its
# `folderAnnotation` is usually set to.
SIDECAR_LABEL = {"grafana_dashboard": "1"}
FOLDER_ANNOTATION = "grafana_folder"
_UID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


@dataclass(frozen=True, kw_only=True)
class GrafanaDashboardProps:
    """Props of `GrafanaDashboard`.

    Attributes:
        name: the ConfigMap's name; the dashboard file in it is `<name>.json`.
        labels: the system's recommended labels; the sidecar's label is added.
        dashboard: the dashboard model (Grafana's JSON, e.g. built with grafana-foundation-sdk); it must have a
            `uid` (1-40 of A-Z, a-z, 0-9, '-', '_') and a `title`.
        folder: the Grafana folder the sidecar files it under.
    """

    name: str
    labels: RecommendedLabels
    dashboard: Mapping[str, object]
    folder: str


class GrafanaDashboard(Construct):
    """One ConfigMap holding one dashboard as deterministic JSON (sorted keys, no timestamps)."""

    def __init__(self, scope: Construct, id: str, props: GrafanaDashboardProps) -> None:
        super().__init__(scope, id)
        uid = props.dashboard.get("uid")
        if not isinstance(uid, str) or not _UID.match(uid):
            raise PropsError("GrafanaDashboard", "dashboard.uid", uid, "1-40 characters of A-Z, a-z, 0-9, '-', '_'")
        if not props.dashboard.get("title"):
            raise PropsError("GrafanaDashboard", "dashboard.title", props.dashboard.get("title"), "a title")
        if not props.folder.strip():
            raise PropsError("GrafanaDashboard", "folder", props.folder, "a folder name")
        self.json = json.dumps(props.dashboard, sort_keys=True, indent=1, ensure_ascii=False)
        from cdk8s_plus_27 import k8s

        k8s.KubeConfigMap(
            self,
            "Resource",
            metadata=k8s.ObjectMeta(
                name=props.name,
                labels={**props.labels.all, **SIDECAR_LABEL},
                annotations={FOLDER_ANNOTATION: props.folder},
            ),
            data={f"{props.name}.json": self.json},
        )
