"""The command line as a user runs it: a real process, real files, real exit codes."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from delivery.argocd_fleet import fleet_application_sets
from delivery.output import FLEET_FOLDER, manifest_files, read_tree
from engine import RenderedEnvironment
from environment_model.paths import ENVIRONMENTS_DIR, ROOT
from environment_model.settings import load_environment

pytestmark = pytest.mark.slow  # whole main.py processes


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture(scope="module")
def fresh_render(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("render") / "dist"
    result = run("synth", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_help_explains_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("synth", "list", "validate", "schema"):
        assert command in result.stdout


def test_list_shows_environments_and_stacks() -> None:
    result = run("list")
    assert result.returncode == 0
    for name in ("dev", "staging", "prod", "core-pipeline"):
        assert name in result.stdout
    assert "Node 20 is end-of-life" not in result.stdout + result.stderr


def test_unknown_environment_exits_2_listing_valid_names() -> None:
    result = run("synth", "--env", "qa")
    assert result.returncode == 2
    assert "invalid choice: 'qa'" in result.stderr
    # The choices are listed quoted up to Python 3.12, bare from 3.13.
    choices = result.stderr.split("choose from", 1)[1].replace("'", "")
    assert all(env in choices for env in ("dev", "prod", "staging", "test")), result.stderr


def test_unknown_stack_exits_2_listing_valid_names() -> None:
    result = run("synth", "--stack", "nope")
    assert result.returncode == 2
    assert "core-pipeline" in result.stderr.split("choose from", 1)[1]


def test_committed_dist_is_current(fresh_render: Path) -> None:
    assert read_tree(fresh_render) == read_tree(ROOT / "dist"), "dist/ is stale: run `make synth` and commit it"


def test_worker_render_equals_the_type_checked_in_process_render(
    fresh_render: Path, rendered: dict[str, RenderedEnvironment]
) -> None:
    """`synth` renders in -O workers that read jsii structs directly (engine.fast_runtime); the session fixture
    renders in-process with jsii's own serialisation and type checks. Both must give the same files."""
    expected = {
        (f"argocd/{env}/{name}" if stack == "argocd" else f"{env}/{stack}/{name}"): text
        for env, stacks in rendered.items()
        for stack, manifests in stacks.items()
        for name, text in manifest_files(manifests).items()
    }
    fleet = fleet_application_sets({env: load_environment(env) for env in rendered})
    expected.update({f"argocd/{FLEET_FOLDER}/{name}": text for name, text in manifest_files(fleet).items()})
    assert read_tree(fresh_render) == expected


def test_two_renders_are_byte_identical(fresh_render: Path, tmp_path: Path) -> None:
    again = tmp_path / "dist"
    assert run("synth", "--out", str(again)).returncode == 0
    assert read_tree(again) == read_tree(fresh_render)
    assert read_tree(again), "the render produced files"


def test_jsii_runs_on_a_supported_node(fresh_render: Path) -> None:
    result = run("synth", "--env", "dev", "--out", str(fresh_render.parent / "node-check"))
    assert result.returncode == 0
    assert "end-of-life" not in result.stderr


def synth_with_prod_settings_edit(
    fresh_render: Path, tmp_path: Path, old: str, new: str
) -> tuple[subprocess.CompletedProcess[str], Path, dict[str, Any]]:
    """Synth into a copy of a good render, with `old` replaced by `new` in a copy of prod.yaml.

    Returns the finished process, the output folder and that folder's files before the run.
    """
    out = tmp_path / "dist"
    shutil.copytree(fresh_render, out)
    environments = tmp_path / "environments"
    shutil.copytree(ENVIRONMENTS_DIR, environments)
    prod = environments / "prod.yaml"
    assert old in prod.read_text()
    prod.write_text(prod.read_text().replace(old, new))
    before = read_tree(out)
    result = run("synth", "--env", "prod", "--out", str(out), env={"ENVIRONMENTS_DIR": str(environments)})
    return result, out, before


def test_bad_settings_exit_1_and_leave_output_untouched(fresh_render: Path, tmp_path: Path) -> None:
    result, out, before = synth_with_prod_settings_edit(fresh_render, tmp_path, "max_replicas: 20", "max_replicas: 1")
    assert result.returncode == 1
    assert "prod.core_pipeline.autoscaling.max_replicas: must be >= min_replicas (3) (got 1)" in result.stderr
    assert read_tree(out) == before


def test_construct_error_exits_1_and_leaves_output_untouched(fresh_render: Path, tmp_path: Path) -> None:
    result, out, before = synth_with_prod_settings_edit(
        fresh_render,
        tmp_path,
        'allow_origins: ["https://app.example.com"]',
        'allow_origins: ["*"]\n      allow_credentials: true',
    )
    assert result.returncode == 1
    assert "WebIngress: prop 'cors.allow_origins' has value '*'" in result.stderr
    assert "nothing was written" in result.stderr
    assert read_tree(out) == before


