"""An alerting rule as plain data: what fires, when, how bad, and what to check.

Plain data, no jsii: the runbook generator reads the same definitions the PrometheusRules are rendered from, so an
alert and the runbook section its `runbook_url` points at cannot drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Severity = Literal["critical", "warning", "info"]
ALERT_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")


@dataclass(frozen=True, kw_only=True)
class Alert:
    """One alerting rule and what a person on call needs to act on it.

    Attributes:
        name: the alert's name, CamelCase (`CorePipelineHighErrorRate`); also the heading of its runbook section.
        expr: the PromQL expression; the alert fires for every series it returns.
        for_: how long the expression must hold before the alert fires, a Prometheus duration such as `5m`.
        severity: `critical` (pages: users are affected now), `warning` (needs attention today) or `info`.
        summary: one line for the notification title; may use `{{ $labels.x }}` and `{{ $value }}`.
        description: what is wrong and why it matters.
        checks: what to look at first, in order; rendered into the runbook's troubleshooting section.
    """

    name: str
    expr: str
    for_: str
    severity: Severity
    summary: str
    description: str
    checks: tuple[str, ...] = ()

    @property
    def anchor(self) -> str:
        """The Markdown anchor of the runbook heading `### <name>` (GitHub lowercases headings)."""
        return self.name.lower()
