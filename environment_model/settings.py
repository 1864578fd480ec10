"""Per-environment settings: one YAML file per environment under environments/, validated on load.

Errors name the path of the bad field (`prod.core_pipeline.autoscaling.max_replicas`), the value and what is
allowed. Nothing here imports cdk8s, so bad settings fail in a fraction of a second, before any rendering.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError, model_validator

from environment_model.paths import environments_dir
from environment_model.registry import STACKS, stack_names
from stacks.argocd.settings import ArgoCdSettings
from stacks.core_pipeline.settings import CorePipelineSettings
from stacks.discord_monitor.settings import DiscordMonitorSettings
from stacks.hivemind_bot.settings import HivemindBotSettings
from stacks.kairoflow.settings import KairoflowSettings
from stacks.verta.settings import VertaSettings
from value_types.credentials import looks_secret, redact_credentials
from value_types.model import StrictModel
from value_types.names import DNS_LABEL, Labels

if TYPE_CHECKING:
    from pathlib import Path

    from environment_model.settings_file import SettingsFile

# Settings that were removed, and what replaced them: named in the error instead of a bare "unknown key".
REMOVED_KEYS = {
    "require_pinned_images": "removed: every environment now refuses mutable image tags such as latest (a pushed "
    "tag never rolls the pods in GitOps); delete this line and pin tags, which CI bumps",
}

MOVED_TO_MONITORING = (
    "set once for every stack as monitoring.prometheus_labels (the labels the cluster's Prometheus selects "
    "ServiceMonitors and PrometheusRules by), and different from it here; delete this key"
)

# Folders under dist/ that are not environments: an environment of that name would write into them.
RESERVED_ENVIRONMENT_NAMES = {
    "fleet": "dist/argocd/fleet/ holds the fleet's ApplicationSets, beside each environment's dist/argocd/<name>/",
    "argocd": "an environment renders into dist/<name>/, and dist/argocd/ holds the Argo CD Applications of every "
    "environment",
}


# Where each stack's copy of the monitoring labels goes: they are set once, under `monitoring`, for every stack.
MONITORING_LABEL_FIELDS: tuple[tuple[str, ...], ...] = (
    ("core_pipeline", "telemetry", "service_monitor_labels"),
    *((stack.settings_field, "alerts", "rule_labels") for stack in STACKS),
)


class MonitoringSettings(StrictModel):
    """The cluster's Prometheus, as every stack's ServiceMonitors and PrometheusRules must meet it."""

    prometheus_labels: Labels = Field(
        {"release": "kube-prometheus-stack"},
        description="Labels this cluster's Prometheus selects ServiceMonitors and PrometheusRules by (its "
        "serviceMonitorSelector and ruleSelector; kube-prometheus-stack matches `release: <its Helm release>`). "
        "Every ServiceMonitor and PrometheusRule of every stack carries them.",
    )


class EnvironmentSettings(StrictModel):
    """Everything that differs between environments. One file per environment: environments/<name>.yaml."""

    monitoring: MonitoringSettings = Field(
        default_factory=MonitoringSettings, description="The cluster's Prometheus: the labels it selects by."
    )
    argocd: ArgoCdSettings = Field(description="Argo CD delivery: repository, revision, cluster, sync policy.")
    core_pipeline: CorePipelineSettings = Field(description="The core-pipeline service.")
    discord_monitor: DiscordMonitorSettings = Field(description="The Discord monitor bot and watcher sidecar.")
    hivemind_bot: HivemindBotSettings = Field(description="The Hivemind Discord bot.")
    kairoflow: KairoflowSettings = Field(description="KairoFlow: nginx + php-fpm, Traefik, claims, CronJobs.")
    verta: VertaSettings = Field(description="Verta: backend, frontend and ML services with Redis.")

    @model_validator(mode="before")
    @classmethod
    def _monitoring_labels_for_every_stack(cls, data: Any) -> Any:
        """Copy `monitoring.prometheus_labels` into each stack's monitors and rules: one setting, one value for all
        of them. (Data of the wrong shape is left as it is, for validation to report.)"""
        if not isinstance(data, dict):
            return data
        monitoring = data.get("monitoring", {})
        labels = (
            monitoring.get("prometheus_labels", MonitoringSettings().prometheus_labels)
            if isinstance(monitoring, dict)
            else None
        )
        if not isinstance(labels, dict):
            return data
        data = dict(data)
        for path in MONITORING_LABEL_FIELDS:
            data = _with_value(data, path, dict(labels))
        return data


def _with_value(data: dict[str, Any], path: Sequence[str], value: Any) -> dict[str, Any]:
    """`data` with `value` at `path`, the mappings on the way copied (made when absent); unchanged where a step on
    the way is not a mapping."""
    head, *rest = path
    inner = data.get(head, {})
    if not isinstance(inner, dict):
        return data
    return {**data, head: _with_value(inner, rest, value) if rest else value}


class SettingsError(Exception):
    """Settings that cannot be rendered; the message lists every problem, one per line."""


def load_environment(name: str, source: SettingsFile | None = None, folder: Path | None = None) -> EnvironmentSettings:
    """Load and validate <folder>/<name>.yaml (default folder: environments_dir()); SettingsError with every
    problem found, each naming the file. `source`: that file as already read (the render cache's keys were made
    from it), so a synth keys and renders the same text even when the file changes meanwhile."""
    # Imported here (it imports yaml): render workers unpickle settings and never read a file.
    from environment_model.settings_file import SettingsFileError, display_name, read_settings_file

    folder = folder or environments_dir()
    path = folder / f"{name}.yaml"
    problem = environment_name_problem(name)
    if problem is not None:
        raise SettingsError(f"{display_name(path)}: {problem}")
    if source is None:
        try:
            source = read_settings_file(path)
        except SettingsFileError as error:
            raise SettingsError(str(error)) from None
    return parse_environment(name, source.data, source)


def environment_name_problem(name: str) -> str | None:
    """Why `name` cannot be an environment, if it cannot: it becomes a folder under dist/ and the Argo CD
    Applications `<env>-<stack>` (and `<env>-root`), whose names are also label values of at most 63 characters."""
    if name in RESERVED_ENVIRONMENT_NAMES:
        return f"{name!r} cannot be an environment's name: {RESERVED_ENVIRONMENT_NAMES[name]}; rename the file"
    longest = max(len(stack) for stack in [*stack_names(), "root"])
    limit = 63 - 1 - longest
    if DNS_LABEL.accepts(name) and len(name) <= limit:
        return None
    return (
        f"the file name makes {shorten(repr(name))} the environment's name; it must be {DNS_LABEL.allowed}, here at "
        f"most {limit} characters as the Argo CD Applications are named <env>-<stack>: rename the file"
    )


def parse_environment(name: str, data: Any, source: SettingsFile | None = None) -> EnvironmentSettings:
    """Validate already-parsed settings data for environment `name` (read from `source`, if from a file)."""
    where = f"{source.display}: " if source is not None else ""
    if not isinstance(data, dict):
        raise SettingsError(f"{where}{name}: settings must be a mapping of keys, got {type(data).__name__}")
    removed = [_located(f"{name}.{key}: {why}", source) for key, why in REMOVED_KEYS.items() if key in data]
    monitoring = data.get("monitoring")
    selected = monitoring.get("prometheus_labels") if isinstance(monitoring, dict) else None
    selected = MonitoringSettings().prometheus_labels if selected is None else selected
    removed += [
        _located(f"{name}.{'.'.join(path)}: {MOVED_TO_MONITORING}", source)
        for path in MONITORING_LABEL_FIELDS
        if _value_at(data, path, selected) != selected  # the same value (settings dumped and loaded again) is fine
    ]
    if removed:
        raise SettingsError("\n".join(removed))
    try:
        settings = EnvironmentSettings.model_validate(data)
    except ValidationError as error:
        raise SettingsError("\n".join(format_errors(name, error, source))) from None
    return settings


def _value_at(data: Any, path: Sequence[str], default: Any) -> Any:
    for step in path:
        if not isinstance(data, dict) or step not in data:
            return default
        data = data[step]
    return data


def _located(problem: str, source: SettingsFile | None) -> str:
    """A `<env>.<path>: ...` line of a whole-file rule, prefixed with the file and the line of its path."""
    return _where(source, problem.partition(": ")[0].split(".")[1:])[1] + problem


def _where(source: SettingsFile | None, location: Sequence[str]) -> tuple[int, str]:
    """The line of `location` in the file (0: none) and the `<file>:<line>: ` prefix of its message."""
    if source is None:
        return 0, ""
    line = source.line_of(location)
    return (line or 0), f"{source.display}:{line}: " if line is not None else f"{source.display}: "


def format_errors(environment: str, error: ValidationError, source: SettingsFile | None = None) -> list[str]:
    """One line per problem: `<env>.<path>: <what is wrong> (got <value>)`, with allowed keys for unknown keys.

    Read from a file, each line starts with `<file>:<line>: `. The value is shortened, and never shown where it
    may be a credential: under a credential-like key, a URL's user-info part, a well-known token shape."""
    lines: list[tuple[int, str]] = []
    for problem in error.errors(include_url=False):
        location = [str(part) for part in problem["loc"]]
        is_key = location[-1:] == ["[key]"]
        if is_key:
            location = location[:-1]
        line, where = _where(source, location)
        path = ".".join(shorten(part) for part in [environment, *location])
        message = shorten(redact_credentials(problem["msg"].removeprefix("Value error, ")), 400)
        if problem["type"] == "extra_forbidden":
            allowed = _allowed_keys(EnvironmentSettings, location[:-1])
            text = f"{path}: unknown key; allowed keys: {', '.join(allowed)}"
        elif problem["type"] == "missing":
            text = f"{path}: required key is missing"
        elif problem["type"] in ("model_type", "dict_type"):
            text = f"{path}: must be a mapping of keys (got {shown_value(problem.get('input'), location)})"
        elif problem["type"] == "string_type":
            value = problem.get("input")
            kind = _YAML_KINDS.get(type(value).__name__)
            hint = f": quote it, YAML reads this as {kind}" if kind else ""
            as_written = source.written_as(location) if source is not None else None
            shown = shown_value(value, location)
            if as_written is not None and not shown.startswith("<redacted>"):
                shown = shorten(redact_credentials(as_written))  # `0755`, not the 493 YAML made of it
            text = f"{path}: must be text{hint} (got {shown})"
        else:
            if is_key:
                message = f"the key {message}"
            text = f"{path}: {message} (got {shown_value(problem.get('input'), location)})"
        lines.append((line, where + text))
    # In the file's order, like a compiler's messages (sorted() keeps pydantic's order within a line).
    return [text for _, text in sorted(lines, key=lambda entry: entry[0])]


