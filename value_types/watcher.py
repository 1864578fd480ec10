"""The watcher sidecar's stats and probe blocks: one type each for the discord-monitor settings and the
WatcherSidecar construct's props."""

from __future__ import annotations

from pydantic import Field

from value_types.model import StrictModel
from value_types.names import AbsolutePath


class WatcherStatsSettings(StrictModel):
    """Usage statistics the watcher posts (STATS_ENABLED, STATS_TOKENS, STATS_COSTS). All off by default."""

    enabled: bool = Field(False, description="STATS_ENABLED.")
    tokens: bool = Field(False, description="STATS_TOKENS.")
    costs: bool = Field(False, description="STATS_COSTS.")


class WatcherStartupProbeSettings(StrictModel):
    """A startup probe holding liveness off while the watcher starts (up to 30 x 5 s by default)."""

    enabled: bool = Field(True, description="Hold liveness off until /healthz first answers.")
    failure_threshold: int = Field(30, ge=1, le=1000)
    period_seconds: int = Field(5, ge=1, le=300)


class WatcherProbeSettings(StrictModel):
    """Readiness and liveness probes on the watcher's health port (seed 9.1/9.3); liveness starts 5 s after
    readiness."""

    enabled: bool = Field(True, description="Readiness and liveness probes on /healthz.")
    path: AbsolutePath = Field("/healthz")
    initial_delay_seconds: int = Field(5, ge=0, le=600)
    period_seconds: int = Field(10, ge=1, le=300)
    timeout_seconds: int = Field(2, ge=1, le=60)
    failure_threshold: int = Field(3, ge=1, le=100)
    startup_probe: WatcherStartupProbeSettings = Field(default_factory=WatcherStartupProbeSettings)
