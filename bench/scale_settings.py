"""Settings of the benchmark's synthetic stack (no cdk8s import: the parent process only pickles them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScaleSettings:
    environment: str
    services: int


@dataclass(frozen=True)
class BenchEnvironment:
    """Stands in for EnvironmentSettings: render_environment reads the stack's section by attribute."""

    scale: ScaleSettings
