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
@pytest.mark.parametrize(
    "tag", ["latest", "main", "Latest", "nightly", "canary", "stable", "edge", "LTS", "release", "rolling", "dev"]
)
def test_mutable_tags_are_refused_in_every_environment(env: str, tag: str) -> None:
    """A re-pushed tag changes nothing in git, so Argo CD would never roll the pods: no environment may use one."""
    data = yaml.safe_load((ENVIRONMENTS_DIR / f"{env}.yaml").read_text())
    data["core_pipeline"]["image"]["tag"] = tag
    message = error_for(data, env)
    assert f"{env}.core_pipeline.image.tag: tag {tag!r} moves to new builds" in message
    assert "sha-<commit>" in message


@pytest.mark.parametrize("tag", ["sha-4e1f0c2", "1.4.0", "v2.1.0-rc.1", "1.5.0-canary.3", "main-4e1f0c2", "2024.06.01"])
def test_a_tag_that_names_one_build_is_accepted(tag: str) -> None:
    """Only the moving names themselves are refused: a version or a CI tag that merely contains one is a build."""
    data = prod_data()
    data["core_pipeline"]["image"]["tag"] = tag
    assert parse_environment("prod", data).core_pipeline.image.tag == tag


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


def test_the_reference_names_a_lists_items_and_a_dicts_values_as_a_key_path_reaches_them() -> None:
    from environment_model.reference import settings_reference

    paths = {row.split("`")[1] for row in settings_reference().splitlines() if row.startswith("| `")}
    assert {
        "argocd.roles[].name",
        "argocd.sync_windows[].schedule",
        "hivemind_bot.secrets.remote_keys.<key>.key",
    } <= paths
    assert not {"argocd.roles.name", "hivemind_bot.secrets.remote_keys.key"} & paths


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


# What robfig/cron's standard parser (Kubernetes' cron.ParseStandard, Argo CD's sync windows) takes, and refuses.
ACCEPTED_SCHEDULES = [
    "*/1 * * * *",
    "0 3 * * sun",
    "0 3 * * 6",
    "0 3 * * 0-6",
    "0 3 * * SUN-SAT",
    "0 3 * * mon-fri",
    "0 3 * * 1-5/2",
    "? * * * *",  # '?' is '*' to robfig/cron, as the Kubernetes documentation says
    "0 3 ? * *",
    "5/15 * * * *",  # N/step: from N to the end of the range
    "0 3 1-31/2 jan-dec *",
    "0 0 31 12 *",
    "0,30 8-18 * * 1,3,5",
    "00 03 * * 00",
    "0\t3  * * *",  # any white space between fields
    "0 3 * * */9223372036854775807",  # the largest step Go's strconv.Atoi reads
]
REFUSED_SCHEDULES = [
    "0 3 * *",
    "61 * * * *",
    "0 3 * * 7",  # robfig/cron's day of week is 0-6: 7 is not Sunday
    "0 3 * * 5-7",
    "0 3 * * 7/1",
    "0 3 * * sat-7",
    "0 3 * * mon-sun",  # 1-0: a backwards range
    "0 24 * * *",
    "0 3 0 * *",
    "0 3 * 13 *",
    "0 3 * 0 *",
    "*/0 * * * *",
    "* * * * */9223372036854775808",  # beyond an int64: strconv.Atoi refuses it
    "0 3 * * monday",
    "0 3 * * */mon",
    "0 3 1-2-3 * *",
    "@hourly",
    "0 0 3 * * *",
    "0\x1c3 * * *",  # Python's split() would split there, Go's strings.Fields does not
    "0 3 * * 1,,2",
    "0 3 * * " + "5" * 5000,
]


@pytest.mark.parametrize("schedule", ACCEPTED_SCHEDULES)
def test_a_schedule_kubernetes_accepts_is_accepted(schedule: str) -> None:
    data = prod_data()
    data["discord_monitor"]["retention"]["schedule"] = schedule
    data["argocd"]["sync_windows"][0]["schedule"] = schedule
    parse_environment("prod", data)


@pytest.mark.parametrize("schedule", REFUSED_SCHEDULES, ids=lambda schedule: schedule[:30])
def test_a_schedule_kubernetes_refuses_is_refused(schedule: str) -> None:
    data = prod_data()
    data["discord_monitor"]["retention"]["schedule"] = schedule
    data["argocd"]["sync_windows"][0]["schedule"] = schedule
    message = error_for(data)
    assert "prod.discord_monitor.retention.schedule: must be five cron fields" in message
    assert "weekday 0-6 or sun-sat (7 is not Sunday)" in message
    assert "prod.argocd.sync_windows.0.schedule: must be five cron fields" in message


def test_retention_time_zone_must_exist() -> None:
    data = prod_data()
    data["discord_monitor"]["retention"]["time_zone"] = "Europe/Atlantis"
    assert "prod.discord_monitor.retention.time_zone: must be an IANA time zone" in error_for(data)


