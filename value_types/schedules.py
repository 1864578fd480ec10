"""Schedules and durations: cron schedules and time zones as Kubernetes CronJobs and Argo CD sync windows take them,
refresh intervals, Prometheus durations, and the longest span each parser can hold."""

from __future__ import annotations

import functools
import importlib.resources
import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from value_types.rules import ParsedRule, TextRule

SCHEDULE_ALLOWED = (
    "five cron fields 'minute hour day-of-month month day-of-week' as Kubernetes and Argo CD parse them: minute "
    "0-59, hour 0-23, day 1-31, month 1-12 or jan-dec, weekday 0-6 or sun-sat (7 is not Sunday); each field a "
    "value, '*' or '?', a range a-b, any of them with a step /n, or a list of them a,b; e.g. '*/15 * * * *' or "
    "'0 3 * * 0'"
)
# (lowest, highest, names) of minute, hour, day of month, month, day of week: robfig/cron's bounds, which Kubernetes
# and Argo CD parse with (cron.ParseStandard); its day of week is 0-6, so 7 and a range such as 5-7 are refused.
_FIELDS: tuple[tuple[int, int, tuple[str, ...]], ...] = (
    (0, 59, ()),
    (0, 23, ()),
    (1, 31, ()),
    (1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
    (0, 6, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)
# '*' or '?' (robfig/cron takes both for "every"), or a value or range, then an optional step.
_TERM = re.compile(r"^(?:[*?]|(?P<low>[a-z0-9]+)(?:-(?P<high>[a-z0-9]+))?)(?:/(?P<step>[0-9]+))?$")
# Go's strings.Fields splits the fields on Unicode white space; Python's str.split() also splits on the ASCII
# separators \x1c-\x1f, which Go keeps inside a field.
_FIELD_SEPARATOR = re.compile(r"[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
# Numbers are read with Go's strconv.Atoi: one beyond an int64 is refused (leading zeros are not counted).
_GO_INT_MAX = 2**63 - 1


def _go_int(digits: str) -> int:
    """`digits` as a number, or one past Go's int64 when it has more digits than an int64 can (so that a
    100,000-digit value is not converted)."""
    significant = digits.lstrip("0")
    return int(significant or "0") if len(significant) <= 19 else _GO_INT_MAX + 1


@dataclass(frozen=True)
class CronFields:
    """A schedule's fields expanded as robfig/cron (which the CronJob controller and Argo CD use) reads them."""

    minutes_of_day: tuple[int, ...]  # sorted: the runs of a day that runs
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 is Sunday
    either_day: bool  # day of month and day of week both restricted: a day runs when either matches


def cron_fields(schedule: str) -> CronFields | None:
    """`schedule` expanded, or None when it is not a five-field cron expression Kubernetes and Argo CD accept (no
    `@hourly`, no seconds field)."""
    fields = [text for text in _FIELD_SEPARATOR.split(schedule) if text]
    if len(fields) != 5:
        return None
    expanded: list[set[int]] = []
    unrestricted: list[bool] = []
    for text, (low, high, names) in zip(fields, _FIELDS, strict=True):
        values: set[int] = set()
        every = False
        for term in text.lower().split(","):
            match = _TERM.match(term)
            if not match:
                return None
            step = _go_int(match["step"]) if match["step"] is not None else 1
            if not 1 <= step <= _GO_INT_MAX:
                return None
            first: int | None
            last: int | None
            if match["low"] is None:  # '*' or '?'; robfig/cron counts '*' and '*/1', not '*/2', as unrestricted
                first, last = low, high
                every = every or step == 1
            else:
                first = _value(match["low"], names)
                # 'a/n' runs from a to the field's highest value, every n
                last = _value(match["high"], names) if match["high"] else (high if match["step"] else first)
            if first is None or last is None or not low <= first <= last <= high:
                return None
            values.update(range(first, last + 1, step))
        expanded.append(values)
        unrestricted.append(every)
    minutes, hours, days, months, weekdays = expanded
    return CronFields(
        minutes_of_day=tuple(sorted(hour * 60 + minute for hour in hours for minute in minutes)),
        days=frozenset(days),
        months=frozenset(months),
        weekdays=frozenset(weekdays),
        either_day=not (unrestricted[2] or unrestricted[4]),
    )


def _value(text: str, names: tuple[str, ...]) -> int | None:
    if text.isdigit():
        return _go_int(text)
    if text in names:
        return names.index(text) + (1 if len(names) == 12 else 0)
    return None


def valid_schedule(schedule: str) -> bool:
    """Whether `schedule` is a five-field cron expression Kubernetes and Argo CD accept (no `@hourly`, no seconds
    field)."""
    return cron_fields(schedule) is not None


# Names that load as zones but are not the time zones they seem: the tzdata file that only says "set the time zone"
# (Factory, with the abbreviation -00). The zoneinfo trees of a machine (posix/..., right/... with leap seconds,
# posixrules, localtime: what ZoneInfo would load from /usr/share/zoneinfo) are not in the list at all.
_NOT_A_TIME_ZONE = frozenset({"Factory"})


@functools.cache
def time_zone_names() -> frozenset[str]:
    """The IANA zone and link names, as the pinned tzdata package lists them: the names Go embeds (time/tzdata),
    which Kubernetes and Argo CD load with time.LoadLocation."""
    listed = importlib.resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split()
    return frozenset(listed) - _NOT_A_TIME_ZONE


def valid_time_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone name (what CronJob `timeZone` and a sync window's `timeZone` take)."""
    return name in time_zone_names()


# Go's time.Duration and Prometheus' model.Duration count nanoseconds in an int64: a longer span does not parse.
MAX_DURATION_NANOSECONDS = 2**63 - 1
_NANOSECONDS = {
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
    "d": 24 * 3600 * 10**9,
    "w": 7 * 24 * 3600 * 10**9,
    "y": 365 * 24 * 3600 * 10**9,
}
_DURATION_PART = re.compile(r"([0-9]+)(ms|s|m|h|d|w|y)")


def duration_nanoseconds(duration: str) -> int:
    """The span of a duration of whole numbers and units (ms, s, m, h, d, w, y), in nanoseconds."""
    return sum(int(number) * _NANOSECONDS[unit] for number, unit in _DURATION_PART.findall(duration))


def _fits_in_int64(duration: str) -> bool:
    return duration != "" and duration_nanoseconds(duration) <= MAX_DURATION_NANOSECONDS


SCHEDULE = ParsedRule(allowed=SCHEDULE_ALLOWED, parses=valid_schedule)
TIME_ZONE = ParsedRule(
    allowed="an IANA time zone name such as UTC or Europe/Amsterdam (not a file of a machine's zoneinfo folder "
    "such as posixrules, posix/... or right/...)",
    parses=valid_time_zone,
)
# External Secrets and Argo CD read these with Go's time.ParseDuration.
REFRESH_INTERVAL = TextRule(
    allowed="a duration of hours, minutes and seconds such as 1h, 15m or 1h30m, at most 2562047h47m16s (Go's limit)",
    pattern=r"^([0-9]+(s|m|h))+$",
    max_length=32,
    check=_fits_in_int64,
)
SYNC_WINDOW_DURATION = TextRule(
    allowed="a duration such as 1h, 30m or 1h30m, at most 2562047h47m (Go's limit, which Argo CD parses it with)",
    pattern=r"^([1-9][0-9]*h)?([1-9][0-9]*m)?$",
    max_length=16,
    check=_fits_in_int64,
)
# Prometheus' model.ParseDuration: units from the largest down, each at most once, or a bare 0 (the Prometheus
# Operator's CRDs take the same).
PROMETHEUS_DURATION = TextRule(
    allowed="a Prometheus duration: whole numbers with units y, w, d, h, m, s or ms, largest first, such as 30s, 5m "
    "or 1h30m, at most 2562047h47m16s854ms (about 292 years, Prometheus' limit)",
    pattern=r"^(0|([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?)$",
    max_length=32,
    check=_fits_in_int64,
)
CronSchedule = Annotated[str, SCHEDULE]
TimeZone = Annotated[str, TIME_ZONE]
RefreshInterval = Annotated[str, REFRESH_INTERVAL]
SyncWindowDuration = Annotated[str, SYNC_WINDOW_DURATION]
Duration = Annotated[str, PROMETHEUS_DURATION, Field(description="A Prometheus duration such as 30s.")]
