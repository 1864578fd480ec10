"""Reading an environment file: every broken or hostile file gets one message naming the file, never a traceback,
a hang or a memory blow-up."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import environment_model.settings as settings
from environment_model.paths import ENVIRONMENTS_DIR
from environment_model.settings import SettingsError
from environment_model.settings_file import MAX_DEPTH, MAX_VALUES, SettingsFileError, read_settings_file

PROD = (ENVIRONMENTS_DIR / "prod.yaml").read_text(encoding="utf-8")


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ENVIRONMENTS_DIR", str(tmp_path))
    return tmp_path


def refusal(folder: Path, content: str | bytes, name: str = "qa") -> str:
    path = folder / f"{name}.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return load_refusal(name)


def load_refusal(name: str) -> str:
    with pytest.raises(SettingsError) as caught:
        settings.load_environment(name)
    message = str(caught.value)
    assert "Traceback" not in message
    return message


BILLION_LAUGHS = "\n".join(
    ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 10)]
)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"argocd:\n  repo_url: caf\xe9\n", "qa.yaml:2: not UTF-8 text (byte 0xe9)"),
        ("", "qa.yaml: empty; expected a mapping of settings keys"),
        ("# nothing but a comment\n", "qa.yaml: empty; expected a mapping"),
        ("---\n", "qa.yaml: empty; expected a mapping"),
        ("- argocd\n- verta\n", "qa.yaml:1: the document is a list; expected a mapping of settings keys"),
        ("just words\n", "qa.yaml:1: the document is a single value; expected a mapping"),
        ("argocd: {}\n---\nverta: {}\n", "qa.yaml:2: a second YAML document (after '---'); an environment file holds"),
        ("core_pipeline: [unclosed\n", "qa.yaml:2:1: not valid YAML: did not find expected ',' or ']'"),
        ("a: b\n c: d\n", "qa.yaml:2:3: not valid YAML: mapping values are not allowed"),
        ("argocd:\n  x: 1\n  x: 2\n", "qa.yaml:3: duplicate key argocd.x (first at line 2)"),
        ("verta: &v\n  a: 1\nargocd: *v\nverta: {}\n", "qa.yaml:4: duplicate key verta (first at line 1)"),
        ("a: &a [1, *a]\n", "qa.yaml:1: alias *a refers to itself"),
        ("a: *nowhere\n", "qa.yaml:1: alias *nowhere has no anchor &nowhere"),
        # libyaml's scanner, reading ahead, stops at its own bound of 1000 levels before ours sees the events
        ("[" * 100_000, "qa.yaml:1:1001: not valid YAML: exceeded maximum nesting depth"),
        ("a: " + "{b: " * 70 + "1" + "}" * 70 + "\n", f"qa.yaml:1: nested more than {MAX_DEPTH} levels deep"),
        (BILLION_LAUGHS, f"qa.yaml:5: expands to more than {MAX_VALUES} values"),
        ("replicas: " + "9" * 5000 + "\n", "qa.yaml:1: replicas is a number of 5000 characters; numbers in settings"),
        ("a:\n  b: 1" + ":59" * 300_000 + "\n", "qa.yaml:2: a.b is a number of 900001 characters"),
        ("a: !!python/object/apply:os.system [true]\n", "qa.yaml:1:4: could not determine a constructor for the tag"),
        ("? [a, b]\n: c\n", "qa.yaml:1: a key must be plain text, not a list or map"),
        ("verta:\n  on: 1\n", "qa.yaml:2: key 'on' is read by YAML as true or false, not text: quote it ('on':)"),
        ("1: x\n", "qa.yaml:1: key '1' is read by YAML as a number, not text: quote it"),
        ("a: \u00e9\u00e9\nb: x\x00\n", "qa.yaml:2: not valid YAML: character U+0000 is not allowed"),
    ],
    ids=[
        "not-utf8",
        "empty",
        "comment-only",
        "null-document",
        "list",
        "scalar",
        "two-documents",
        "unclosed-flow",
        "bad-indent",
        "duplicate-key",
        "duplicate-section",
        "recursive-alias",
        "undefined-alias",
        "deep-flow-nesting",
        "deep-mapping-nesting",
        "billion-laughs",
        "huge-integer",
        "sexagesimal-integer",
        "python-tag",
        "complex-key",
        "boolean-key",
        "number-key",
        "control-character",
    ],
)
def test_bad_files_get_one_message_naming_the_file(folder: Path, content: str | bytes, expected: str) -> None:
    message = refusal(folder, content)
    assert expected in message
    assert message.startswith(str(folder / "qa.yaml"))
    assert len(message) < 400


def test_alias_expansion_is_counted_not_performed(folder: Path) -> None:
    path = folder / "qa.yaml"
    path.write_text(BILLION_LAUGHS, encoding="utf-8")
    with pytest.raises(SettingsFileError) as caught:
        read_settings_file(path)
    # The counter stopped at the first alias past the bound: each alias costs its anchor's measured size, and an
    # anchor is measured only while within the bound, so it can at most double it (10**9 without the check).
    assert caught.value.counted_values is not None
    assert MAX_VALUES < caught.value.counted_values <= 2 * MAX_VALUES


def test_nested_aliases_deepen_the_document(folder: Path) -> None:
    # 40 levels, aliased inside 40 more: each part is shallow, the expanded document is not.
    deep = "{x: " * 40 + "1" + "}" * 40
    message = refusal(folder, f"a: &deep {deep}\nb: " + "[" * 40 + "*deep" + "]" * 40 + "\n")
    assert f"nested more than {MAX_DEPTH} levels deep" in message


def test_merge_keys_work_and_count(folder: Path) -> None:
    path = folder / "qa.yaml"
    path.write_text("base: &base {a: 1, b: 2}\nuse:\n  <<: *base\n  b: 3\n", encoding="utf-8")
    loaded = read_settings_file(path)
    assert loaded.data["use"] == {"a": 1, "b": 3}
    assert loaded.line_of(["use", "a"]) == 1  # from the merged mapping
    assert loaded.line_of(["use", "b"]) == 4


def test_lines_of_settings_paths(folder: Path) -> None:
    path = folder / "prod.yaml"
    path.write_text(PROD, encoding="utf-8")
    loaded = read_settings_file(path)
    line = next(n for n, text in enumerate(PROD.splitlines(), 1) if "max_replicas: 20" in text)
    assert loaded.line_of(["core_pipeline", "autoscaling", "max_replicas"]) == line
    # a key missing from the file points at its parent; a union's tag is not in the file and is skipped
    assert loaded.line_of(["core_pipeline", "autoscaling", "nothing"]) == line - 3
    assert loaded.line_of(["discord_monitor", "redis", "in_cluster", "storage_size"]) is not None


def test_missing_file_folder_and_dangling_link(folder: Path) -> None:
    assert "nowhere.yaml: no such settings file" in load_refusal("nowhere")
    (folder / "dir.yaml").mkdir()
    assert "dir.yaml: a folder, not a settings file" in load_refusal("dir")
    (folder / "link.yaml").symlink_to(folder / "gone.yaml")
    assert f"link.yaml: a symbolic link to {folder / 'gone.yaml'}, which does not exist" in load_refusal("link")


def test_a_fifo_is_refused_without_blocking(folder: Path) -> None:
    os.mkfifo(folder / "pipe.yaml")
    assert "pipe.yaml: not a regular file" in load_refusal("pipe")


def test_unreadable_file(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (folder / "locked.yaml").write_text(PROD, encoding="utf-8")
    real_open = Path.open

    def open_refused(self: Path, *args: object, **kwargs: object) -> object:
        if self.name == "locked.yaml":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", open_refused)
    assert "locked.yaml: cannot be read: Permission denied" in load_refusal("locked")


def test_oversized_file(folder: Path) -> None:
    message = refusal(folder, "# padding\n" * 200_000)
    assert "qa.yaml: larger than 1024 KiB" in message


@pytest.mark.parametrize(
    "name",
    ["Prod", "prod_eu", "-prod", "prod.eu", "x" * 48, "ünïcode"],
    ids=["upper", "underscore", "dash", "dot", "long", "unicode"],
)
def test_environment_name_must_fit_kubernetes_names(folder: Path, name: str) -> None:
    message = refusal(folder, PROD, name)
    assert message.startswith(str(folder / f"{name}.yaml"))
    assert "must be a DNS label" in message
    assert "at most 47 characters" in message
    assert "rename the file" in message


def test_longest_environment_name_loads(folder: Path) -> None:
    (folder / f"{'x' * 47}.yaml").write_text(PROD, encoding="utf-8")
    settings.load_environment("x" * 47)


def edited_prod(old: str, new: str) -> str:
    assert PROD.count(old) == 1, old
    return PROD.replace(old, new)


def line_of_text(content: str, text: str) -> int:
    return next(number for number, line in enumerate(content.splitlines(), 1) if text in line)


def test_settings_errors_name_the_file_and_line(folder: Path) -> None:
    content = edited_prod("max_replicas: 20", "max_replicas: 2")
    message = refusal(folder, content, "prod")
    line = line_of_text(content, "max_replicas: 2")
    expected = "prod.core_pipeline.autoscaling.max_replicas: must be >= min_replicas (3) (got 2)"
    assert message == f"{folder / 'prod.yaml'}:{line}: {expected}"


def test_missing_key_points_at_its_parent(folder: Path) -> None:
    content = edited_prod('    tag: "2.0.3"\n', "")
    message = refusal(folder, content, "prod")
    assert f"prod.yaml:{line_of_text(content, 'hivemind_bot:') + 1}: " in message  # the image: block's line
    assert "prod.hivemind_bot.image.tag: required key is missing" in message


def test_a_credential_in_a_free_form_block_is_never_echoed(folder: Path) -> None:
    content = edited_prod(
        "      min_severity: warning\n",
        "      discord: {bot_token: MTk4.s3cr3t, hook: 'https://discord.com/api/webhooks/1/s3cr3t'}\n"
        "      min_severity: warning\n",
    )
    message = refusal(folder, content, "prod")
    assert "prod.discord_monitor.watcher.filters: holds credentials at filters.discord.bot_token" in message
    assert "MTk4" not in message


def test_a_credential_in_the_verta_config_is_never_echoed(folder: Path) -> None:
    content = edited_prod(
        "    ML_MODEL: verta-classifier-v2\n", "    ML_MODEL: verta-classifier-v2\n    API_TOKEN: abc123xyz\n"
    )
    message = refusal(folder, content, "prod")
    assert "prod.verta.config: holds credentials at config.API_TOKEN" in message
    assert "abc123xyz" not in message


def test_a_long_value_is_shortened(folder: Path) -> None:
    content = edited_prod("node_env: production", f"node_env: {'x' * 100_000}")
    message = refusal(folder, content, "prod")
    assert "prod.core_pipeline.node_env" in message
    assert "(100002 characters)" in message
    assert len(message.replace(str(folder), "")) < 300, "the value is cut, whatever the folder's path"


# Bad values: each message names the file and line, the settings path, a short value (never a credential) and
# what is allowed in words. (old text in prod.yaml, new text, settings path, words of what is allowed, shown value)
BAD_VALUES = [
    (
        "kubernetes.io/hostname: worker-1",
        f"kubernetes.io/hostname: {'w' * 100_000}",
        "prod.kairoflow.node_selector.kubernetes.io/hostname",
        "must be a label value: empty, or at most 63 letters",
        "(100002 characters)",
    ),
    (
        "release: kube-prometheus-stack",
        "Bad Key!: kube-prometheus-stack",
        "prod.core_pipeline.telemetry.service_monitor_labels.Bad Key!",
        "the key must be a label or annotation key",
        "'Bad Key!'",
    ),
    (
        "release: kube-prometheus-stack",
        f"{'a' * 64}/release: kube-prometheus-stack",
        f"prod.core_pipeline.telemetry.service_monitor_labels.{'a' * 64}/release",
        "the key must be a label or annotation key",
        f"'{'a' * 64}/release'",
    ),
    (
        "hosts: [kairoflow.example.com]",
        "hosts: [KairoFlow.example.com]",
        "prod.kairoflow.hosts.0",
        "must be a lowercase DNS host name such as app.example.com",
        "'KairoFlow.example.com'",
    ),
    (
        "hosts: [kairoflow.example.com]",
        "hosts: ['*.example.com']",
        "prod.kairoflow.hosts.0",
        "must be a lowercase DNS host name",
        "'*.example.com'",
    ),
    (
        "hosts: [kairoflow.example.com]",
        f"hosts: [{'k' * 64}.example.com]",
        "prod.kairoflow.hosts.0",
        "must be a lowercase DNS host name such as app.example.com: labels of letters, digits and '-'",
        "'kkkkkkkkkk",
    ),
    (
        "host: postgres.prod-data.svc.cluster.local",
        "host: postgres_db",
        "prod.core_pipeline.postgres.host",
        "must be a DNS name: labels of lowercase letters, digits and '-'",
        "'postgres_db'",
    ),
    (
        "storage_size: 8Gi",
        f"storage_size: 8Gi\n    storage_class: {'s' * 64}",
        "prod.verta.redis.in_cluster.storage_class",
        "must be a DNS label: 1-63 lowercase letters, digits and '-'",
        "'ssssssssss",
    ),
    (
        "password: {secret: verta-redis, key: redis-password}",
        "password: {secret: Verta_Redis, key: redis-password}",
        "prod.verta.redis.in_cluster.password.secret",
        "must be a DNS label",
        "<redacted>",
    ),
    (
        'tag: "2.0.3"',
        'tag: "2.0.3+build.7"',
        "prod.hivemind_bot.image.tag",
        "must be an image tag: 1-128 letters, digits, '_', '.' and '-'",
        "'2.0.3+build.7'",
    ),
    (
        "- kafka-2.kafka.prod-data.svc.cluster.local:9092",
        "- kafka-2.kafka.prod-data.svc.cluster.local:99092",
        "prod.core_pipeline.kafka.brokers.2",
        "must be host:port, the host a DNS name such as kafka-0.kafka.data.svc, the port 1..65535",
        "'kafka-2.kafka.prod-data.svc.cluster.local:99092'",
    ),
    (
        'allow_origins: ["https://app.example.com"]',
        'allow_origins: ["https://app.example.com/login"]',
        "prod.core_pipeline.ingress.cors.allow_origins.0",
        "must be a browser origin: http:// or https:// and a host",
        "'https://app.example.com/login'",
    ),
    (
        'allow_origins: ["https://app.example.com"]',
        'allow_origins: ["https://app.example.com"]\n      allow_headers: ["X-Ok", "X-A, X-B"]',
        "prod.core_pipeline.ingress.cors.allow_headers.1",
        "must be an HTTP header name: letters, digits and",
        "'X-A, X-B'",
    ),
    (
        "target_revision: release",
        "target_revision: release branch",
        "prod.argocd.target_revision",
        "must be a branch, tag or commit: letters, digits",
        "'release branch'",
    ),
    (
        "repo_url: https://github.com/example-org/platform-deploy.git",
        "repo_url: https://deploy:ghp_s3cr3t@github.com/example-org/platform-deploy.git",
        "prod.argocd.repo_url",
        "must not hold a user name or password: credentials belong in a Secret",
        "'https://***@github.com/example-org/platform-deploy.git'",
    ),
    (
        "repo_url: https://github.com/example-org/platform-deploy.git",
        "repo_url: https://ghp_s3cr3t@github.com/example-org/platform-deploy.git",
        "prod.argocd.repo_url",
        "must not hold a user name or password",
        "'https://***@github.com/example-org/platform-deploy.git'",
    ),
    (
        "web_base_url: https://hivemind.example.com",
        "web_base_url: ghp_s3cr3tAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "prod.hivemind_bot.web_base_url",
        "must be an http:// or https:// URL without spaces",
        "'<redacted>'",
    ),
    (
        "web_base_url: https://hivemind.example.com",
        "web_base_url: https://bob:s3cr3t@hivemind.example.com/x",
        "prod.hivemind_bot.web_base_url",
        "must not hold a user name or password",
        "'https://***@hivemind.example.com/x'",
    ),
    (
        "  log_level: warn\n\nkairoflow",
        "  log_level: warn\n  network_policy: {https_egress_cidrs: [10.0.0.1/8]}\n\nkairoflow",
        "prod.hivemind_bot.network_policy.https_egress_cidrs.0",
        "must be an address range in CIDR notation such as 10.0.0.0/8",
        "'10.0.0.1/8'",
    ),
    (
        'tag: "2.0.3"',
        "tag: 2.10",
        "prod.hivemind_bot.image.tag",
        "must be text: quote it, YAML reads this as a number",
        "2.1",
    ),
    (
        "hivemind_bot:\n  image:",
        "hivemind_bot:\nhivemind_old:\n  image:",
        "prod.hivemind_bot",
        "must be a mapping of keys",
        "None",
    ),
    (
        "    tls: true\n    cluster_issuer",
        "    tls: true\n    cluster_issuer: LetsEncrypt\n    x_issuer",
        "prod.core_pipeline.ingress.cluster_issuer",
        "must be a DNS label",
        "'LetsEncrypt'",
    ),
]


@pytest.mark.parametrize(("old", "new", "path", "allowed", "shown"), BAD_VALUES)
def test_bad_values_are_explained(folder: Path, old: str, new: str, path: str, allowed: str, shown: str) -> None:
    content = edited_prod(old, new)
    message = refusal(folder, content, "prod")
    line = next(line for line in message.splitlines() if f" {path}: " in line)
    assert line.startswith(f"{folder / 'prod.yaml'}:")
    assert f"{path}: {allowed}" in line
    assert shown in line.partition("(got ")[2]
    assert "s3cr3t" not in message
    assert "should match pattern" not in message
    assert len(line) < 600


def test_file_line_of_a_bad_value(folder: Path) -> None:
    content = edited_prod("hosts: [kairoflow.example.com]", "hosts: [KairoFlow.example.com]")
    message = refusal(folder, content, "prod")
    assert message.startswith(f"{folder / 'prod.yaml'}:{line_of_text(content, 'KairoFlow')}: prod.kairoflow.hosts.0:")


def test_no_setting_is_checked_by_a_bare_pattern() -> None:
    """pydantic's own pattern check says "String should match pattern '^...$'": every text rule goes through
    `Checked`, which says in words what is allowed."""
    from environment_model.settings import EnvironmentSettings

    EnvironmentSettings.model_rebuild()

    def patterns(schema: object) -> list[str]:
        if isinstance(schema, dict):
            own = [schema["pattern"]] if schema.get("type") == "str" and "pattern" in schema else []
            return own + [found for value in schema.values() for found in patterns(value)]
        if isinstance(schema, list):
            return [found for value in schema for found in patterns(value)]
        return []

    assert patterns(EnvironmentSettings.__pydantic_core_schema__) == []


def test_problems_are_listed_in_the_file_order(folder: Path) -> None:
    content = edited_prod("target_revision: release", "target_revision: HEAD")
    content = content.replace("max_replicas: 20", "max_replicas: 2").replace("node_env: production", "node_env: prod")
    lines = refusal(folder, content, "prod").splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "prod.core_pipeline.autoscaling.max_replicas",
        "prod.core_pipeline.node_env",
        "prod.argocd.target_revision",
    ]


def test_whole_file_rules_name_the_line_too(folder: Path) -> None:
    content = edited_prod('tag: "2.0.3"', "tag: latest")
    message = refusal(folder, content, "prod")
    assert message.startswith(
        f"{folder / 'prod.yaml'}:{line_of_text(content, 'tag: latest')}: prod.hivemind_bot.image.tag"
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (BILLION_LAUGHS, f"qa.yaml:5: expands to more than {MAX_VALUES} values"),
        ("[" * 100_000, f"qa.yaml:1: nested more than {MAX_DEPTH} levels deep"),
        ("a: \u00e9\u00e9\nb: x\x00\n", "qa.yaml:2: not valid YAML: character U+0000 is not allowed"),
        ("argocd:\n  x: 1\n  x: 2\n", "qa.yaml:3: duplicate key argocd.x (first at line 2)"),
        ("a: &a [1, *a]\n", "qa.yaml:1: alias *a refers to itself"),
    ],
    ids=["billion-laughs", "deep-nesting", "control-character", "duplicate-key", "recursive-alias"],
)
def test_the_same_refusals_without_libyaml(
    folder: Path, monkeypatch: pytest.MonkeyPatch, content: str, expected: str
) -> None:
    import yaml

    import environment_model.settings_file as settings_file

    monkeypatch.setattr(settings_file, "_Loader", yaml.SafeLoader)
    assert expected in refusal(folder, content)
