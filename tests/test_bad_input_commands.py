"""Bad input, third round (issue 23), as a user meets it through the commands: credentials printed by `diff` and by
the image edits, a compared tree whose links lead out of it, the image edits' preview and YAML (anchors, quoting,
a byte order mark), and the command line's own edges (a reader that goes away, TMPDIR, a settings file that cannot
be written, what a folder named as output holds). In-process with `main.main` on copies of environments/ and dist/,
but for a closed pipe, which only a real process shows."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import main
from delivery import diff as diff_module
from delivery.diff import diff_documents, format_markdown, format_text
from delivery.promote import plan_set_image
from delivery.synth import read_rendered_tree
from environment_model.paths import ENVIRONMENTS_DIR, ROOT
from environment_model.settings import load_environment
from environment_model.settings_file import display_name
from tests.test_bad_input import tree_digest
from value_types.credentials import redact_credentials, text_has_credentials

PASSWORD = "Hunter2-pw-9x"
BEARER_TOKEN = "q7Rk2LmX9vT4wPz8"
BASIC_TOKEN = "YXBwOkh1bnRlcjJQYXNz"  # base64 of app:Hunter2Pass
RANDOM_KEY = "3kF9xQ2mZ7pL4vB8nR1tW6yH5jC0dG3sA9eU2iO7"
CONFIG_MAP = "dev/core-pipeline/configmap-core-pipeline-config.yaml"


@pytest.fixture
def environments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of environments/ that the commands read and write (ENVIRONMENTS_DIR)."""
    folder = tmp_path / "environments"
    shutil.copytree(ENVIRONMENTS_DIR, folder)
    monkeypatch.setenv("ENVIRONMENTS_DIR", str(folder))
    # Renders in this process (cdk8s is loaded here already), not in cold render workers.
    monkeypatch.setattr(main, "DEFAULT_ENGINE", "plain")
    return folder


