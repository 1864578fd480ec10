"""The render cache inside a synth: a cached synth writes the same bytes (or fails with the same message) as
`--no-cache` after any edit, every pair its edit touches is rendered anew, and a synth with every pair cached loads
neither cdk8s nor Node. The store itself is tested in test_render_cache.py."""

from __future__ import annotations

import ast
import os
import random
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

import main
from delivery import render_cache
from delivery.synth_record import previous_synth
from environment_model.paths import ROOT
from environment_model.registry import ARGOCD, STACKS, StackDefinition

# The project's Python packages: what a source edit may touch (imports/ is linked too, for the bindings' digests).
PACKAGES = ("constructs_lib", "value_types", "stacks", "engine", "delivery", "environment_model")
ALL_STACKS = [*STACKS, ARGOCD]


def synth(out: Path, *options: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, dict[str, bytes]]:
    """An in-process `synth` of dev with the plain engine (cdk8s is loaded in this process already): its exit code,
    its messages without the timing line, and the files it wrote."""
    code = main.main(["synth", "--engine", "plain", "--env", "dev", "--out", str(out), *options])
    captured = capsys.readouterr()
    lines = [line for line in (captured.err + captured.out).splitlines() if not line.startswith("rendered ")]
    files = {str(path.relative_to(out)): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}
    return code, "\n".join(line.replace(str(out), "<out>") for line in lines), files


