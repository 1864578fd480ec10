"""Lines for the end of the run: what each cluster test checked (how many objects, templates, scenarios)."""

from __future__ import annotations

LINES: list[str] = []


def add(line: str) -> None:
    LINES.append(line)
