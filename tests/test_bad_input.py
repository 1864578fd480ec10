"""Bad input and faults, as a user meets them: each case runs a command in-process and must end in one message that
names the file or the settings path, a non-zero exit code, no traceback, no credential echoed, and the output folder
exactly as it was (hashed before and after)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

import main
from delivery import output
from environment_model.paths import ENVIRONMENTS_DIR, ROOT

Edit = Callable[[Path], None]
SECRET = "s3cr3t-Hunter2-value"


def tree_digest(folder: Path) -> str:
    """Every path under `folder`, hidden ones included, with each entry's inode, size and modification time: any
    file written, replaced, added or removed changes it (the writer never rewrites a file in place, and a write in
    place changes the time), without reading every file for each of the many cases."""
    digest = hashlib.sha256()
    if not folder.exists():
        return "absent"
    entries: list[str] = []
    # os.walk with plain strings: this runs six times per case, and Path.rglob made it most of a case's time.
    for parent, folders, files in os.walk(folder):
        at = os.path.relpath(parent, folder)
        for name in folders + files:
            path = os.path.join(parent, name)
            stat = os.lstat(path)
            # A folder's own time changes when a staging folder comes and goes beside it; what it holds is hashed.
            is_folder = name in folders and not os.path.islink(path)
            identity = "folder" if is_folder else f"{stat.st_ino} {stat.st_size} {stat.st_mtime_ns}"
            entries.append(f"{os.path.normpath(os.path.join(at, name))} {identity}")
    for entry in sorted(entries):
        digest.update(f"{entry}\n".encode())
    return digest.hexdigest()


def _yaml_edit(env: str, change: Callable[[dict[str, object]], None]) -> Edit:
    def edit(folder: Path) -> None:
        path = folder / f"{env}.yaml"
        data = yaml.safe_load(path.read_text())
        change(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    return edit


def _set(env: str, dotted: str, value: object) -> Edit:
    def change(data: dict[str, object]) -> None:
        *parents, last = dotted.split(".")
        node: dict[str, object] = data
        for part in parents:
            node = node.setdefault(part, {})  # type: ignore[assignment]
        node[last] = value

    return _yaml_edit(env, change)


def _delete(env: str, dotted: str) -> Edit:
    def change(data: dict[str, object]) -> None:
        *parents, last = dotted.split(".")
        node: dict[str, object] = data
        for part in parents:
            node = node[part]  # type: ignore[assignment]
        del node[last]

    return _yaml_edit(env, change)


def _text(env: str, text: str | bytes) -> Edit:
    def edit(folder: Path) -> None:
        path = folder / f"{env}.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())

    return edit


def _append(env: str, text: str) -> Edit:
    def edit(folder: Path) -> None:
        path = folder / f"{env}.yaml"
        path.write_text(path.read_text() + text)

    return edit


def _append_bytes(env: str, data: bytes) -> Edit:
    def edit(folder: Path) -> None:
        path = folder / f"{env}.yaml"
        path.write_bytes(path.read_bytes() + data)

    return edit


def _replace_file(env: str, make: Callable[[Path], None]) -> Edit:
    def edit(folder: Path) -> None:
        path = folder / f"{env}.yaml"
        path.unlink()
        make(path)

    return edit


def _symlink_loop(env: str) -> Edit:
    def edit(folder: Path) -> None:
        path = folder / f"{env}.yaml"
        path.unlink()
        path.symlink_to(folder / "loop2.yaml")
        (folder / "loop2.yaml").symlink_to(path)

    return edit


def _unquoted_tag(env: str, tag: str) -> Edit:
    """core_pipeline.image.tag written without quotes, as YAML reads it (a number, if it looks like one)."""

    def edit(folder: Path) -> None:
        path = folder / f"{env}.yaml"
        text = path.read_text()
        quoted = text[text.index("tag: ") :].split("\n", 1)[0]
        path.write_text(text.replace(quoted, f"tag: {tag}", 1))

    return edit


def _rename(env: str, new_name: str) -> Edit:
    return lambda folder: os.replace(folder / f"{env}.yaml", folder / new_name)


def _role(twice: bool = False, **fields: object) -> Edit:
    """prod's Argo CD roles: one valid deployer role with `fields` changed (listed twice if `twice`)."""
    role = {"name": "deployer", "groups": ["ops"], "actions": ["sync"], **fields}
    return _set("prod", "argocd.roles", [role, role] if twice else [role])


def _window(**fields: object) -> Edit:
    """prod's sync windows: one valid deny window with `fields` changed."""
    return _set("prod", "argocd.sync_windows", [{"kind": "deny", "schedule": "0 1 * * *", "duration": "1h", **fields}])


def _pod_security(**fields: object) -> Edit:
    return _set("dev", "argocd.pod_security", fields)


