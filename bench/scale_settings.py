"""Settings of the benchmark's synthetic stacks (no cdk8s import: the parent process only pickles them)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ScaleSettings:
    environment: str
    services: int
    # Index of the first service (svc-NNN): the services of one environment can be split over several stacks.
    first: int = 0


@dataclass(frozen=True)
class BenchEnvironment:
    """Stands in for EnvironmentSettings: render_environment reads each stack's section by attribute name."""

    sections: dict[str, ScaleSettings] = field(default_factory=dict)

    def __getattr__(self, name: str) -> ScaleSettings:
        if name.startswith("__"):  # pickle and copy look up special methods before the instance is filled in
            raise AttributeError(name)
        sections: dict[str, ScaleSettings] = self.__dict__["sections"]
        try:
            return sections[name]
        except KeyError:
            raise AttributeError(name) from None
