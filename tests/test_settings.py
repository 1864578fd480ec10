"""The settings loader: every kind of bad input gives `<env>.<path>: problem (got value)`."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from delivery.settings import (
    ENVIRONMENTS_DIR,
    SCHEMA_PATH,
    SettingsError,
    available_environments,
    load_environment,
    parse_environment,
    settings_schema,
)


def prod_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ENVIRONMENTS_DIR / "prod.yaml").read_text())
    return copy.deepcopy(data)


def error_for(data: dict[str, Any], env: str = "prod") -> str:
    with pytest.raises(SettingsError) as caught:
        parse_environment(env, data)
    return str(caught.value)


def test_the_three_environments_load() -> None:
    assert available_environments() == ["dev", "prod", "staging"]
    for env in available_environments():
        load_environment(env)


def test_out_of_range_names_path_value_and_limit() -> None:
    data = prod_data()
    data["core_pipeline"]["autoscaling"]["target_cpu_utilization_percentage"] = 150
    message = error_for(data)
    assert "prod.core_pipeline.autoscaling.target_cpu_utilization_percentage" in message
    assert "less than or equal to 100" in message
    assert "150" in message


def test_max_replicas_below_min_replicas() -> None:
    data = prod_data()
    data["core_pipeline"]["autoscaling"]["max_replicas"] = 2
    message = error_for(data)
    assert message.startswith("prod.core_pipeline.autoscaling.max_replicas: must be >= min_replicas (3) (got 2)")


def test_fixed_replicas_with_autoscaling_is_refused() -> None:
    data = prod_data()
    data["core_pipeline"]["replicas"] = 3
    message = error_for(data)
    assert "prod.core_pipeline.replicas: must be unset when autoscaling.enabled is true" in message


def test_unknown_key_lists_allowed_keys() -> None:
    data = prod_data()
    data["core_pipeline"]["autoscaling"]["max_replica"] = 5
    message = error_for(data)
    assert "prod.core_pipeline.autoscaling.max_replica: unknown key; allowed keys: enabled, max_replicas" in message


def test_wrong_type_is_not_coerced() -> None:
    data = prod_data()
    data["core_pipeline"]["autoscaling"]["min_replicas"] = "3"
    message = error_for(data)
    assert "prod.core_pipeline.autoscaling.min_replicas: Input should be a valid integer (got '3')" in message


def test_enum_lists_allowed_values() -> None:
    data = prod_data()
    data["core_pipeline"]["log_level"] = "verbose"
    message = error_for(data)
    assert "prod.core_pipeline.log_level" in message
    assert "'debug', 'info', 'warn' or 'error'" in message


def test_limits_below_requests() -> None:
    data = prod_data()
    data["core_pipeline"]["resources"]["limits"]["memory"] = "256Mi"
    message = error_for(data)
    assert "prod.core_pipeline.resources.limits: memory limit 256Mi is below the memory request 512Mi" in message


def test_bad_quantity() -> None:
    data = prod_data()
    data["core_pipeline"]["resources"]["requests"]["cpu"] = "half"
    message = error_for(data)
    assert "prod.core_pipeline.resources.requests.cpu: must be a CPU quantity" in message


def test_missing_required_key() -> None:
    data = prod_data()
    del data["core_pipeline"]["image"]["tag"]
    assert "prod.core_pipeline.image.tag: required key is missing" in error_for(data)


def test_pinned_tag_required_where_the_environment_says_so() -> None:
    data = prod_data()
    data["core_pipeline"]["image"]["tag"] = "latest"
    message = error_for(data)
    assert "prod.core_pipeline.image.tag: a pinned image tag is required" in message
    data["require_pinned_images"] = False
    parse_environment("prod", data)


def test_ingress_enabled_without_hosts() -> None:
    data = prod_data()
    data["core_pipeline"]["ingress"]["hosts"] = []
    assert "prod.core_pipeline.ingress.hosts: at least one host is required" in error_for(data)


def test_timeouts_refused_with_traefik() -> None:
    data = prod_data()
    data["core_pipeline"]["ingress"]["class_name"] = "traefik"
    assert "prod.core_pipeline.ingress.timeouts: timeouts are set per Traefik entry point" in error_for(data)


def test_credential_looking_values_are_redacted_in_errors() -> None:
    data = prod_data()
    data["core_pipeline"]["postgres"]["password"] = "hunter2"
    message = error_for(data)
    assert "prod.core_pipeline.postgres.password" in message
    assert "hunter2" not in message


def test_every_problem_is_reported_at_once() -> None:
    data = prod_data()
    data["core_pipeline"]["log_level"] = "loud"
    data["core_pipeline"]["autoscaling"]["max_replicas"] = 0
    assert len(error_for(data).splitlines()) == 2


def test_invalid_yaml_and_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import delivery.settings as settings

    monkeypatch.setattr(settings, "ENVIRONMENTS_DIR", tmp_path)
    (tmp_path / "qa.yaml").write_text("core_pipeline: [unclosed\n")
    with pytest.raises(SettingsError, match=r"qa: .*qa.yaml is not valid YAML"):
        settings.load_environment("qa")
    with pytest.raises(SettingsError, match="no settings file"):
        settings.load_environment("nowhere")
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(SettingsError, match="settings must be a mapping"):
        settings.load_environment("empty")


def test_exported_json_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == settings_schema(), "run `python main.py schema`"


def test_settings_reference_is_current() -> None:
    from delivery.reference import settings_reference
    from main import REFERENCE_PATH

    assert REFERENCE_PATH.read_text(encoding="utf-8") == settings_reference(), "run `python main.py schema`"


def test_environment_files_validate_against_the_exported_schema() -> None:
    import json

    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    for env in available_environments():
        jsonschema.validate(yaml.safe_load((ENVIRONMENTS_DIR / f"{env}.yaml").read_text()), schema)
    broken = prod_data()
    broken["core_pipeline"]["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