def synth_process(options: list[str], watched: tuple[str, ...]) -> tuple[list[str], float, str]:
    """`main.py synth OPTIONS` as a whole process, as a user runs it (exit 0 asserted): which of the `watched`
    modules it loaded, the CPU seconds of the processes it started and waited for, and what it printed."""
    program = (
        "import resource, runpy, sys\n"
        f"sys.argv = ['main.py', 'synth', *{options!r}]\n"
        "try:\n    runpy.run_path('main.py', run_name='__main__')\n"
        "except SystemExit as exit_:\n    assert exit_.code == 0, exit_.code\n"
        f"print('loaded:', sorted(m for m in {watched!r} if m in sys.modules))\n"
        "children = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print('children:', children.ru_utime + children.ru_stime)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    loaded = next(line for line in lines if line.startswith("loaded: "))
    children = next(line for line in lines if line.startswith("children: "))
    return ast.literal_eval(loaded.removeprefix("loaded: ")), float(children.removeprefix("children: ")), result.stdout


def imported_closure(root: Path, module: str) -> set[Path]:
    """The project files `module` imports, transitively: an oracle read with `ast` (every import statement, at any
    depth, and `import_module("literal")` calls), independent of the cache's own line scan. `from a import b`
    counts a.b as well as a; a package counts as its __init__."""
    seen: set[Path] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        base = root.joinpath(*name.split("."))
        path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        if not path.is_file() or path in seen or path.relative_to(root).parts[0] == "imports":
            continue
        seen.add(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                pending.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                parts = package.split(".") if node.level else []
                anchor = ".".join([*parts[: len(parts) - node.level + 1], *([node.module] if node.module else [])])
                pending.append(anchor)
                pending.extend(f"{anchor}.{alias.name}" for alias in node.names)
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                pending.append(str(node.args[0].value))
        for parent in range(1, len(name.split("."))):  # importing a.b runs a/__init__.py
            pending.append(".".join(name.split(".")[:parent]))
    return seen


def scalar_paths(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(data, dict):
        for key, item in data.items():
            yield from scalar_paths(item, (*path, key))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from scalar_paths(item, (*path, index))
    else:
        yield path


def mutated(value: Any, rng: random.Random) -> Any:
    """Another value of the same YAML type (valid or not: an invalid one must fail alike with and without cache)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + rng.choice([1, 2, -1])
    if isinstance(value, str):
        return value + rng.choice(["x", "-2", "1"])
    return value


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's sources (hard links: an edit replaces a file, never writes through a link) as the
    cache's source root, dev's settings file alone in ENVIRONMENTS_DIR, a cache folder of its own."""
    root = tmp_path / "project"
    for package in (*PACKAGES, "imports"):
        shutil.copytree(ROOT / package, root / package, copy_function=os.link, ignore=shutil.ignore_patterns("*.pyc"))
    os.link(ROOT / "main.py", root / "main.py")  # the synth record's key follows main.py's imports
    (tmp_path / "environments").mkdir()
    shutil.copy(ROOT / "environments" / "dev.yaml", tmp_path / "environments" / "dev.yaml")
    monkeypatch.setenv("ENVIRONMENTS_DIR", str(tmp_path / "environments"))
    monkeypatch.setenv("RENDER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(render_cache, "ROOT", root)
    return root


def record_of(out: Path, stack: StackDefinition) -> list[str] | None:
    """The summary a dev synth of `stack` into `out` would print without rendering (synth_record), if any."""
    folder = render_cache.cache_folder()
    assert folder is not None
    index = render_cache.source_index(folder)
    toolchain = render_cache.toolchain_versions()
    return previous_synth(folder, ["dev"], [stack], out, index=index, toolchain=toolchain).summary


def found(stack: StackDefinition) -> set[str]:
    """The stacks of a dev synth of `stack` (with Argo CD's) the cache holds now."""
    folder = render_cache.cache_folder()
    assert folder is not None
    cached = render_cache.look_up(["dev"], [stack, ARGOCD], folder)
    return {name for _, name in cached.found}


def test_random_edits_give_the_same_bytes_as_no_cache_and_miss_every_pair_they_touch(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(13)
    settings_path = tmp_path / "environments" / "dev.yaml"
    # The installed distributions as the cache reads them (dist-info folder names), in a folder a step may edit.
    site = tmp_path / "site-packages"
    for folder in {sysconfig.get_paths()[kind] for kind in ("purelib", "platlib")}:
        for entry in Path(folder).glob("*.dist-info"):
            (site / entry.name).mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr(sysconfig, "get_paths", lambda: {"purelib": str(site), "platlib": str(site)})
    chart_modules = [other.chart.partition(":")[0] for other in ALL_STACKS]
    for step in range(6):
        stack = rng.choice(STACKS)
        kind = (
            ["settings", "source", "version"][step % 3] if step < 3 else rng.choice(["settings", "source", "version"])
        )
        # The pairs stored before the edit (rendered now if an earlier edit touched them), so that a miss is the edit's.
        synth(tmp_path / f"before-{step}", "--stack", stack.name, capsys=capsys)
        stored = found(stack)
        # A folder this stack was last rendered into before the edit: the synth record of that render is there.
        assert synth(tmp_path / f"same-{stack.name}", "--stack", stack.name, capsys=capsys)[0] == 0
        assert record_of(tmp_path / f"same-{stack.name}", stack) is not None
        must_miss: set[str] = set()
        if kind == "settings":
            valid_settings = settings_path.read_text()
            data = yaml.safe_load(valid_settings)
            path = rng.choice(list(scalar_paths(data[stack.settings_field])))
            holder = data[stack.settings_field]
            for part in path[:-1]:
                holder = holder[part]
            holder[path[-1]] = mutated(holder[path[-1]], rng)
            settings_path.write_text(yaml.safe_dump(data, sort_keys=False))
            # Argo CD's objects name each stack's namespace, and nothing else of its section.
            must_miss = {stack.name, *([ARGOCD.name] if path[0] == "namespace" else [])}
        elif kind == "source":
            closure = imported_closure(project, stack.chart.partition(":")[0])
            candidates = sorted(closure) if rng.random() < 0.7 else sorted(project.glob("*/**/*.py"))
            edited = rng.choice([path for path in candidates if path.parts[len(project.parts)] != "imports"])
            text = edited.read_text(encoding="utf-8")
            edited.unlink()
            edited.write_text(f"{text}\n_EDIT_{step} = {step}\n", encoding="utf-8")
            must_miss = {
                other.name
                for other in (stack, ARGOCD)
                if edited in imported_closure(project, other.chart.partition(":")[0])
            }
        else:  # a package upgraded: its dist-info folder renamed, as pip leaves it
            pinned = rng.choice(sorted(site.glob("*.dist-info")))
            name, _, version = pinned.name.removesuffix(".dist-info").partition("-")
            pinned.rename(site / f"{name}-{version}.post{step}.dist-info")
            must_miss = {stack.name, ARGOCD.name}
        assert must_miss <= stored and not (must_miss & found(stack)), f"step {step}: a {kind} edit left a pair cached"
        synthesised = set().union(*(imported_closure(project, module) for module in ["main", *chart_modules]))
        if kind != "source" or edited in synthesised:
            assert record_of(tmp_path / f"same-{stack.name}", stack) is None, (
                f"step {step}: a {kind} edit kept the record"
            )
        cached = synth(tmp_path / f"cached-{step}", "--stack", stack.name, capsys=capsys)
        fresh = synth(tmp_path / f"fresh-{step}", "--stack", stack.name, "--no-cache", capsys=capsys)
        assert cached == fresh, f"step {step}: {kind} edit of {stack.name}"
        # Over the folder rendered before the edit, the synth record must not stand in for the render either.
        again = synth(tmp_path / f"same-{stack.name}", "--stack", stack.name, capsys=capsys)
        if fresh[0] == 0:
            assert again == fresh, f"step {step}: {kind} edit of {stack.name}, over the folder rendered before it"
        else:  # refused alike, the folder as it was
            assert again[:2] == fresh[:2], (
                f"step {step}: {kind} edit of {stack.name}, over the folder rendered before it"
            )
        if cached[0] == 0:
            assert found(stack) == {stack.name, ARGOCD.name}, "a rendered pair is stored"
        elif kind == "settings":  # refused alike: back to valid settings, so that the next steps render
            settings_path.write_text(valid_settings)


def test_a_synth_with_every_pair_cached_loads_neither_cdk8s_nor_node_and_writes_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RENDER_CACHE", str(tmp_path / "cache"))
    code, _, warm = synth(tmp_path / "warm", capsys=capsys)
    assert code == 0
    loaded, children, stdout = synth_process(
        ["--env", "dev", "--out", str(tmp_path / "out")], ("cdk8s", "jsii", "constructs", "engine.fast")
    )
    assert loaded == [] and children == 0.0, stdout
    assert f"{len(ALL_STACKS)} of {len(ALL_STACKS)} stacks from the cache" in stdout, stdout
    out = tmp_path / "out"
    written = {str(path.relative_to(out)): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}
    assert written == warm
    # The committed dist/ is rendered without the cache: the cached files are those bytes too.
    assert written == {name: (ROOT / "dist" / name).read_bytes() for name in written}


def test_no_cache_renders_every_pair_and_the_summary_counts_the_cached_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RENDER_CACHE", str(tmp_path / "cache"))
    argv = ["synth", "--engine", "plain", "--env", "dev", "--stack", "hivemind-bot", "--out", str(tmp_path / "o")]
    assert main.main(argv) == 0
    assert "0 of 2 stacks from the cache" in capsys.readouterr().out
    assert main.main(argv) == 0
    assert "2 of 2 stacks from the cache" in capsys.readouterr().out
    assert main.main([*argv, "--no-cache"]) == 0
    assert "from the cache" not in capsys.readouterr().out


def test_a_settings_mistake_is_reported_when_the_stack_is_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The settings are validated on every synth: with every pair cached, a mistake elsewhere in the file is still
    reported, and nothing is written."""
    monkeypatch.setenv("RENDER_CACHE", str(tmp_path / "cache"))
    environments = tmp_path / "environments"
    environments.mkdir()
    shutil.copy(ROOT / "environments" / "dev.yaml", environments / "dev.yaml")
    monkeypatch.setenv("ENVIRONMENTS_DIR", str(environments))
    out = tmp_path / "out"
    assert synth(out, "--stack", "hivemind-bot", capsys=capsys)[0] == 0
    before = {path: path.read_bytes() for path in out.rglob("*") if path.is_file()}
    data = yaml.safe_load((environments / "dev.yaml").read_text())
    data["verta"]["replicaz"] = 2  # another stack's section: hivemind-bot's own key is unchanged
    (environments / "dev.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    assert found(next(stack for stack in STACKS if stack.name == "hivemind-bot")) == {"hivemind-bot", "argocd"}  # all
    code, text, _ = synth(out, "--stack", "hivemind-bot", capsys=capsys)
    assert code == 1 and "dev.verta.replicaz: unknown key" in text, text
    assert {path: path.read_bytes() for path in out.rglob("*") if path.is_file()} == before


class RecordedSettings:
    """Settings that record the path of every attribute read through them (sections and values alike)."""

    def __init__(self, value: Any, path: str, reads: set[str]) -> None:
        object.__setattr__(self, "_recorded", (value, path, reads))

    def __getattr__(self, name: str) -> Any:
        value, path, reads = object.__getattribute__(self, "_recorded")
        read = f"{path}.{name}" if path else name
        reads.add(read)
        item = getattr(value, name)
        return RecordedSettings(item, read, reads) if isinstance(item, BaseModel) else item


def test_the_argocd_chart_reads_only_what_its_cache_key_holds() -> None:
    """The cache keys the Argo CD stack on its own section and each stack's namespace (stacks/argocd/reads.py), not
    on the whole file: the chart must read nothing else, or a change to it would leave stale Applications."""
    import cdk8s

    from environment_model.settings import load_environment
    from stacks.argocd.chart import ArgoCdChart
    from stacks.argocd.settings import ArgoCdInputs

    reads: set[str] = set()
    settings = RecordedSettings(load_environment("prod"), "", reads)
    chart = ArgoCdChart(
        cdk8s.Testing.app(), "argocd", ArgoCdInputs(environment="prod", settings=settings, stacks=STACKS)
    )
    cdk8s.Testing.synth(chart)
    keyed = {stack.settings_field for stack in STACKS} | {f"{stack.settings_field}.namespace" for stack in STACKS}
    assert {f"{stack.settings_field}.namespace" for stack in STACKS} <= reads  # the recording works
    assert [read for read in sorted(reads) if read not in keyed and read.split(".")[0] != "argocd"] == []


def test_a_pod_security_change_writes_the_cached_namespaces_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Namespace's Pod Security labels are put on after the cache, from the argocd section the stack's key leaves
    out: with the stack found in the cache, its Namespace still gets the new labels, as with --no-cache."""
    monkeypatch.setenv("RENDER_CACHE", str(tmp_path / "cache"))
    environments = tmp_path / "environments"
    environments.mkdir()
    shutil.copy(ROOT / "environments" / "dev.yaml", environments / "dev.yaml")
    monkeypatch.setenv("ENVIRONMENTS_DIR", str(environments))
    kairoflow = next(stack for stack in STACKS if stack.name == "kairoflow")
    assert synth(tmp_path / "first", "--stack", "kairoflow", capsys=capsys)[0] == 0
    settings = environments / "dev.yaml"
    settings.write_text(settings.read_text().replace("argocd:\n", "argocd:\n  pod_security: {version: v1.28}\n", 1))
    assert "kairoflow" in found(kairoflow), "the stack's own key leaves the argocd section out"
    cached = synth(tmp_path / "cached", "--stack", "kairoflow", capsys=capsys)
    fresh = synth(tmp_path / "fresh", "--stack", "kairoflow", "--no-cache", capsys=capsys)
    assert cached == fresh
    namespaces = [text for name, text in cached[2].items() if name.startswith("dev/kairoflow/namespace-")]
    assert namespaces and all(b"enforce-version: v1.28" in text for text in namespaces)