@pytest.mark.parametrize(
    "zone",
    ["UTC", "Europe/Amsterdam", "America/Argentina/ComodRivadavia", "America/North_Dakota/New_Salem", "Etc/GMT+5"],
)
def test_an_iana_time_zone_is_accepted(zone: str) -> None:
    data = prod_data()
    data["discord_monitor"]["retention"]["time_zone"] = zone
    data["argocd"]["sync_windows"][0]["time_zone"] = zone
    parse_environment("prod", data)


@pytest.mark.parametrize(
    "zone",
    ["posixrules", "right/UTC", "posix/Europe/Amsterdam", "Factory", "localtime", "Local", "utc", "Europe//Amsterdam"],
)
def test_a_zoneinfo_file_that_is_not_an_iana_time_zone_is_refused(zone: str) -> None:
    """ZoneInfo loads any file of the machine's zoneinfo folder; Kubernetes' embedded tzdata has none of these (or,
    with right/, counts leap seconds: not the zone meant)."""
    data = prod_data()
    data["discord_monitor"]["retention"]["time_zone"] = zone
    data["argocd"]["sync_windows"][0]["time_zone"] = zone
    message = error_for(data)
    assert "prod.discord_monitor.retention.time_zone: must be an IANA time zone name" in message
    assert "prod.argocd.sync_windows.0.time_zone: must be an IANA time zone name" in message


def test_the_time_zones_are_the_names_go_embeds() -> None:
    """The list comes from the pinned tzdata package, not the machine: the same on every machine, and the same
    names as Go's time/tzdata (zone and link names, Factory aside)."""
    from value_types.schedules import time_zone_names

    zones = time_zone_names()
    assert {"UTC", "Europe/Amsterdam", "US/Eastern", "Asia/Kolkata"} <= zones
    assert not {name for name in zones if name.startswith(("posix/", "right/")) or name in ("posixrules", "Factory")}
    assert len(zones) > 500


# Go's time.ParseDuration (Argo CD's sync windows, External Secrets' refresh) and Prometheus' model.ParseDuration
# hold at most 2^63-1 nanoseconds: 2562047h47m16.854775807s.
@pytest.mark.parametrize(
    ("duration", "ok"),
    [
        ("2562047h", True),
        ("153722867m", True),
        ("2562047h47m16s854ms", True),
        ("1h30m", True),
        ("1d", True),
        ("2w", True),
        ("0", True),
        ("2562048h", False),
        ("2562047h47m16s855ms", False),
        ("99999999999999999999h", False),
        ("293y", False),
        ("30m1h", False),  # Prometheus wants the largest unit first
        ("1h1h", False),
        ("", False),
        ("5 m", False),
    ],
)
def test_prometheus_durations_are_what_prometheus_parses(duration: str, ok: bool) -> None:
    data = prod_data()
    data["core_pipeline"]["alerts"] = {"latency_for": duration}
    if ok:
        assert parse_environment("prod", data).core_pipeline.alerts.latency_for == duration
    else:
        message = error_for(data)
        assert "prod.core_pipeline.alerts.latency_for: must be a Prometheus duration" in message
        assert "at most 2562047h47m16s854ms" in message


@pytest.mark.parametrize(
    ("duration", "ok"),
    [("2562047h47m", True), ("64h", True), ("2562047h48m", False), ("9999999999h", False), ("", False)],
)
def test_sync_window_durations_fit_in_go_time_duration(duration: str, ok: bool) -> None:
    data = prod_data()
    data["argocd"]["sync_windows"][0]["duration"] = duration
    if ok:
        assert parse_environment("prod", data).argocd.sync_windows[0].duration == duration
    else:
        assert "prod.argocd.sync_windows.0.duration: must be a duration such as 1h" in error_for(data)
        assert "at most 2562047h47m" in error_for(data)


def test_an_external_secrets_refresh_interval_fits_in_go_time_duration() -> None:
    from value_types.schedules import REFRESH_INTERVAL

    assert REFRESH_INTERVAL.accepts("2562047h47m16s") and REFRESH_INTERVAL.accepts("1h30m")
    assert not REFRESH_INTERVAL.accepts("2562047h47m17s") and not REFRESH_INTERVAL.accepts("99999999999999999999h")


def every_feature_data() -> dict[str, Any]:
    """The test environment's settings: every optional feature on (relabelings and custom metrics among them)."""
    data: dict[str, Any] = yaml.safe_load((ENVIRONMENTS_DIR / "test.yaml").read_text())
    return data


def _relabeling(**fields: Any) -> dict[str, Any]:
    data = every_feature_data()
    data["core_pipeline"]["telemetry"]["metric_relabelings"] = [
        {"source_labels": ["__name__"], "action": "replace", "target_label": "name", **fields}
    ]
    return data


