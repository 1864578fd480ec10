"""Per-environment settings: one YAML file per environment under environments/, validated on load.

Errors name the path of the bad field (`prod.core_pipeline.autoscaling.max_replicas`), the value and what is
allowed. Nothing here imports cdk8s, so bad settings fail in a fraction of a second, before any rendering.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from constructs_lib.naming import looks_secret
from delivery.argocd_settings import ArgoCdSettings
from delivery.models import StrictModel
from delivery.paths import environments_dir
from stacks.core_pipeline.settings import CorePipelineSettings
from stacks.discord_monitor.settings import DiscordMonitorSettings
from stacks.hivemind_bot.settings import HivemindBotSettings
from stacks.kairoflow.settings import KairoflowSettings
from stacks.verta.settings import VertaSettings

# Settings that were removed, and what replaced them: named in the error instead of a bare "unknown key".
REMOVED_KEYS = {
    "require_pinned_images": "removed: every environment now refuses mutable image tags such as latest (a pushed "
    "tag never rolls the pods in GitOps); delete this line and pin tags, which CI bumps",
}


class EnvironmentSettings(StrictModel):
    """Everything that differs between environments. One file per environment: environments/<name>.yaml."""

    argocd: ArgoCdSettings = Field(description="Argo CD delivery: repository, revision, cluster, sync policy.")
    core_pipeline: CorePipelineSettings = Field(description="The core-pipeline service.")
    discord_monitor: DiscordMonitorSettings = Field(description="The Discord monitor bot and watcher sidecar.")
    hivemind_bot: HivemindBotSettings = Field(description="The Hivemind Discord bot.")
    kairoflow: KairoflowSettings = Field(description="KairoFlow: nginx + php-fpm, Traefik, claims, CronJobs.")
    verta: VertaSettings = Field(description="Verta: backend, frontend and ML services with Redis.")


class SettingsError(Exception):
    """Settings that cannot be rendered; the message lists every problem, one per line."""


def load_environment(name: str) -> EnvironmentSettings:
    """Load and validate environments/<name>.yaml; SettingsError with every problem found."""
    import yaml  # here: render workers unpickle settings and never load a file

    path = environments_dir() / f"{name}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"{name}: no settings file {path}") from None
    except yaml.YAMLError as error:
        raise SettingsError(f"{name}: {path} is not valid YAML: {error}") from None
    return parse_environment(name, data)


def parse_environment(name: str, data: Any) -> EnvironmentSettings:
    """Validate already-parsed settings data for environment `name`."""
    if not isinstance(data, dict):
        raise SettingsError(f"{name}: settings must be a mapping of keys, got {type(data).__name__}")
    removed = [f"{name}.{key}: {why}" for key, why in REMOVED_KEYS.items() if key in data]
    if removed:
        raise SettingsError("\n".join(removed))
    try:
        settings = EnvironmentSettings.model_validate(data)
    except ValidationError as error:
        raise SettingsError("\n".join(format_errors(name, error))) from None
    return settings


def format_errors(environment: str, error: ValidationError) -> list[str]:
    """One line per problem: `<env>.<path>: <what is wrong> (got <value>)`, with allowed keys for unknown keys."""
    lines = []
    for problem in error.errors(include_url=False):
        location = [str(part) for part in problem["loc"]]
        path = ".".join([environment, *location])
        value = problem.get("input")
        if location and looks_secret(location[-1]) and isinstance(value, str):
            value = "<redacted>"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            allowed = _allowed_keys(EnvironmentSettings, location[:-1])
            message = f"unknown key; allowed keys: {', '.join(allowed)}"
            lines.append(f"{path}: {message}")
            continue
        if problem["type"] == "missing":
            lines.append(f"{path}: required key is missing")
            continue
        lines.append(f"{path}: {message} (got {value!r})")
    return lines


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
