"""The settings loader: every kind of bad input gives `<env>.<path>: problem (got value)`."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from environment_model.paths import ENVIRONMENTS_DIR, SCHEMA_PATH, available_environments
from environment_model.settings import SettingsError, load_environment, parse_environment, settings_schema


def prod_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ENVIRONMENTS_DIR / "prod.yaml").read_text())
    return copy.deepcopy(data)


def error_for(data: dict[str, Any], env: str = "prod") -> str:
    with pytest.raises(SettingsError) as caught:
        parse_environment(env, data)
    return str(caught.value)


def test_the_environments_load() -> None:
    assert available_environments() == ["dev", "prod", "staging", "test"]
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
    assert (
        "prod.core_pipeline.autoscaling.max_replica: unknown key; allowed keys: custom_metrics, enabled, max_replicas"
        in message
    )


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


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
@pytest.mark.parametrize("tag", ["latest", "main", "Latest", "nightly"])
def test_mutable_tags_are_refused_in_every_environment(env: str, tag: str) -> None:
    """A re-pushed tag changes nothing in git, so Argo CD would never roll the pods: no environment may use one."""
    data = yaml.safe_load((ENVIRONMENTS_DIR / f"{env}.yaml").read_text())
    data["core_pipeline"]["image"]["tag"] = tag
    message = error_for(data, env)
    assert f"{env}.core_pipeline.image.tag: tag {tag!r} moves to new builds" in message
    assert "sha-<commit>" in message


def test_a_commit_tag_is_accepted() -> None:
    data = prod_data()
    data["core_pipeline"]["image"]["tag"] = "sha-4e1f0c2"
    assert parse_environment("prod", data).core_pipeline.image.tag == "sha-4e1f0c2"


def test_the_removed_pinning_switch_says_what_replaced_it() -> None:
    data = prod_data()
    data["require_pinned_images"] = False
    message = error_for(data)
    assert message.startswith("prod.require_pinned_images: removed: every environment now refuses mutable image tags")


def test_the_monitoring_labels_are_set_once_for_every_stack() -> None:
    data = prod_data()
    data["monitoring"] = {"prometheus_labels": {"prometheus": "platform"}}
    settings = parse_environment("prod", data)
    assert settings.core_pipeline.telemetry.service_monitor_labels == {"prometheus": "platform"}
    for section in ("core_pipeline", "discord_monitor", "hivemind_bot", "kairoflow", "verta"):
        assert getattr(settings, section).alerts.rule_labels == {"prometheus": "platform"}, section
    # The same value again (settings dumped and loaded) is fine; another is not.
    assert parse_environment("prod", settings.model_dump(mode="json")) == settings
    data["core_pipeline"].setdefault("telemetry", {})["service_monitor_labels"] = {"release": "x"}
    message = error_for(data)
    assert message.startswith("prod.core_pipeline.telemetry.service_monitor_labels: set once for every stack as ")


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


def test_exported_json_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == settings_schema(), "run `python main.py schema`"


def test_settings_reference_is_current() -> None:
    from delivery.commands import REFERENCE_PATH
    from environment_model.reference import settings_reference

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


# discord-monitor and hivemind-bot: the seed's validation rules (discord-monitor 9.1 values.schema.json).


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (
            "poll_interval_ms",
            49,
            "prod.discord_monitor.watcher.poll_interval_ms: Input should be greater than or equal to 50",
        ),
        ("batch_size", 0, "prod.discord_monitor.watcher.batch_size: Input should be greater than or equal to 1"),
        ("batch_size", 51, "prod.discord_monitor.watcher.batch_size: Input should be less than or equal to 50"),
        ("parity_mode", "half", "prod.discord_monitor.watcher.parity_mode: Input should be 'full' or 'parity'"),
        ("bot_token", "MTk4.x", "prod.discord_monitor.watcher.bot_token: unknown key; allowed keys:"),
        (
            "webhook_url",
            "https://discord.com/api/webhooks/1/x",
            "prod.discord_monitor.watcher.webhook_url: unknown key",
        ),
    ],
)
def test_watcher_settings_rules(field: str, value: Any, expected: str) -> None:
    data = prod_data()
    data["discord_monitor"]["watcher"][field] = value
    assert expected in error_for(data)


def test_watcher_webhook_secret_may_not_be_a_token() -> None:
    data = prod_data()
    data["discord_monitor"]["watcher"]["webhook_secret"] = {"secret": "bot-token", "key": "BOT_TOKEN"}
    assert "prod.discord_monitor.watcher.webhook_secret: must name the webhook URL's Secret key" in error_for(data)


def test_watcher_filters_may_not_carry_credentials() -> None:
    data = prod_data()
    data["discord_monitor"]["watcher"]["filters"] = {"discord": {"bot_token": "MTk4"}, "min_tokens": 10}
    message = error_for(data)
    assert "prod.discord_monitor.watcher.filters: holds credentials at filters.discord.bot_token" in message
    assert "MTk4" not in message  # the refused token is not printed back in the (got ...) part either


def test_watcher_policy_needs_the_bridge() -> None:
    data = prod_data()
    data["discord_monitor"]["watcher"]["bridge"]["enabled"] = False
    assert "prod.discord_monitor.watcher.network_policy: enabled needs bridge.enabled: true" in error_for(data)


def test_watcher_image_is_required_and_pinned() -> None:
    """The seed's default discord-monitor:latest cannot roll pods, so there is no default: each file names one."""
    data = prod_data()
    data["discord_monitor"]["watcher"]["image"] = {"repository": "discord-monitor", "tag": "latest"}
    assert "prod.discord_monitor.watcher.image.tag: tag 'latest' moves to new builds" in error_for(data)
    del data["discord_monitor"]["watcher"]["image"]
    assert "prod.discord_monitor.watcher.image: required key is missing" in error_for(data)