@pytest.mark.parametrize(
    ("regex", "reason"),
    [
        ("a++", "bad repetition operator: ++"),
        ("(?>a)b", "invalid perl operator: (?>"),
        ("(a)\\1", "invalid escape sequence: \\1"),
        ("a{1001}", "invalid repetition size: {1001}"),
        ("(?=a)b", "invalid perl operator: (?="),
        ("(?<!a)b", "invalid perl operator: (?<!"),
        ("a)|(b", "unexpected ): a)|(b"),  # would compile only inside Prometheus' ^(?s:...)$, escaping the anchors
        ("\\C", "\\C (any byte) is not in Go's RE2"),
        ("(?P<ünïcode>x)", "capture names of ASCII letters, digits and '_' only"),
        ("[a-", "missing ]"),
        ("x" * 900 + ")", "..."),  # RE2 quotes the rest of the regex: shortened
    ],
)
def test_relabeling_regexes_are_checked_by_re2(regex: str, reason: str) -> None:
    message = error_for(_relabeling(regex=regex), "test")
    assert (
        "test.core_pipeline.telemetry.metric_relabelings.0.regex: is not a valid regular expression in RE2 syntax"
        in message
    )
    assert reason in message
    assert len(message.splitlines()[0]) < 1000


@pytest.mark.parametrize(
    "regex", ["\\p{L}+", "\\pN*", "go_gc_.*", "(?i)HTTP_.*", "(?P<name>[a-z]+)_(?<rest>.*)", "a{1000}", "\\Qa.b\\E", ""]
)
def test_valid_re2_regexes_are_accepted(regex: str) -> None:
    settings = parse_environment("test", _relabeling(regex=regex))
    assert settings.core_pipeline.telemetry.metric_relabelings[0].regex == regex


@pytest.mark.parametrize("replacement", ["$1", "${1}_x", "\\1", "$name", ""])
def test_a_replacement_may_name_capture_groups(replacement: str) -> None:
    """Backreferences are refused in the regex (RE2 has none) but a replacement is not a regex: Prometheus expands
    $1 and ${1}; a backslash is a plain character there."""
    settings = parse_environment("test", _relabeling(regex="(.*)", replacement=replacement))
    assert settings.core_pipeline.telemetry.metric_relabelings[0].replacement == replacement


def test_a_refused_regex_prints_one_message_and_nothing_on_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    """RE2 logs each refusal to the process' stderr unless told not to: the user sees our message alone."""
    error_for(_relabeling(regex="a++"), "test")
    assert capfd.readouterr().err == ""


def test_loading_settings_without_a_regex_does_not_import_re2() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from environment_model.settings import load_environment; load_environment('prod'); "
        "print('re2' in sys.modules)"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "False"


@pytest.mark.parametrize("target", ["0", "0.0", "0m", "0Ki", "000"])
def test_a_metric_target_must_be_positive(target: str) -> None:
    data = every_feature_data()
    data["core_pipeline"]["autoscaling"]["custom_metrics"] = [
        {"type": "Pods", "name": "http_requests_per_second", "target_average_value": target},
        {"type": "External", "name": "queue_depth", "target": {"type": "Value", "value": target}},
    ]
    message = error_for(data, "test")
    assert "test.core_pipeline.autoscaling.custom_metrics.0.Pods.target_average_value: must be a positive" in message
    assert "test.core_pipeline.autoscaling.custom_metrics.1.External.target.value: must be a positive" in message


@pytest.mark.parametrize("target", ["1", "0.5", "1m", "0.001m", "1.5k", "2Gi"])
def test_a_positive_metric_target_is_accepted(target: str) -> None:
    data = every_feature_data()
    data["core_pipeline"]["autoscaling"]["custom_metrics"] = [
        {"type": "Pods", "name": "http_requests_per_second", "target_average_value": target}
    ]
    parse_environment("test", data)


@pytest.mark.parametrize(
    "url",
    [
        'https://docs.example.com/run"books',
        "https://docs.example.com/{{ .Labels.team }}",
        "https://docs.example.com/run books",
        "https://docs.example.com/<runbooks>",
        "https://docs.example.com/runbooks#top",  # each alert adds its own #anchor
        "https://docs.example.com/100%",
        "http://docs.example.com/runbooks",
    ],
)
def test_a_runbook_url_is_an_https_url_of_url_characters(url: str) -> None:
    data = prod_data()
    data["core_pipeline"]["alerts"] = {"runbook_base_url": url}
    assert "prod.core_pipeline.alerts.runbook_base_url: must be an https:// URL without a #fragment" in error_for(data)


@pytest.mark.parametrize(
    "url", ["https://docs.example.com/run%22books", "https://github.com/org/repo/blob/main/docs/runbooks?plain=1"]
)
def test_a_percent_encoded_runbook_url_is_accepted(url: str) -> None:
    data = prod_data()
    data["core_pipeline"]["alerts"] = {"runbook_base_url": url}
    assert parse_environment("prod", data).core_pipeline.alerts.runbook_base_url == url


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