def test_one_environment_replaces_only_its_folder(fresh_render: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    shutil.copytree(fresh_render, out)
    stale = out / "prod" / "core-pipeline" / "deployment-removed-service.yaml"
    stale.write_text("kind: Deployment\n")
    marker = out / "dev" / "core-pipeline" / "configmap-hand-edit.yaml"
    marker.write_text("kind: ConfigMap\n")
    result = run("synth", "--env", "prod", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert not stale.exists(), "objects that no longer render are removed"
    assert marker.exists(), "other environments are not touched"
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no temporary folders left behind"


def test_an_environment_without_settings_is_removed_only_when_asked(fresh_render: Path, tmp_path: Path) -> None:
    """A settings file that went missing (a bad merge, a typo in ENVIRONMENTS_DIR) must not make an environment
    disappear from dist/ (Argo CD would prune its workloads): its folders are kept and named unless --prune."""
    out = tmp_path / "dist"
    shutil.copytree(fresh_render, out)
    (out / "qa" / "core-pipeline").mkdir(parents=True)
    (out / "qa" / "core-pipeline" / "configmap-x.yaml").write_text("kind: ConfigMap\n")
    (out / "argocd" / "qa").mkdir()
    (out / "argocd" / "qa" / "application-qa-verta.yaml").write_text("kind: Application\n")
    (out / "notes" / "core-pipeline").mkdir(parents=True)  # not what a synth renders: never listed or removed
    (out / "notes" / "todo.txt").write_text("keep me\n")
    result = run("synth", "--env", "dev", "--out", str(out))  # any synth: one environment is enough
    assert result.returncode == 0, result.stderr
    assert (out / "qa" / "core-pipeline" / "configmap-x.yaml").exists()
    assert "kept " in result.stdout and "qa: no settings file for it (`synth --prune` removes it)" in result.stdout
    result = run("synth", "--env", "dev", "--out", str(out), "--prune")
    assert result.returncode == 0, result.stderr
    assert not (out / "qa").exists() and not (out / "argocd" / "qa").exists()
    assert result.stdout.count("pruned ") == 2
    assert (out / "notes" / "todo.txt").read_text() == "keep me\n" and "notes" not in result.stdout
    # The fleet's folder is no environment: never stale, never pruned, and a one-environment synth leaves it.
    assert (out / "argocd" / FLEET_FOLDER).is_dir() and FLEET_FOLDER not in result.stdout
    shutil.rmtree(out / "notes")
    assert read_tree(out) == read_tree(fresh_render)


def cdk8s_cli(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The pinned cdk8s CLI (`make setup` installs it), run from the project as a user runs it."""
    cli = ROOT / "node_modules" / ".bin" / "cdk8s"
    assert cli.exists(), "the cdk8s CLI is installed by `make setup` (npm ci)"
    bin_dir = str(Path(sys.executable).parent)
    path = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    command = [str(cli), "synth", "--no-check-upgrade", *arguments]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env={**os.environ, **path, **(env or {})})


def test_cdk8s_cli_synth_renders_the_same_files(fresh_render: Path, tmp_path: Path) -> None:
    out = tmp_path / "cdk8s.out"  # what cdk8s.yaml names, but outside the project: the test leaves nothing behind
    result = cdk8s_cli("--output", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert read_tree(out) == read_tree(fresh_render)


def test_cdk8s_cli_selects_environments_and_stacks_as_make_synth_does(fresh_render: Path, tmp_path: Path) -> None:
    """SYNTH_ENV and SYNTH_STACK when the CLI runs the app as configured; arguments through `--app`, whose output
    goes to the CLI's folder unless it names another (dist/ the cdk8s way: rendered all or nothing, linked into the
    CLI's folder for it to list)."""
    committed = read_tree(fresh_render)

    def of(*prefixes: str) -> dict[str, str]:
        return {path: text for path, text in committed.items() if path.startswith(prefixes)}

    selected = tmp_path / "selected"
    result = cdk8s_cli("--output", str(selected), env={"SYNTH_ENV": "prod", "SYNTH_STACK": "verta,hivemind-bot"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert read_tree(selected) == of("prod/verta/", "prod/hivemind-bot/", "argocd/prod/")

    app = shlex.join([sys.executable, "main.py", "synth", "--env", "staging", "--out", str(tmp_path / "dist")])
    result = cdk8s_cli("--app", app, "--output", str(tmp_path / "listed"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert read_tree(tmp_path / "dist") == read_tree(tmp_path / "listed") == of("staging/", "argocd/staging/")
    assert "staging/verta/deployment-verta-backend.yaml" in result.stdout, "the CLI lists what was rendered"


def test_a_python_without_the_packages_is_told_what_to_run() -> None:
    """`python3 main.py` outside the virtualenv: one sentence saying what to run, not an import traceback. (`-S`
    leaves out site-packages, as a Python without the project's packages has none of them.)"""
    user_shell = {name: value for name, value in os.environ.items() if not name.startswith("JSII_")}
    result = subprocess.run(
        [sys.executable, "-S", str(ROOT / "main.py"), "list"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=user_shell,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: this Python (")
    # The very command to run instead, with the arguments given (the virtualenv exists; cwd is the project).
    assert result.stderr.rstrip().endswith(f"run `{shlex.join(['.venv/bin/python', str(ROOT / 'main.py'), 'list'])}`")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("missing", "argv"),
    [("pydantic", ["synth", "--env", "dev"]), ("ruamel", ["promote", "verta", "--from", "staging", "--to", "prod"])],
)
def test_a_virtualenv_missing_a_package_is_told_to_set_up(missing: str, argv: list[str]) -> None:
    """A package missing from the virtualenv (pyproject changed since `make setup`): one line, no traceback."""
    program = f"import runpy, sys; sys.modules[{missing!r}] = None; runpy.run_path('main.py', run_name='__main__')"
    result = subprocess.run(
        [sys.executable, "-c", program, *argv], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode in (1, 2) and result.stdout == ""
    assert result.stderr.startswith("error: the virtualenv lacks ") and missing in result.stderr
    assert result.stderr.endswith("run `make setup`, then this command again\n")
    assert "Traceback" not in result.stderr
