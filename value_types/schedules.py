"""Schedules and durations: cron schedules and time zones as Kubernetes CronJobs take them, refresh intervals,
Prometheus durations."""

from __future__ import annotations

import re
import zoneinfo
from typing import Annotated

from pydantic import Field

from value_types.rules import ParsedRule, TextRule, matching

SCHEDULE_ALLOWED = (
    "five cron fields 'minute hour day-of-month month day-of-week' (numbers, '*', ranges a-b, lists a,b, steps /n, "
    "month and weekday names), e.g. '*/1 * * * *' or '0 3 * * 0'"
)
# (lowest, highest, names) of minute, hour, day of month, month, day of week.
_FIELDS: tuple[tuple[int, int, tuple[str, ...]], ...] = (
    (0, 59, ()),
    (0, 23, ()),
    (1, 31, ()),
    (1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
    (0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)
_TERM = re.compile(r"^(\*|[a-z0-9]+(-[a-z0-9]+)?)(/[0-9]+)?$")


def valid_schedule(schedule: str) -> bool:
    """Whether `schedule` is a five-field cron expression Kubernetes accepts (no `@hourly`, no seconds field)."""
    fields = schedule.split()
    if len(fields) != 5:
        return False
    return all(_valid_field(text.lower(), *spec) for text, spec in zip(fields, _FIELDS, strict=True))


def _valid_field(text: str, low: int, high: int, names: tuple[str, ...]) -> bool:
    for term in text.split(","):
        match = _TERM.match(term)
        if not match:
            return False
        base, step = match.group(1), match.group(3)
        if step is not None and int(step[1:]) < 1:
            return False
        if base == "*":
            continue
        bounds = base.split("-")
        values = [_value(bound, names) for bound in bounds]
        if any(value is None or not low <= value <= high for value in values):
            return False
        if len(values) == 2 and values[0] > values[1]:  # type: ignore[operator]
            return False
    return True


def _value(text: str, names: tuple[str, ...]) -> int | None:
    if text.isdigit():
        return int(text)
    if text in names:
        return names.index(text) + (1 if len(names) == 12 else 0)
    return None


def valid_time_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone (what CronJob `timeZone` takes)."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


SCHEDULE = ParsedRule(allowed=SCHEDULE_ALLOWED, parses=valid_schedule)
TIME_ZONE = ParsedRule(
    allowed="an IANA time zone name such as UTC or Europe/Amsterdam", parses=lambda name: valid_time_zone(name)
)
REFRESH_INTERVAL = TextRule(
    allowed="a duration of hours, minutes and seconds such as 1h, 15m or 1h30m",
    pattern=r"^([0-9]+(s|m|h))+$",
    max_length=32,
)
CronSchedule = Annotated[str, SCHEDULE]
TimeZone = Annotated[str, TIME_ZONE]
RefreshInterval = Annotated[str, REFRESH_INTERVAL]
Duration = Annotated[
    str,
    matching(r"^[0-9]+(ms|s|m|h)$", "a duration: a whole number then ms, s, m or h, such as 30s", 32),
    Field(description="A Prometheus duration such as 30s."),
]