@pytest.mark.parametrize(
    ("schedule", "ok"), [("*/1 * * * *", True), ("0 3 * * sun", True), ("0 3 * *", False), ("61 * * * *", False)]
)
def test_retention_schedule_is_five_valid_cron_fields(schedule: str, ok: bool) -> None:
    data = prod_data()
    data["discord_monitor"]["retention"]["schedule"] = schedule
    if ok:
        parse_environment("prod", data)
    else:
        assert "prod.discord_monitor.retention.schedule: must be five cron fields" in error_for(data)


def test_retention_time_zone_must_exist() -> None:
    data = prod_data()
    data["discord_monitor"]["retention"]["time_zone"] = "Europe/Atlantis"
    assert "prod.discord_monitor.retention.time_zone: must be an IANA time zone" in error_for(data)


def test_redis_mode_selects_its_block() -> None:
    data = prod_data()
    data["discord_monitor"]["redis"] = {"mode": "external", "password": {"secret": "r", "key": "k"}}
    assert "prod.discord_monitor.redis.external.host: required key is missing" in error_for(data)
    data["discord_monitor"]["redis"] = {"mode": "sideways"}
    assert "prod.discord_monitor.redis" in error_for(data)


def test_redaction_hides_a_user_info_part_without_a_scheme_and_keeps_ordinary_values() -> None:
    from value_types.credentials import redact_credentials, text_has_credentials

    assert redact_credentials("user:pw@kafka:9092") == "***@kafka:9092"
    assert redact_credentials("got 'ghp1234567890abcdefghij1234@github.com'") == "got '***@github.com'"
    for ordinary in ("ghcr.io/org/img", "host:9092", "git@github.com:org/repo", "nginx:1.25@sha256:abc", "a@b.io"):
        assert redact_credentials(ordinary) == ordinary
        assert not text_has_credentials(ordinary)
    assert text_has_credentials("postgres://admin:pw@db.example.com/verta")
    assert not text_has_credentials("ssh://git@host/repo")


def test_argocd_is_not_an_environment_name() -> None:
    from environment_model.settings import environment_name_problem

    problem = environment_name_problem("argocd")
    assert problem is not None and "dist/argocd/" in problem
    assert environment_name_problem("argo") is None
