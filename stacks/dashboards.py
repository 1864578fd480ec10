"""What each system's Grafana dashboard is made of: its settings, the workloads it shows and its stable uid.
Light on purpose (the settings models import it); stacks/dashboard_model.py builds the dashboard."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import Field

from value_types.model import StrictModel

ENVIRONMENT_CONTEXT = "environment"


class DashboardSettings(StrictModel):
    """The system's Grafana dashboard (a ConfigMap the Grafana sidecar loads)."""

    enabled: bool = Field(True, description="Render the dashboard ConfigMap.")
    grafana_folder: str = Field(
        "Platform", min_length=1, max_length=100, description="Grafana folder (the `grafana_folder` annotation)."
    )


@dataclass(frozen=True, kw_only=True)
class HttpMetrics:
    """An app's request duration histogram: `<histogram>_count` for traffic and errors, `_bucket` for latency."""

    histogram: str
    status_label: str
    job: str


@dataclass(frozen=True, kw_only=True)
class Workloads:
    """What a system runs in its namespace, by kind and name."""

    namespace: str
    deployments: Sequence[str] = ()
    statefulsets: Sequence[str] = ()
    cronjobs: Sequence[str] = ()
    autoscalers: Sequence[str] = ()
    leases: Sequence[str] = ()  # leader election Leases
    http: HttpMetrics | None = None


def dashboard_uid(system: str, environment: str) -> str:
    """Stable across renders, distinct per system and environment (one Grafana may show several environments)."""
    digest = hashlib.sha256(f"{environment}/{system}".encode()).hexdigest()[:8]
    return f"{system[:24]}-{environment[:6]}-{digest}"