def _aliases(levels: int) -> str:
    """The "billion laughs" document: each level refers to the one before ten times."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels):
        refs = ", ".join(f"*a{level - 1}" for _ in range(10))
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + f"\ncore_pipeline:\n  feature_flags: {{x: *a{levels - 1}}}\n"


def _both(*edits: Edit) -> Edit:
    def edit(folder: Path) -> None:
        for each in edits:
            each(folder)

    return edit


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]  # {out} is the output folder, {dist} a copy of dist/, {tmp} the case's own folder
    edit: Edit | None = None  # applied to the case's copy of environments/ (ENVIRONMENTS_DIR)
    names: tuple[str, ...] = ()  # what the message must contain: the file, the settings path, the value
    exit_code: int = 1
    env: dict[str, str] = field(default_factory=dict)  # more environment variables ({tmp} replaced)
    fault: Callable[[Path, pytest.MonkeyPatch], contextlib.AbstractContextManager[None]] | None = None
    compared: Callable[[Path], object] | None = None  # applied to a copy of dist/ that {compared} names (diff --dist)


SYNTH = ("synth", "--out", "{out}")
VALIDATE = ("validate",)
DIFF = ("diff", "--exit-code", "--dist", "{dist}")


CASES = [
    # The settings file itself.
    Case("not-utf8", SYNTH, _text("prod", b"core_pipeline:\n  log_level: \xff\xfe\n"), ("prod.yaml",)),
    Case("latin1-comment", SYNTH, _append_bytes("dev", "# caf\xe9\n".encode("latin-1")), ("dev.yaml",)),
    Case("yaml-syntax", SYNTH, _append("prod", "core_pipeline: [unclosed\n"), ("prod.yaml",)),
    Case("tab-indent", SYNTH, _append("prod", "verta:\n\tnamespace: x\n"), ("prod.yaml",)),
    Case("empty-file", SYNTH, _text("staging", ""), ("staging",)),
    Case("only-comments", SYNTH, _text("staging", "# nothing\n"), ("staging",)),
    Case("a-list", SYNTH, _text("dev", "- a\n- b\n"), ("dev",)),
    Case("a-scalar", SYNTH, _text("dev", "just text\n"), ("dev",)),
    Case("two-documents", SYNTH, _append("dev", "---\nfoo: 1\n"), ("dev.yaml",)),
    Case("duplicate-top-key", SYNTH, _append("prod", "argocd: {}\n"), ("prod.yaml", "argocd")),
    Case(
        "duplicate-section", SYNTH, _append("dev", "hivemind_bot:\n  log_level: info\n"), ("dev.yaml", "hivemind_bot")
    ),
    Case("billion-laughs", SYNTH, _append("dev", _aliases(9)), ("dev.yaml", "once its aliases are expanded")),
    Case("recursive-alias", SYNTH, _append("dev", "loop: &loop [*loop]\n"), ("dev.yaml",)),
    Case("deep-nesting", SYNTH, _append("dev", "deep: " + "[" * 5000 + "]" * 5000 + "\n"), ("dev.yaml",)),
    Case("deep-mapping", SYNTH, _append("dev", "deep: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n"), ("dev.yaml",)),
    Case(
        "many-plain-values",
        SYNTH,
        _text("dev", "core_pipeline:\n  feature_flags:\n" + "".join(f"    f{i}: true\n" for i in range(15_000))),
        ("dev.yaml:", "has more than 20000 values"),
    ),
    Case("symlink-loop", SYNTH, _symlink_loop("dev"), ("dev.yaml: a loop of symbolic links",)),
    Case("octal-looking-tag", SYNTH, _unquoted_tag("dev", "0755"), ("dev.core_pipeline.image.tag", "(got 0755)")),
    Case("folder-not-file", SYNTH, _replace_file("dev", lambda p: p.mkdir()), ("dev.yaml",)),
    Case("dangling-link", SYNTH, _replace_file("dev", lambda p: p.symlink_to(p.parent / "gone.yaml")), ("dev.yaml",)),
    Case("fifo", SYNTH, _replace_file("dev", lambda p: os.mkfifo(p)), ("dev.yaml",)),
    Case("bad-environment-name", SYNTH, _rename("staging", "Stag ing.yaml"), ("Stag ing",)),
    Case("environment-name-too-long", SYNTH, _rename("staging", "s" * 80 + ".yaml"), ("s" * 20,)),
    Case("reserved-environment-name", VALIDATE, _rename("staging", "argocd.yaml"), ("argocd.yaml", "dist/argocd/")),
    Case("fleet-environment-name", VALIDATE, _rename("staging", "fleet.yaml"), ("fleet.yaml", "dist/argocd/fleet/")),
    Case("fleet-namespaces-differ-synth", SYNTH, _set("prod", "argocd.namespace", "argocd-x"), ("dist/argocd/fleet/",)),
    Case(
        "fleet-argocd-namespaces-differ",
        VALIDATE,
        _set("prod", "argocd.namespace", "argocd-prod"),
        ("dist/argocd/fleet/", "prod: argocd-prod", "argocd.namespace"),
    ),
    Case(
        "yml-extension",
        SYNTH,
        _rename("staging", "staging.yml"),
        ("staging.yml: settings files end in .yaml: rename it",),
    ),
    Case(
        "yml-extension-selected",
        ("synth", "--env", "dev", "--out", "{out}"),
        _rename("staging", "staging.yml"),
        ("staging.yml: settings files end in .yaml: rename it",),
    ),
    # Keys and types.
    Case("unknown-top-key", SYNTH, _set("prod", "core_pipline", {}), ("prod.core_pipline", "unknown key")),
    Case("unknown-nested-key", SYNTH, _set("prod", "core_pipeline.autoscaling.max_replica", 3), ("max_replica",)),
    Case("wrong-type", SYNTH, _set("prod", "core_pipeline.replicas", "three"), ("prod.core_pipeline.replicas",)),
    Case("coerced-number", SYNTH, _set("dev", "core_pipeline.replicas", "1"), ("dev.core_pipeline.replicas",)),
    Case("negative-replicas", SYNTH, _set("dev", "core_pipeline.replicas", -1), ("dev.core_pipeline.replicas",)),
    Case("null-section", SYNTH, _set("prod", "verta", None), ("prod.verta",)),
    Case("missing-image", SYNTH, _delete("prod", "core_pipeline.image"), ("prod.core_pipeline.image",)),
    Case(
        "max-below-min",
        SYNTH,
        _set("prod", "core_pipeline.autoscaling.max_replicas", 1),
        ("max_replicas", "min_replicas"),
    ),
    Case("port-out-of-range", SYNTH, _set("dev", "hivemind_bot.backend_grpc_port", 70000), ("backend_grpc_port",)),
    Case("bad-cpu", SYNTH, _set("dev", "core_pipeline.resources.requests.cpu", "lots"), ("resources.requests.cpu",)),
    Case("bad-memory", SYNTH, _set("dev", "core_pipeline.resources.limits.memory", "1 GB"), ("limits.memory",)),
    # Python's \\d takes any Unicode digit and its '$' a trailing line break: the API server takes neither.
    Case(
        "cpu-non-ascii-digit",
        SYNTH,
        _set("dev", "core_pipeline.resources.requests.cpu", "\u0663"),
        ("dev.core_pipeline.resources.requests.cpu", "CPU quantity"),
    ),
    Case(
        "memory-trailing-line-break",
        SYNTH,
        _set("dev", "core_pipeline.resources.limits.memory", "256Mi\n"),
        ("dev.core_pipeline.resources.limits.memory", "memory quantity"),
    ),
    Case("limits-below-requests", SYNTH, _set("dev", "core_pipeline.resources.limits.memory", "1Mi"), ("limits",)),
    Case("bad-cron", SYNTH, _set("dev", "discord_monitor.retention.schedule", "61 * * * *"), ("retention.schedule",)),
    Case("bad-time-zone", SYNTH, _set("dev", "discord_monitor.retention.time_zone", "Mars/Base"), ("time_zone",)),
    Case("bad-enum", SYNTH, _set("dev", "hivemind_bot.log_format", "xml"), ("hivemind_bot.log_format",)),
    Case(
        "non-ascii-flag-name",
        SYNTH,
        _set("dev", "core_pipeline.feature_flags", {"nëw_scöring": True}),
        ("dev.yaml:", "dev.core_pipeline.feature_flags.nëw_scöring", "ASCII letters"),
    ),
    Case(
        "flags-colliding-when-upper-cased",
        SYNTH,
        _set("dev", "core_pipeline.feature_flags", {"new_scoring": True, "NEW_SCORING": False}),
        ("dev.core_pipeline.feature_flags", "'new_scoring' and 'NEW_SCORING'", "FEATURE_NEW_SCORING"),
    ),
    Case(
        "non-ascii-config-key",
        SYNTH,
        _set("dev", "verta.config", {"ÄPFEL": "x"}),
        ("dev.verta.config.ÄPFEL", "ASCII capital letters"),
    ),
    # Images.
    Case("mutable-tag", SYNTH, _set("dev", "core_pipeline.image.tag", "latest"), ("dev.core_pipeline.image.tag",)),
    Case("mutable-tag-prod", SYNTH, _set("prod", "verta.backend.image.tag", "main"), ("verta.backend.image.tag",)),
    Case("no-tag", SYNTH, _set("dev", "core_pipeline.image.tag", ""), ("core_pipeline.image.tag",)),
    Case("uppercase-repository", SYNTH, _set("dev", "core_pipeline.image.repository", "GHCR.io/X"), ("repository",)),
    Case("removed-setting", SYNTH, _set("dev", "require_pinned_images", False), ("dev.require_pinned_images",)),
    Case(
        "monitor-labels-per-stack",
        SYNTH,
        _set("dev", "verta.alerts.rule_labels", {"release": "other"}),
        ("dev.verta.alerts.rule_labels", "monitoring.prometheus_labels"),
    ),
    Case(
        "bad-monitoring-labels",
        SYNTH,
        _set("dev", "monitoring.prometheus_labels", {"release": "-bad-"}),
        ("dev.monitoring.prometheus_labels",),
    ),
    # Kubernetes names, labels, hosts.
    Case("bad-namespace", SYNTH, _set("dev", "verta.namespace", "Verta_NS"), ("dev.verta.namespace",)),
    Case("long-namespace", SYNTH, _set("dev", "verta.namespace", "n" * 100_000), ("dev.verta.namespace",)),
    Case(
        "reserved-namespace",
        SYNTH,
        _set("dev", "kairoflow.namespace", "argocd"),
        ("dev.kairoflow.namespace", "kube-system"),
    ),
    Case("kube-system-namespace", SYNTH, _set("prod", "verta.namespace", "kube-system"), ("prod.verta.namespace",)),
    Case("bad-host", SYNTH, _set("dev", "core_pipeline.ingress.hosts", ["exa mple.com"]), ("ingress.hosts",)),
    Case("bad-label-key", SYNTH, _set("prod", "kairoflow.node_selector", {"bad key!": "x"}), ("node_selector",)),
    Case("long-label-value", SYNTH, _set("prod", "kairoflow.node_selector", {"a": "v" * 100_000}), ("node_selector",)),
    Case("bad-secret-name", SYNTH, _set("dev", "discord_monitor.bot.token.secret", "Bot Token"), ("bot.token",)),
    # Credentials.
    Case(
        "credential-in-url",
        SYNTH,
        _set("dev", "hivemind_bot.web_base_url", f"https://ops:{SECRET}@h.example.com"),
        ("hivemind_bot.web_base_url",),
    ),
    Case(
        "credential-in-filters",
        SYNTH,
        _set("dev", "discord_monitor.watcher.filters", {"api_token": SECRET}),
        ("discord_monitor.watcher.filters",),
    ),
    Case(
        "credential-in-url-list",
        SYNTH,
        _set("prod", "argocd.repo_url", f"https://git:{SECRET}@git.example.com/r.git"),
        ("prod.argocd.repo_url",),
    ),
    Case(
        "role-name-not-dns-label",
        SYNTH,
        _role(name="Deployers!"),
        ("prod.yaml", "prod.argocd.roles.0.name", "Deployers!", "DNS label"),
    ),
    Case(
        "role-unknown-action", SYNTH, _role(actions=["deploy"]), ("prod.argocd.roles.0.actions.0", "deploy", "'sync'")
    ),
    Case(
        "role-group-with-comma",
        SYNTH,
        _role(groups=["ops, admins"]),
        ("prod.argocd.roles.0.groups.0", "ops, admins", "no commas"),
    ),
    Case("role-without-groups", SYNTH, _role(groups=[]), ("prod.argocd.roles.0.groups",)),
    Case("role-twice", SYNTH, _role(twice=True), ("prod.argocd.roles", "deployer", "more than once")),
    Case(
        "sync-window-bad-cron", SYNTH, _window(schedule="0 25 * * *"), ("prod.argocd.sync_windows.0.schedule", "cron")
    ),
    Case("sync-window-bad-duration", SYNTH, _window(duration="2d"), ("prod.argocd.sync_windows.0.duration", "1h30m")),
    Case("sync-window-bad-kind", SYNTH, _window(kind="block"), ("prod.argocd.sync_windows.0.kind", "block", "'deny'")),
    # What Kubernetes, Argo CD and Prometheus would refuse, refused when the settings are read.
    Case(
        "cron-weekday-7",
        SYNTH,
        _set("dev", "discord_monitor.retention.schedule", "0 3 * * 7"),
        ("dev.yaml", "dev.discord_monitor.retention.schedule", "'0 3 * * 7'", "weekday 0-6", "7 is not Sunday"),
    ),
    Case(
        "sync-window-weekday-range-to-7",
        SYNTH,
        _window(schedule="0 1 * * 5-7"),
        ("prod.argocd.sync_windows.0.schedule", "'0 1 * * 5-7'", "weekday 0-6"),
    ),
    Case(
        "sync-window-duration-overflow",
        SYNTH,
        _window(duration="9999999999h"),
        ("prod.argocd.sync_windows.0.duration", "'9999999999h'", "at most 2562047h47m"),
    ),
    Case(
        "sync-window-posix-time-zone",
        SYNTH,
        _window(time_zone="right/UTC"),
        ("prod.argocd.sync_windows.0.time_zone", "'right/UTC'", "IANA time zone"),
    ),
    Case(
        "time-zone-posixrules",
        SYNTH,
        _set("dev", "discord_monitor.retention.time_zone", "posixrules"),
        ("dev.discord_monitor.retention.time_zone", "'posixrules'", "IANA time zone"),
    ),
    Case(
        "prometheus-duration-overflow",
        SYNTH,
        _set("dev", "core_pipeline.alerts.latency_for", "99999999999999999999h"),
        ("dev.core_pipeline.alerts.latency_for", "'99999999999999999999h'", "at most 2562047h47m16s854ms"),
    ),
    Case(
        "scrape-interval-overflow",
        SYNTH,
        _set("test", "core_pipeline.telemetry.scrape_interval", "2562048h"),
        ("test.core_pipeline.telemetry.scrape_interval", "'2562048h'", "at most 2562047h47m16s854ms"),
    ),
    Case(
        "relabel-regex-possessive",
        SYNTH,
        _set(
            "test",
            "core_pipeline.telemetry.metric_relabelings",
            [{"source_labels": ["__name__"], "regex": "go_.++", "action": "drop"}],
        ),
        ("test.core_pipeline.telemetry.metric_relabelings.0.regex", "'go_.++'", "RE2", "bad repetition operator: ++"),
    ),
    Case(
        "relabel-regex-backreference",
        SYNTH,
        _set(
            "test",
            "core_pipeline.telemetry.relabelings",
            [{"source_labels": ["job"], "regex": "(a)\\1", "action": "keep"}],
        ),
        ("test.core_pipeline.telemetry.relabelings.0.regex", "backreferences", "invalid escape sequence: \\1"),
    ),
    Case(
        "relabel-regex-escapes-the-anchors",
        SYNTH,
        _set(
            "test",
            "core_pipeline.telemetry.relabelings",
            [{"source_labels": ["job"], "regex": "a)|(b", "action": "keep"}],
        ),
        ("test.core_pipeline.telemetry.relabelings.0.regex", "unexpected )"),
    ),
    Case(
        "hpa-metric-target-zero",
        SYNTH,
        _set(
            "test",
            "core_pipeline.autoscaling.custom_metrics",
            [{"type": "Pods", "name": "http_requests_per_second", "target_average_value": "0"}],
        ),
        ("test.core_pipeline.autoscaling.custom_metrics.0.Pods.target_average_value", "(got '0')", "positive"),
    ),
    Case(
        "runbook-url-with-quote",
        SYNTH,
        _set("dev", "core_pipeline.alerts.runbook_base_url", 'https://docs.example.com/run"books'),
        ("dev.core_pipeline.alerts.runbook_base_url", 'run"books', "without spaces, quotes"),
    ),
    Case(
        "mutable-tag-canary",
        SYNTH,
        _set("prod", "hivemind_bot.image.tag", "canary"),
        ("prod.hivemind_bot.image.tag", "tag 'canary' moves to new builds", "sha-<commit>"),
    ),
    Case(
        "set-image-moving-tag",
        ("set-image", "hivemind-bot", "lts", "--env", "prod"),
        None,
        ("tag 'lts' moves to new builds", "sha-<commit>"),
        2,
    ),
    Case(
        "pod-security-unknown-level", SYNTH, _pod_security(level="strict"), ("dev.argocd.pod_security.level", "strict")
    ),
    Case(
        "pod-security-bad-version", SYNTH, _pod_security(version="1.27"), ("dev.argocd.pod_security.version", "v1.27")
    ),
    Case(
        "credential-in-flag",
        SYNTH,
        _set("dev", "core_pipeline.feature_flags", {"db_password": SECRET}),
        ("core_pipeline.feature_flags",),
    ),
    # A user-info part without a scheme is a credential too (the value is shown as ***@host).
    Case(
        "bare-credential-in-broker",
        SYNTH,
        _set("dev", "core_pipeline.kafka.brokers", [f"user:{SECRET}@kafka.dev-data.svc.cluster.local:9092"]),
        ("dev.core_pipeline.kafka.brokers", "***@kafka.dev-data.svc.cluster.local:9092"),
    ),
    Case(
        "bare-credential-in-host",
        SYNTH,
        _set("dev", "core_pipeline.postgres.host", f"user:{SECRET}@db.example.com"),
        ("dev.core_pipeline.postgres.host", "***@db.example.com"),
    ),
    Case(
        "bare-credential-in-ingress-host",
        SYNTH,
        _set("dev", "core_pipeline.ingress.hosts", [f"user:{SECRET}@x.example.com"]),
        ("dev.core_pipeline.ingress.hosts", "***@x.example.com"),
    ),
    Case(
        "bare-credential-in-grpc-host",
        SYNTH,
        _set("dev", "hivemind_bot.backend_grpc_host", f"user:{SECRET}@grpc.example.com"),
        ("dev.hivemind_bot.backend_grpc_host", "***@grpc.example.com"),
    ),
    Case(
        "bare-credential-in-repository",
        SYNTH,
        _set("dev", "core_pipeline.image.repository", f"user:{SECRET}@ghcr.io/org/img"),
        ("dev.core_pipeline.image.repository", "***@ghcr.io/org/img"),
    ),
    # Free-form blocks are rendered as written: a credential embedded in a value is refused at load time.
    Case(
        "credential-url-in-verta-config",
        SYNTH,
        _set("dev", "verta.config", {"DATABASE_URL": f"postgres://admin:{SECRET}@db.example.com/verta"}),
        ("dev.verta.config", "config.DATABASE_URL", "postgres://***@db.example.com"),
    ),
    Case(
        "bare-credential-in-filters",
        SYNTH,
        _set("dev", "discord_monitor.watcher.filters", {"upstream": f"user:{SECRET}@h.example.com"}),
        ("dev.discord_monitor.watcher.filters", "filters.upstream"),
    ),
    Case(
        "credential-url-in-command",
        SYNTH,
        _set("dev", "core_pipeline.migration.command", ["migrate", f"--db=postgres://u:{SECRET}@db/x"]),
        ("dev.core_pipeline.migration.command", "command[1]"),
    ),
    # What only a render finds.
    Case(
        "host-claimed-twice",
        SYNTH,
        _set("dev", "verta.ingress.hosts", ["core-pipeline-dev.example.com"]),
        ("core-pipeline-dev.example.com", "both route"),
    ),
    Case(
        "host-claimed-twice-prod",
        ("synth", "--env", "prod", "--out", "{out}"),
        _both(
            _set("prod", "verta.ingress.hosts", ["api.example.com"]),
            _set("prod", "core_pipeline.ingress.hosts", ["api.example.com"]),
        ),
        ("api.example.com", "both route"),
    ),
    # One stack re-rendered is checked with the others as they are in the output folder.
    Case(
        "host-claimed-by-one-stack",
        ("synth", "--env", "dev", "--stack", "verta", "--out", "{out}"),
        _set("dev", "verta.ingress.hosts", ["core-pipeline-dev.example.com"]),
        ("core-pipeline-dev.example.com", "both route"),
    ),
    # The environments folder.
    Case("environments-dir-missing", SYNTH, None, ("ENVIRONMENTS_DIR",), env={"ENVIRONMENTS_DIR": "{tmp}/nowhere"}),
    Case(
        "environments-dir-empty",
        SYNTH,
        None,
        ("ENVIRONMENTS_DIR", "zero environments"),
        env={"ENVIRONMENTS_DIR": "{tmp}"},
    ),
    Case(
        "environments-dir-is-a-file",
        SYNTH,
        None,
        ("ENVIRONMENTS_DIR",),
        env={"ENVIRONMENTS_DIR": str(ROOT / "README.md")},
    ),
    Case("validate-empty-dir", VALIDATE, None, ("zero environments",), env={"ENVIRONMENTS_DIR": "{tmp}"}),
    # diff's 1 means "differences that apply in place": a diff that cannot render says 2.
    Case("diff-empty-dir", DIFF, None, ("zero environments",), 2, env={"ENVIRONMENTS_DIR": "{tmp}"}),
    Case(
        "validate-bad-settings", VALIDATE, _set("prod", "core_pipeline.replicas", "x"), ("prod.core_pipeline.replicas",)
    ),
    Case(
        "validate-construct-rule",
        VALIDATE,
        _set("dev", "verta.ingress.hosts", ["core-pipeline-dev.example.com"]),
        ("core-pipeline-dev.example.com",),
    ),
    Case("diff-bad-settings", DIFF, _set("prod", "core_pipeline.replicas", "x"), ("prod.core_pipeline.replicas",), 2),
    # The command line.
    Case("unknown-environment", ("synth", "--env", "qa", "--out", "{out}"), None, ("qa",), 2),
    Case("unknown-stack", ("synth", "--stack", "nope", "--out", "{out}"), None, ("nope",), 2),
    Case("unknown-command", ("deploy",), None, ("deploy",), 2),
    Case("unknown-option", ("synth", "--force"), None, ("--force",), 2),
    Case("out-is-a-file", ("synth", "--out", str(ROOT / "README.md")), None, ("README.md", "folder")),
    Case("out-under-a-file", ("synth", "--out", str(ROOT / "README.md" / "x")), None, ("README.md",)),
    Case("cdk8s-outdir-is-a-file", (), None, ("README.md",), env={"CDK8S_OUTDIR": str(ROOT / "README.md")}),
    # Empty values mean the current folder: a synth there would mix environments into whatever it holds.
    Case("out-empty", ("synth", "--out", ""), None, ("--out", "empty"), 2),
    Case("cdk8s-outdir-empty", (), None, ("--out", "empty"), 2, env={"CDK8S_OUTDIR": ""}),
    Case("out-is-the-project", ("synth", "--out", str(ROOT)), None, ("holds a project",)),
    Case(
        "environments-dir-empty-string",
        SYNTH,
        None,
        ("ENVIRONMENTS_DIR is set but empty",),
        env={"ENVIRONMENTS_DIR": ""},
    ),
    # diff compares with a folder that may come from anywhere (another branch's dist/).
    Case("diff-dist-missing", ("diff", "--exit-code", "--dist", "{out}/nowhere"), None, ("no such folder",), 2),
    Case("diff-dist-is-a-file", ("diff", "--exit-code", "--dist", str(ROOT / "README.md")), None, ("README.md",), 2),
    Case(
        "diff-dist-billion-laughs",
        ("diff", "--exit-code", "--dist", "{compared}"),
        None,
        ("deployment-verta-ml.yaml",),
        2,
        compared=lambda folder: (folder / "dev/verta/deployment-verta-ml.yaml").write_text(_aliases(9)),
    ),
    Case(
        "diff-dist-not-utf8",
        ("diff", "--exit-code", "--dist", "{compared}"),
        None,
        ("service-verta-ml.yaml", "UTF-8"),
        2,
        compared=lambda folder: (folder / "dev/verta/service-verta-ml.yaml").write_bytes(b"\xff\xfe"),
    ),
    Case(
        "diff-dist-python-tag",
        ("diff", "--exit-code", "--dist", "{compared}"),
        None,
        ("service-verta-ml.yaml",),
        2,
        compared=lambda folder: (folder / "dev/verta/service-verta-ml.yaml").write_text(
            "a: !!python/object:os.system {}\n"
        ),
    ),
]


@dataclass
class Fault:
    id: str
    names: tuple[str, ...]
    apply: Callable[[Path, pytest.MonkeyPatch], contextlib.AbstractContextManager[None]]


@contextlib.contextmanager
def _mounted(out: Path, options: str) -> Iterator[None]:
    """A real small file system at `out` (tmpfs), holding a copy of dist/: a full disk or a read-only one."""
    shutil.rmtree(out)
    out.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(out)], check=True)
    try:
        shutil.copytree(ROOT / "dist", out, dirs_exist_ok=True)
        if "ro" in options.split(","):
            subprocess.run(["mount", "-o", "remount,ro", str(out)], check=True)
        else:  # fill what is left, so the next file cannot be written
            with contextlib.suppress(OSError), open(out / ".filler", "wb") as filler:
                while True:
                    filler.write(b"\0" * 65536)
            (out / ".filler").rename(out / ".filler")  # still there: part of the state that must be unchanged
        yield
    finally:
        subprocess.run(["umount", "-l", str(out)], check=False)


def _can_mount() -> bool:
    probe = Path(os.environ.get("TMPDIR", "/tmp")) / "mount-probe"
    probe.mkdir(exist_ok=True)
    ok = (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True).returncode
        == 0
    )
    if ok:
        subprocess.run(["umount", str(probe)], check=False)
    return ok


def _disk_fault(
    code: int, options: str
) -> Callable[[Path, pytest.MonkeyPatch], contextlib.AbstractContextManager[None]]:
    """A real tmpfs where this machine lets us mount one (it does for root, as CI runs); else the same error raised
    where the file system would raise it, so the behaviour is still asserted."""

    @contextlib.contextmanager
    def apply(out: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        if _can_mount():
            with _mounted(out, options):
                yield
            return
        real_write = Path.write_bytes

        def failing_write(self: Path, data: bytes) -> int:
            raise OSError(code, os.strerror(code), str(self))

        monkeypatch.setattr(Path, "write_bytes", failing_write)
        monkeypatch.setattr(os, "link", lambda *a: (_ for _ in ()).throw(OSError(code, os.strerror(code))))
        yield
        monkeypatch.setattr(Path, "write_bytes", real_write)

    return apply


@contextlib.contextmanager
def _lock_held(out: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Another synth is writing the same folder (a second process holds the lock)."""
    holder = subprocess.Popen(
        [
            "python3",
            "-c",
            "import fcntl,os,sys,time; fd=os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
            str(out),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    try:
        yield
    finally:
        holder.kill()
        holder.wait()


@contextlib.contextmanager
def _rename_fails(out: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The last swap (dist/argocd/dev, after dist/dev) cannot be made: the one already made must be put back."""
    rename = output._rename
    made: list[Path] = []

    def broken(source: Path, target: Path) -> None:
        if source.name.startswith(".dev-new-") and source.parent.name == "argocd":
            assert made, "dist/dev was swapped in first"
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(target))
        if source.name.startswith(".dev-new-"):
            made.append(target)
        rename(source, target)

    monkeypatch.setattr(output, "_rename", broken)
    yield


FAULTS = [
    Fault("disk-full", ("No space left on device",), _disk_fault(errno.ENOSPC, "rw")),
    Fault("read-only", ("Read-only file system",), _disk_fault(errno.EROFS, "ro")),
    Fault("locked-by-another-synth", ("another synth is writing",), _lock_held),
    Fault("last-swap-fails", ("Permission denied", "argocd/dev"), _rename_fails),
]


@pytest.fixture(scope="module")
def dist_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("committed") / "dist"
    shutil.copytree(ROOT / "dist", copy)
    return copy


@pytest.fixture(scope="module")
def shared_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder every case points --out at: nothing may change it (each case hashes it before and after),
    so one copy serves them all."""
    out = tmp_path_factory.mktemp("out") / "dist"
    shutil.copytree(ROOT / "dist", out)
    return out


# The cases that keep the default (fast) engine: a construct's mistake raised in a render worker, and one found by
# the whole-output checks over the workers' objects. The others render in this process with the plain engine (which
# gives the same objects and errors, tests/test_engines.py): a synth starts its engine before it reads the settings,
# and for a settings mistake that start (a worker importing cdk8s, then killed) would be most of the case's time.
FAST_ENGINE_CASES = frozenset({"validate-construct-rule", "host-claimed-twice"})


def _run(argv: list[str], capsys: pytest.CaptureFixture[str], *, engine: str = "plain") -> tuple[int, str]:
    if argv and argv[0] in ("synth", "validate", "diff") and "--engine" not in argv:
        argv = [*argv, "--engine", engine]
    try:
        code = main.main(argv)
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.err + captured.out


def _assert_one_clear_message(text: str, names: tuple[str, ...]) -> None:
    assert "Traceback" not in text, text
    assert SECRET not in text, f"a credential was echoed:\n{text}"
    for name in names:
        assert name in text, f"the message does not name {name!r}:\n{text}"
    assert all(len(line) < 1000 for line in text.splitlines()), "a value was not shortened"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gets_one_clear_message_and_changes_nothing(
    case: Case,
    tmp_path: Path,
    dist_copy: Path,
    shared_out: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    environments = tmp_path / "environments"
    shutil.copytree(ENVIRONMENTS_DIR, environments)
    if case.edit is not None:
        case.edit(environments)
    monkeypatch.setenv("ENVIRONMENTS_DIR", str(environments))
    monkeypatch.delenv("CDK8S_OUTDIR", raising=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    for name, value in case.env.items():
        monkeypatch.setenv(name, value.replace("{tmp}", str(empty)))
    out = shared_out
    before = (tree_digest(out), tree_digest(ROOT / "dist"), tree_digest(dist_copy))
    compared = tmp_path / "compared"
    if case.compared is not None:
        shutil.copytree(dist_copy, compared)
        case.compared(compared)
    argv = [
        arg.replace("{out}", str(out)).replace("{dist}", str(dist_copy)).replace("{compared}", str(compared))
        for arg in case.argv
    ]

    code, text = _run(argv, capsys, engine="fast" if case.id in FAST_ENGINE_CASES else "plain")

    assert code == case.exit_code, text
    _assert_one_clear_message(text, case.names)
    assert (tree_digest(out), tree_digest(ROOT / "dist"), tree_digest(dist_copy)) == before, "output changed"


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.id for fault in FAULTS])
def test_a_write_fault_leaves_the_output_as_it_was(
    fault: Fault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A changed setting, so that new files must be written (unchanged ones are only linked, which a full disk
    allows), and the write fails."""
    environments = tmp_path / "environments"
    shutil.copytree(ENVIRONMENTS_DIR, environments)
    _set("dev", "core_pipeline.log_level", "info")(environments)
    monkeypatch.setenv("ENVIRONMENTS_DIR", str(environments))
    out = tmp_path / "dist"
    shutil.copytree(ROOT / "dist", out)
    with fault.apply(out, monkeypatch):
        before = tree_digest(out)
        # One stack of one environment: the changed ConfigMap must be written, the rest is linked.
        code, text = _run(["synth", "--env", "dev", "--stack", "core-pipeline", "--out", str(out)], capsys)
        assert code == 1, text
        _assert_one_clear_message(text, fault.names)
        assert "nothing was written" in text
        assert tree_digest(out) == before


def test_the_table_is_large_enough() -> None:
    assert len(CASES) + len(FAULTS) >= 60


def test_a_failed_synth_into_a_new_folder_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environments = tmp_path / "environments"
    shutil.copytree(ENVIRONMENTS_DIR, environments)
    _set("dev", "verta.ingress.hosts", ["core-pipeline-dev.example.com"])(environments)  # found only by a render
    monkeypatch.setenv("ENVIRONMENTS_DIR", str(environments))
    out = tmp_path / "new" / "dist"
    (tmp_path / "new").mkdir()
    code, text = _run(["synth", "--env", "dev", "--out", str(out)], capsys)
    assert code == 1, text
    _assert_one_clear_message(text, ("both route",))
    assert list((tmp_path / "new").iterdir()) == [], "neither the output folder nor its argocd/ folder is left"


@pytest.mark.parametrize("kind", ["file", "symlink"])
def test_an_environment_path_that_is_a_file_or_a_link_is_replaced_cleanly(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """dist/<env> is rendered output: whatever stands in its place is replaced by the render, with nothing left
    beside it (the old entry is removed whatever it was)."""
    out = tmp_path / "dist"
    shutil.copytree(ROOT / "dist", out)
    shutil.rmtree(out / "dev")
    if kind == "file":
        (out / "dev").write_text("not a folder\n")
    else:
        (tmp_path / "elsewhere").mkdir()
        (out / "dev").symlink_to(tmp_path / "elsewhere")
    code, text = _run(["synth", "--env", "dev", "--out", str(out)], capsys)
    assert code == 0, text
    assert (out / "dev").is_dir() and not (out / "dev").is_symlink()
    assert sorted(p.name for p in out.iterdir()) == ["argocd", "dev", "prod", "staging", "test"]
    assert [p for p in out.rglob(".*")] == []
    if kind == "symlink":
        assert (tmp_path / "elsewhere").is_dir(), "the link's target is not touched"