@pytest.fixture
def dist_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "compared" / "dist"
    shutil.copytree(ROOT / "dist", copy, ignore=shutil.ignore_patterns(".*"))  # not a running synth's staging
    return copy


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of one command."""
    if argv[0] in ("synth", "validate", "diff") and "--engine" not in argv:
        argv = [*argv, "--engine", "plain"]
    try:
        code = main.main(argv)
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def edit_text(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# 1. Credentials, wherever they stand


def _plant_credentials(dist: Path) -> None:
    """Credential-shaped values under keys that say nothing of credentials, in a rendered ConfigMap (as a hand edit,
    or another branch's dist/, can hold them)."""
    config_map = dist / CONFIG_MAP
    document = yaml.safe_load(config_map.read_text(encoding="utf-8"))
    document["data"].update(
        {
            "DATABASE_URL": f"postgres://app:{PASSWORD}@db.example.com:5432/core",
            "UPSTREAM_HEADER": f"Authorization: Bearer {BEARER_TOKEN}",
            "PROXY_AUTH": f"Basic {BASIC_TOKEN}",
            "SIGNING": RANDOM_KEY,
            "app.ini": f"[db]\nurl = mysql://root:{PASSWORD}@mysql/app\n[http]\nheader = Bearer {BEARER_TOKEN}\n",
        }
    )
    config_map.write_text(yaml.safe_dump(document), encoding="utf-8")


@pytest.mark.parametrize("output", ["text", "markdown"])
def test_diff_hides_credentials_wherever_they_stand(
    output: str, environments: Path, dist_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _plant_credentials(dist_copy)
    argv = ["diff", "--env", "dev", "--stack", "core-pipeline", "--dist", str(dist_copy), "--format", output]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    for secret in (PASSWORD, BEARER_TOKEN, BASIC_TOKEN, RANDOM_KEY):
        assert secret not in out + err, f"{secret} was printed:\n{out}"
    # What is around a credential is still shown: the reviewer sees which value changed and how.
    assert "postgres://***@db.example.com:5432/core" in out
    assert "Authorization: Bearer <redacted>" in out and "Basic <redacted>" in out
    assert "data.SIGNING: <redacted>" in out


def test_redaction_leaves_the_projects_own_output_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The committed dist/ in a diff that shows every one of its values (each file compared with an emptied one) is
    printed exactly as without redaction: image digests and `checksum/config` annotations are hashes of public
    content, not credentials, and hiding them would hide the change a reviewer must see."""
    tree = read_rendered_tree(ROOT / "dist", [""])
    report = diff_documents({path: {"kind": "Gone"} for path in tree}, tree)
    shown = format_text(report) + format_markdown(report)
    monkeypatch.setattr(diff_module, "redact_credentials", lambda text: text)
    unredacted = format_text(report) + format_markdown(report)
    assert shown == unredacted
    assert redact_credentials(shown) == shown  # what the command line applies to everything it prints
    assert "checksum/config" in shown
    ordinary = [
        "ghcr.io/example-org/core-pipeline@sha256:"
        + "ba53fc146f7b993f75fcf9454dac6d72b03500abfeeda2af22ae8e06881bc8bd",
        "checksum/config: 150d9aa392cdcfe361e447401c694fd04eac137ab4d1c34c785acd762329374c",
        "commit 38da7c600c83e7b31193a62495239a0fe478cb67",
        "00000000-0000-0000-0000-000000000000",
        "IssuerSpecAcmeSolversDns01Route53",
        "toJson_DeviceClassSpecV1Alpha3",
        "kube_horizontalpodautoscaler_status_desired_replicas",
        "https://github.com/example-org/platform-deploy/blob/main/docs/runbooks/core-pipeline.md",
        "Basic auth is off; a Bearer token comes from the Secret",
        "integrity sha512-pL1+qb9HTMRZJmuC/bB/ZI9d302BYrrqiVuRyW+DGrU9z4kYf8e0PzXb3mRkLqV5",
    ]
    for value in ordinary:
        assert redact_credentials(value) == value and not text_has_credentials(value), value
    for value, redacted in [
        (f"postgres://app:{PASSWORD}@db/core", "postgres://***@db/core"),
        (f"Authorization: bearer {BEARER_TOKEN}", "Authorization: bearer <redacted>"),
        (f"Basic {BASIC_TOKEN}", "Basic <redacted>"),
        (f"key={RANDOM_KEY}", "key=<redacted>"),
    ]:
        assert redact_credentials(value) == redacted and redact_credentials(redacted) == redacted
        assert text_has_credentials(value)


@pytest.mark.parametrize(
    "argv",
    [
        ["set-image", "verta", "1.0.0", "--env", "dev", "--image", f"https://deploy:{PASSWORD}@registry.example.com"],
        ["diff", "--env", "dev", "--dist", f"postgres://app:{PASSWORD}@db/missing"],
    ],
    ids=["set-image-error", "diff-error"],
)
def test_error_messages_hide_the_credentials_they_echo(
    argv: list[str], environments: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(argv, capsys)
    assert code == 2
    line = one_line_error(err)
    assert PASSWORD not in out + err and "***@" in line


# 2. A compared tree's links


@pytest.mark.parametrize("link", ["file", "folder"])
def test_diff_refuses_a_link_that_leaves_the_compared_folder(
    link: str, environments: Path, dist_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "service-verta-ml.yaml").write_text("kind: Service\nmetadata: {name: not-for-your-eyes}\n")
    if link == "file":
        linked = dist_copy / "dev/verta/service-verta-ml.yaml"
        linked.unlink()
        linked.symlink_to(outside / "service-verta-ml.yaml")
    else:
        linked = dist_copy / "dev/verta"
        shutil.rmtree(linked)
        linked.symlink_to(outside)
    before = tree_digest(dist_copy)
    code, out, err = run(["diff", "--env", "dev", "--stack", "verta", "--dist", str(dist_copy)], capsys)
    assert code == 2
    line = one_line_error(err)
    assert str(linked) in line and "leads out of" in line and str(outside) in line
    assert "not-for-your-eyes" not in out + err
    assert tree_digest(dist_copy) == before


def test_links_inside_the_compared_folder_are_followed_and_loops_end(dist_copy: Path) -> None:
    scope = ["dev/verta/"]
    expected = read_rendered_tree(ROOT / "dist", scope)
    (dist_copy / "dev/verta").rename(dist_copy / "verta-real")
    (dist_copy / "dev/verta").symlink_to(Path("..") / "verta-real")
    (dist_copy / "verta-real" / "back").symlink_to(Path(".."))  # leads round to dev/verta itself
    assert read_rendered_tree(dist_copy, scope) == expected


# 3. The image edits


@pytest.mark.parametrize(
    "argv",
    [
        ["set-image", "core-pipeline", "1.5.0", "--env", "dev", "--dry-run"],  # the README's example
        ["promote", "verta", "--from", "staging", "--to", "prod", "--dry-run"],
    ],
    ids=["set-image", "promote"],
)
def test_the_preview_compares_only_the_edited_environment(
    argv: list[str], environments: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The preview renders one environment: the fleet, made of all of them, is neither rendered nor compared."""
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert "argocd/fleet" not in out and "ApplicationSet" not in out, out
    env, stack = ("dev", "core-pipeline") if argv[0] == "set-image" else ("prod", "verta")
    changed = [line.split()[2] for line in out.splitlines() if line[:1] in "~+->" and line[1:2] == " "]
    assert changed and all(path.startswith((f"{env}/{stack}/", f"argocd/{env}/")) for path in changed), changed


def _anchor_and_alias(folder: Path) -> int:
    """dev's core-pipeline image anchored and used again as hivemind-bot's; the line of the anchor."""
    dev = folder / "dev.yaml"
    edit_text(
        dev,
        '  image:\n    repository: ghcr.io/example-org/core-pipeline\n    tag: "1.4.0"\n    pull_policy: Always\n',
        '  image: &img {repository: ghcr.io/example-org/core-pipeline, tag: "1.4.0", pull_policy: Always}\n',
    )
    edit_text(
        dev,
        '  image:\n    repository: ghcr.io/example-org/hivemind-bot\n    tag: "2.1.0"\n    pull_policy: Always\n',
        "  image: *img\n",
    )
    return (
        dev.read_text(encoding="utf-8")
        .splitlines()
        .index('  image: &img {repository: ghcr.io/example-org/core-pipeline, tag: "1.4.0", pull_policy: Always}')
        + 1
    )


def _anchor_and_merge(folder: Path) -> int:
    """dev's verta backend image anchored and merged into the frontend's; the line of the anchor."""
    dev = folder / "dev.yaml"
    backend = 'image: {repository: ghcr.io/niekcandaele/verta-backend, tag: "0.9.0", pull_policy: Always}'
    edit_text(dev, backend, backend.replace("image: {", "image: &backend {"))
    edit_text(
        dev,
        'image: {repository: ghcr.io/niekcandaele/verta-frontend, tag: "0.9.0", pull_policy: Always}',
        "image: {<<: *backend, repository: ghcr.io/niekcandaele/verta-frontend}",
    )
    lines = dev.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if "&backend" in line)


@pytest.mark.parametrize(
    ("share", "argv", "setting"),
    [
        (_anchor_and_alias, ["set-image", "hivemind-bot", "2.2.0", "--env", "dev"], "dev.hivemind_bot.image"),
        (_anchor_and_alias, ["set-image", "core-pipeline", "1.5.0", "--env", "dev"], "dev.core_pipeline.image"),
        (_anchor_and_merge, ["set-image", "verta", "1.0.0", "--env", "dev", "--image", "backend"], "verta.backend"),
    ],
    ids=["alias", "anchor", "merge"],
)
def test_an_image_shared_through_an_anchor_is_refused(
    share: Any, argv: list[str], setting: str, environments: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line_of_anchor = share(environments)
    before = tree_digest(environments)
    code, out, err = run(argv, capsys)
    assert code == 2, out
    line = one_line_error(err)
    assert f"dev.yaml:{line_of_anchor}: " in line and setting in line and "anchor &" in line
    assert tree_digest(environments) == before


def test_a_tag_merged_in_from_an_anchor_is_set_where_it_is_used(environments: Path) -> None:
    """The frontend takes its tag from the backend's anchored image: its own tag is written beside the merge, and the
    backend keeps its tag."""
    _anchor_and_merge(environments)
    plan_set_image("verta", "1.0.0", "dev", "frontend").write()
    settings = load_environment("dev").verta
    assert (settings.frontend.image.tag, settings.backend.image.tag) == ("1.0.0", "0.9.0")


@pytest.mark.parametrize("tag", ["on", "yes", "1.10", "2024-01-01"])
def test_a_tag_yaml_would_read_as_another_type_is_quoted(tag: str, environments: Path) -> None:
    dev = environments / "dev.yaml"
    edit_text(dev, 'tag: "1.4.0"', "tag: 1.4.0")  # core-pipeline's tag, unquoted
    before = dev.read_text(encoding="utf-8")
    plan_set_image("core-pipeline", tag, "dev").write()
    after = dev.read_text(encoding="utf-8")
    assert after == before.replace("tag: 1.4.0", f'tag: "{tag}"', 1)
    assert load_environment("dev").core_pipeline.image.tag == tag


def test_a_byte_order_mark_is_kept(environments: Path) -> None:
    dev = environments / "dev.yaml"
    dev.write_bytes(b"\xef\xbb\xbf" + dev.read_bytes())
    before = dev.read_bytes()
    plan_set_image("core-pipeline", "1.5.0", "dev").write()
    assert dev.read_bytes() == before.replace(b'tag: "1.4.0"', b'tag: "1.5.0"', 1)


# 4. The command line and files


@pytest.mark.slow  # runs the script or main.py as a process
def test_a_reader_that_goes_away_is_not_an_error(tmp_path: Path) -> None:
    """`synth | head -1`: the render is written, and a closed stdout ends the command quietly with its own code."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line
    try:
        result = subprocess.run(
            [sys.executable, str(ROOT / "main.py"), "synth", "--env", "dev", "--out", str(tmp_path / "out")],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            timeout=300,
        )
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (0, "")
    assert (tmp_path / "out/dev/core-pipeline/deployment-core-pipeline.yaml").is_file()


def test_a_closed_stdout_in_process_keeps_the_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class ClosedPipe:
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main.main(["list"]) == 0
    assert capsys.readouterr().err == ""


@contextlib.contextmanager
def _read_only_mount(folder: Path, content: Path | None = None) -> Iterator[None]:
    """`folder` as a read-only file system (tmpfs) holding a copy of `content`; skips the test where mounting is not
    allowed."""
    folder.mkdir(exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], capture_output=True).returncode:
        pytest.skip("mounting a file system is not allowed here")
    try:
        if content is not None:
            shutil.copytree(content, folder, dirs_exist_ok=True)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_read_only_settings_file_is_named(environments: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Read-only for its owner (root too: the rename that replaces it would ignore its mode)."""
    dev = environments / "dev.yaml"
    dev.chmod(0o444)
    before = dev.read_bytes()
    code, out, err = run(["set-image", "core-pipeline", "1.5.0", "--env", "dev"], capsys)
    assert code == 2, out
    line = one_line_error(err)
    assert f"{dev}: not writable" in line and ".tmp" not in line
    assert dev.read_bytes() == before and sorted(p.name for p in environments.iterdir() if p.name.startswith(".")) == []


def test_a_settings_file_on_a_read_only_file_system_is_named(
    environments: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mounted = tmp_path / "mounted"
    with _read_only_mount(mounted, environments):
        monkeypatch.setenv("ENVIRONMENTS_DIR", str(mounted))
        code, out, err = run(["set-image", "core-pipeline", "1.5.0", "--env", "dev"], capsys)
    assert code == 2, out
    line = one_line_error(err)
    assert f"{mounted / 'dev.yaml'}: not writable" in line and ".tmp" not in line


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda path: path, "no such folder"),
        (lambda path: path.write_text("a file") and path, "not a folder"),
        (lambda path: path.mkdir() or Path(os.path.relpath(path)), "not an absolute path"),
    ],
    ids=["missing", "a-file", "relative"],
)
@pytest.mark.parametrize(
    "argv", [["validate", "--env", "dev"], ["set-image", "core-pipeline", "1.5.0", "--env", "dev"]]
)
def test_a_bad_tmpdir_is_named_before_anything_starts(
    make: Any,
    problem: str,
    argv: list[str],
    environments: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    temporary = make(tmp_path / "tmp")
    monkeypatch.setenv("TMPDIR", str(temporary))
    before = tree_digest(environments)
    code, out, err = run(argv, capsys)
    assert code == (1 if argv[0] == "validate" else 2) and out == ""
    assert one_line_error(err).startswith(f"error: TMPDIR={temporary}: {problem}")
    assert tree_digest(environments) == before


def test_a_read_only_tmpdir_is_named(
    environments: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mounted = tmp_path / "tmp"
    with _read_only_mount(mounted):
        monkeypatch.setenv("TMPDIR", str(mounted))
        code, _, err = run(["validate", "--env", "dev"], capsys)
    assert code == 1
    assert one_line_error(err).startswith(f"error: TMPDIR={mounted}: not writable")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty; expected one Kubernetes object"),
        (b"- a\n- b\n", "the document is a list; expected one Kubernetes object"),
        (b"kind: Service\n---\nkind: Service\n", "a second YAML document (after '---'); synth writes one object per"),
        (b"a: " + b"x" * (1024 * 1024 + 10) + b"\n", "larger than 1024 KiB; a rendered manifest is a few KiB"),
    ],
    ids=["empty", "list", "two-documents", "huge"],
)
def test_a_rendered_file_is_not_called_a_settings_file(
    content: bytes, expected: str, environments: Path, dist_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (dist_copy / "dev/verta/service-verta-ml.yaml").write_bytes(content)
    code, _, err = run(["diff", "--env", "dev", "--stack", "verta", "--dist", str(dist_copy)], capsys)
    assert code == 2
    line = one_line_error(err)
    assert "service-verta-ml.yaml" in line and expected in line and "settings" not in line


@pytest.mark.parametrize("command", ["synth", "diff"])
def test_a_folder_named_as_output_is_named_for_what_it_holds(
    command: str, environments: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = tmp_path / "package"
    package.mkdir()
    for name in ("__init__.py", "chart.py"):
        (package / name).write_text("")
    option = "--out" if command == "synth" else "--dist"
    for folder, expected in [
        (
            environments,
            f"{option} {environments} is the environments folder: it holds the environment settings files, not rendered output",
        ),
        (package, f"{option} {package} holds Python source (__init__.py, chart.py), not rendered output"),
    ]:
        before = tree_digest(folder)
        code, out, err = run([command, "--env", "dev", option, str(folder)], capsys)
        assert code == (1 if command == "synth" else 2), out
        assert one_line_error(err) == f"error: {expected}; " + (
            "name a folder of its own, such as dist/" if command == "synth" else "name a rendered tree, such as dist/"
        )
        assert tree_digest(folder) == before


def test_windows_line_breaks_are_kept(environments: Path) -> None:
    dev = environments / "dev.yaml"
    dev.write_bytes(b"\xef\xbb\xbf" + dev.read_bytes().replace(b"\n", b"\r\n"))
    before = dev.read_bytes()
    plan_set_image("core-pipeline", "1.5.0", "dev").write()
    assert dev.read_bytes() == before.replace(b'tag: "1.4.0"\r\n', b'tag: "1.5.0"\r\n', 1)


def test_fleet_refusals_name_the_settings_files_read(
    environments: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Settings from ENVIRONMENTS_DIR: a refusal that involves two environments names those two files, not
    environments/ of the project."""
    edit_text(environments / "staging.yaml", "  rollout_step: 2", "  cluster: dev\n  rollout_step: 2")
    code, out, err = run(["synth", "--out", str(tmp_path / "out")], capsys)
    line, written = err.splitlines()
    assert code == 1 and out == "" and written.startswith("nothing was written to ")
    assert f"{display_name(environments / 'dev.yaml')} and {display_name(environments / 'staging.yaml')}" in line
    assert not (tmp_path / "out").exists()