# What YAML makes of an unquoted value that was meant as text (`tag: 1.10` is the number 1.1).
_YAML_KINDS = {"bool": "true or false", "int": "a number", "float": "a number", "date": "a date", "datetime": "a date"}


def shown_value(value: Any, location: Sequence[str]) -> str:
    """A value as an error message shows it: never a credential, at most about 80 characters."""
    if any(looks_secret(part) for part in location) and not isinstance(value, (bool, type(None))):
        return "<redacted>"
    return shorten(repr(_redacted(value)))


def shorten(text: str, limit: int = 80) -> str:
    """`text` cut to about `limit` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 3]}... ({len(text)} characters)"


def _redacted(value: Any) -> Any:
    """Nested data with values under credential-like keys and URL credentials replaced (for messages)."""
    if isinstance(value, Mapping):
        return {
            key: "<redacted>"
            if looks_secret(str(key)) and not isinstance(item, (bool, type(None)))
            else _redacted(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_redacted(item) for item in value]
    if isinstance(value, str):
        return redact_credentials(value)
    return value


def _allowed_keys(model: type[BaseModel], location: list[str]) -> list[str]:
    for part in location:
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        nested = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if nested is None:
            return []
        model = nested
    return sorted(model.model_fields)


def settings_schema() -> str:
    """The JSON Schema of an environment file (the counterpart of Helm's values.schema.json)."""
    schema = EnvironmentSettings.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Environment settings (environments/<name>.yaml)"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
