"""The render machinery behind `synth`: the one-process jsii kernel, kernels started before the imports, forked
workers, and the bindings each stack declares for them. Each path must give exactly what jsii's own gives."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from constructs_lib.errors import PropsError
from delivery.output import StackFolders, read_tree, write_stack
from engine import Job, Manifest, RenderedEnvironment, RenderError
from engine import fast_runtime as runtime
from engine.fast import RenderPool
from engine.start import fast_engine_problem
from environment_model.paths import ENVIRONMENTS_DIR, ROOT
from environment_model.registry import ARGOCD, STACKS
from tests.failing_chart import FAILING, FailingEnvironment, Outcome
from tests.processes import in_session

pytestmark = pytest.mark.slow  # whole processes
JSII_EMBEDDED = runtime.jsii_embedded_files() or Path("jsii-not-installed")
# The fast engine's own machinery, tested only where it runs: after a jsii or cdk8s bump that turns it off, synth
# renders with the plain engine, and tests/test_engines.py alone fails, saying what to re-check.
fast_engine_only = pytest.mark.skipif(
    fast_engine_problem() is not None, reason="the fast engine is off for this jsii (see tests/test_engines.py)"
)

# API group of a custom resource -> the generated binding (imports/) that builds it.
BINDING_OF_GROUP = {
    "monitoring.coreos.com": "imports.com.coreos.monitoring",
    "traefik.io": "imports.io.traefik",
    "cert-manager.io": "imports.io.cert_manager",
    "external-secrets.io": "imports.io.external_secrets",
    "argoproj.io": "imports.io.argoproj",
}


@fast_engine_only
def test_the_kernel_copy_is_jsiis_program_with_its_two_edits(tmp_path: Path) -> None:
    folder = tmp_path / "kernel"
    assert runtime._copy_kernel_program(JSII_EMBEDDED, folder)
    original = (JSII_EMBEDDED / "lib__program.js").read_bytes()
    copied = (folder / "lib" / "program.js").read_bytes()
    edited = original
    for text, replacement, times in runtime._KERNEL_PROGRAM_EDITS:
        assert original.count(text) == times, "jsii changed: re-check the edits in engine/fast_runtime.py"
        edited = edited.replace(text, replacement)
    assert copied == edited != original
    # The index worker the program starts from its own folder is there too.
    assert (folder / "lib" / "runtime-index-worker.js").read_bytes() == (
        JSII_EMBEDDED / "lib__runtime-index-worker.js"
    ).read_bytes()


def test_a_kernel_program_without_the_fd3_channel_is_not_copied(tmp_path: Path) -> None:
    embedded = tmp_path / "embedded"
    embedded.mkdir()
    (embedded / "lib__program.js").write_text("new SyncStdio({readFD:0,writeFD:1})")
    assert not runtime._copy_kernel_program(embedded, tmp_path / "kernel")
    assert not (tmp_path / "kernel").exists()


def without_jsii_settings(**env: str) -> dict[str, str]:
    """This environment without the JSII_* variables this test session set (so a process chooses its own), plus
    `env`."""
    return {**{key: value for key, value in os.environ.items() if not key.startswith("JSII_")}, **env}


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=without_jsii_settings(**env),
        check=False,
    )


@fast_engine_only
def test_jsii_runs_its_kernel_in_one_node_process() -> None:
    result = run_python(
        """
        import os
        from engine import use_bundled_node
        from engine.fast_runtime import run_jsii_kernel_directly
        from tests.processes import children
        use_bundled_node()
        run_jsii_kernel_directly()
        import cdk8s
        cdk8s.App()
        kernels = [pid for pid, command in children(os.getpid()) if "node" in command]
        nested = [pid for pid, _ in children(os.getpid()) if children(pid)]
        print(len(kernels), len(nested), os.environ["JSII_RUNTIME"])
        """
    )
    assert result.returncode == 0, result.stderr
    kernels, nested, entry = result.stdout.strip().split(" ", 2)  # the path last: it may hold spaces
    assert entry == str(ROOT / "engine" / "jsii_kernel.js")
    assert (kernels, nested) == ("1", "0"), "one Node process, which starts no other"


# A chart that makes jsii take each of its paths: structs nested in structs, maps, enums, IntOrString and Quantity
# objects, a Python override that Node calls back while an object is created, an invoke whose answer holds a
# reference, and a create that Node refuses.
_EVERY_JSII_PATH = """
    import json, sys
    from engine import use_bundled_node
    from engine.fast_runtime import run_jsii_kernel_directly, speed_up_jsii_calls
    use_bundled_node()
    run_jsii_kernel_directly()
    import cdk8s, jsii
    import cdk8s_plus_27 as kplus
    from cdk8s_plus_27 import k8s
    if sys.argv[1] == "short":
        speed_up_jsii_calls()
        assert jsii.create.__sped_up__ and jsii.invoke.__func__ is jsii._kernel.Kernel.invoke

    class Named(cdk8s.Chart):
        def generate_object_name(self, api_object):
            return f"named-{api_object.kind.lower()}"

    chart = Named(cdk8s.App(), "chart", labels={"team": "a"}, namespace="n")
    k8s.KubeConfigMap(chart, "config", data={"a": "1", "b": ""})
    k8s.KubeDeployment(
        chart,
        "deployment",
        metadata=k8s.ObjectMeta(name="d", annotations={"x": "y"}),
        spec=k8s.DeploymentSpec(
            selector=k8s.LabelSelector(match_labels={"app": "d"}),
            strategy=k8s.DeploymentStrategy(
                rolling_update=k8s.RollingUpdateDeployment(max_surge=k8s.IntOrString.from_string("25%"))
            ),
            template=k8s.PodTemplateSpec(
                spec=k8s.PodSpec(
                    containers=[
                        k8s.Container(
                            name="c",
                            ports=[k8s.ContainerPort(container_port=80)],
                            resources=k8s.ResourceRequirements(limits={"cpu": k8s.Quantity.from_string("1")}),
                        )
                    ]
                )
            ),
        ),
    )
    kplus.Service(chart, "service", ports=[kplus.ServicePort(port=80, protocol=kplus.Protocol.UDP)])
    print(chart.node.find_child("config").node.path)
    try:
        k8s.KubeConfigMap(chart, "config")
    except Exception as error:
        print(type(error).__name__, str(error).splitlines()[0])
    print(json.dumps(chart.to_json(), sort_keys=True))
"""


@fast_engine_only
def test_the_short_way_of_jsii_calls_gives_what_jsiis_own_gives() -> None:
    """engine/fast_runtime.py speed_up_jsii_calls: every path of a jsii call, taken the short way and jsii's own."""
    own, short = (
        subprocess.run(
            [sys.executable, "-O", "-c", textwrap.dedent(_EVERY_JSII_PATH), way],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=without_jsii_settings(),
            check=False,
            timeout=120,
        )
        for way in ("own", "short")
    )
    assert own.returncode == short.returncode == 0, own.stderr + short.stderr
    assert short.stdout == own.stdout
    lines = own.stdout.splitlines()
    assert lines[0] == "chart/config"
    assert "There is already a Construct with name 'config'" in lines[1]
    objects = json.loads(lines[2])
    assert [item["metadata"]["name"] for item in objects] == ["named-configmap", "d", "named-service"]
    assert objects[2]["spec"]["ports"][0]["protocol"] == "UDP"


def test_an_explicit_jsii_runtime_is_kept() -> None:
    result = run_python(
        "from engine.fast_runtime import run_jsii_kernel_directly; run_jsii_kernel_directly(); "
        "import os; print(os.environ['JSII_RUNTIME'])",
        JSII_RUNTIME="/somewhere/jsii-runtime.js",
    )
    assert result.stdout.strip() == "/somewhere/jsii-runtime.js"


def jsiis_own_runtime(folder: Path) -> Path:
    """jsii's relay entry point laid out as jsii itself lays it out before starting Node."""
    import jsii._embedded.jsii as embedded

    for resource, target in embedded.EMBEDDED_FILES.items():
        (folder / target).parent.mkdir(parents=True, exist_ok=True)
        (folder / target).write_bytes((JSII_EMBEDDED / resource).read_bytes())
    return folder / embedded.EMBEDDED_FILES[embedded.ENTRYPOINT]


def test_synth_through_jsiis_own_relay_writes_the_same_files(tmp_path: Path) -> None:
    """The one-process kernel (and its patched copy) against jsii's own two-process start, through main.py."""
    from delivery.output import read_tree

    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    synth = [sys.executable, str(ROOT / "main.py"), "synth", "--env", "prod", "--out"]
    clean = without_jsii_settings()
    relay = without_jsii_settings(JSII_RUNTIME=str(jsiis_own_runtime(tmp_path / "jsii")))
    assert subprocess.run([*synth, str(ours)], cwd=ROOT, env=clean, capture_output=True).returncode == 0
    assert subprocess.run([*synth, str(theirs)], cwd=ROOT, env=relay, capture_output=True).returncode == 0
    assert read_tree(ours) == read_tree(theirs)
    assert read_tree(ours)


@fast_engine_only
@pytest.mark.parametrize("prestarted", [True, False], ids=["prestarted-kernel", "kernel-started-after-fork"])
def test_both_ways_a_worker_gets_its_kernel_render_what_the_tests_render(
    prestarted: bool, rendered: dict[str, RenderedEnvironment]
) -> None:
    """A worker adopts a kernel that loaded the assemblies while the imports ran, or (when this jsii lacks what
    that needs) imports the modules itself, starting a kernel of its own. Here without forking: worker 1 of 2."""
    result = run_python(
        f"""
        import json
        from engine import Job, use_bundled_node
        from engine.fast_runtime import run_jsii_kernel_directly
        use_bundled_node()
        run_jsii_kernel_directly()
        from engine import fast_worker as render_worker, prestarted_kernels
        from environment_model.registry import STACKS
        if not {prestarted}:
            prestarted_kernels.available = lambda: False
        kernels = render_worker._import_for_workers(
            2, [*render_worker.PRELOADED, *STACKS[0].modules()]
        )
        kernels.adopt(1)
        from engine.plain import render_jobs
        from delivery.sync_waves import assign_sync_waves
        from environment_model.settings import load_environment
        settings = STACKS[0].settings_for("prod", load_environment("prod"))
        ((job, manifests),) = render_jobs([Job("prod", STACKS[0], settings)])
        assign_sync_waves(manifests)
        print(json.dumps({{job.stack.name: manifests}}))
        """
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {STACKS[0].name: rendered["prod"][STACKS[0].name]}


@fast_engine_only
def test_an_unused_pool_stops_its_workers() -> None:
    pool = RenderPool(2, STACKS)
    pool.close()
    assert pool._starter is not None and pool._starter.returncode is not None


@pytest.mark.parametrize("stack", [*STACKS, ARGOCD], ids=lambda stack: stack.name)
def test_declared_bindings_are_the_ones_the_stack_renders_with(
    stack: object, rendered: dict[str, RenderedEnvironment]
) -> None:
    name, bindings = stack.name, stack.bindings  # type: ignore[attr-defined]
    groups = {manifest["apiVersion"].partition("/")[0] for stacks in rendered.values() for manifest in stacks[name]}
    # Kubernetes' own groups ("apps", "networking.k8s.io", ...) come from cdk8s-plus-27; any other is a CRD.
    custom = {group for group in groups if "." in group and not group.endswith(".k8s.io")}
    unknown = custom - BINDING_OF_GROUP.keys()
    assert not unknown, f"add the binding of {unknown} to BINDING_OF_GROUP"
    assert set(bindings) == {BINDING_OF_GROUP[group] for group in custom}


@fast_engine_only
@pytest.mark.parametrize(
    ("outcome", "error", "message"),
    [
        ("props error", PropsError, "FailingChart: prop 'outcome'"),
        ("raises", RenderError, "RuntimeError: the chart broke"),
        ("worker dies", RenderError, "a render worker exited with no result"),
    ],
)
def test_a_failing_worker_fails_the_render(
    outcome: Outcome, error: type[Exception], message: str, tmp_path: Path
) -> None:
    """One environment fails while the other worker renders and sends its stack: the render raises the failure
    (a props error as itself, anything else with its traceback), and every process of the pool has ended."""
    environments = {"dev": FailingEnvironment("renders"), "prod": FailingEnvironment(outcome)}
    outputs = {(env, FAILING.name): StackFolders(tmp_path / env, tmp_path / "current" / env) for env in environments}
    pool = RenderPool(2, [FAILING])
    try:
        with pytest.raises(error, match=re.escape(message)):
            render_writing(pool, environments, outputs)
    finally:
        pool.close()
    assert pool._starter is not None and pool._starter.returncode == 0, (
        "the forking process waited for both workers and exited"
    )


def render_writing(
    pool: RenderPool, environments: dict[str, FailingEnvironment], outputs: dict[tuple[str, str], StackFolders]
) -> dict[str, RenderedEnvironment]:
    """The failing stack of each environment, each written as soon as it is rendered, as synth writes."""

    def write(job: Job, manifests: list[Manifest]) -> None:
        write_stack(outputs[job.environment, job.stack.name], manifests)

    jobs = [Job(env, FAILING, FAILING.settings_for(env, settings)) for env, settings in environments.items()]
    return pool.render(jobs, write)


@fast_engine_only
def test_both_workers_stacks_are_written_when_all_render(tmp_path: Path) -> None:
    environments = {env: FailingEnvironment("renders") for env in ("dev", "staging", "prod")}
    outputs = {(env, FAILING.name): StackFolders(tmp_path / env, tmp_path / "current" / env) for env in environments}
    pool = RenderPool(2, [FAILING])
    try:
        rendered = render_writing(pool, environments, outputs)
    finally:
        pool.close()
    assert {env: [m["metadata"]["name"] for m in by_stack["failing"]] for env, by_stack in rendered.items()} == {
        env: ["failing"] for env in environments
    }
    assert sorted(read_tree(tmp_path)) == [f"{env}/configmap-failing.yaml" for env in sorted(environments)]


def test_no_process_outlives_a_synth(tmp_path: Path) -> None:
    """The forking process waits for its workers and their Node processes, and synth waits for it."""
    synth = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "synth", "--env", "dev", "--out", str(tmp_path / "dist")],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        start_new_session=True,  # its own session, which every process it starts stays in
    )
    assert synth.wait() == 0
    assert _processes_in_session(synth.pid) == []


def test_ctrl_c_during_a_synth_ends_every_process_and_leaves_dist_as_it_was(tmp_path: Path) -> None:
    """Ctrl-C at a terminal goes to the foreground process group: synth's, not its render workers' (a group of
    their own), so synth ends them itself and reports the interruption."""
    out = tmp_path / "dist"
    shutil.copytree(ROOT / "dist", out)
    before = read_tree(out)
    synth = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "synth", "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    # Staging folders appear once the settings are loaded, just before the workers are sent their jobs.
    deadline = time.monotonic() + 60
    while not list(out.glob(".*-new-*")) and synth.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(synth.pid, signal.SIGINT)
    _, stderr = synth.communicate(timeout=60)
    if synth.returncode == 0:
        pytest.skip("the synth finished before the interrupt arrived")
    assert synth.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert read_tree(out) == before
    assert not list(out.glob(".*")), "no staging folder is left"
    assert _processes_in_session(synth.pid) == []


@fast_engine_only
@pytest.mark.parametrize("signal_sent", [signal.SIGTERM, signal.SIGINT])
def test_a_render_whose_worker_hangs_stops_on_sigterm_and_ctrl_c(signal_sent: signal.Signals) -> None:
    """A worker that never answers (a chart stuck in a loop) does not keep a synth from stopping: the signal
    interrupts the wait for results, and closing the pool ends the worker, its Node process and the forking
    process."""
    program = textwrap.dedent(
        """
        import signal, sys
        from delivery.interrupts import raise_terminated
        from engine import Job
        from engine.fast import RenderPool
        from tests.failing_chart import FAILING, FailingEnvironment
        signal.signal(signal.SIGTERM, raise_terminated)
        pool = RenderPool(1, [FAILING])
        try:
            print("rendering", flush=True)
            pool.render([Job("dev", FAILING, FAILING.settings_for("dev", FailingEnvironment("hangs")))])
        except KeyboardInterrupt:
            pool.close(stop=True)
            sys.exit(130)
        """
    )
    render = subprocess.Popen(
        [sys.executable, "-c", program], cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert render.stdout is not None and render.stdout.readline() == "rendering\n"
    time.sleep(1.5)  # the worker is in the chart by now (or still starting: a signal then stops it all the same)
    os.kill(render.pid, signal_sent)
    assert render.wait(timeout=20) == 130
    assert _processes_in_session(render.pid) == []


def test_a_synth_killed_at_any_moment_leaves_nothing_the_next_synth_or_git_keeps(tmp_path: Path) -> None:
    """kill -9 and SIGTERM at random moments (seeded) of synths that change every environment. After each kill every
    environment folder is whole (the render before or the render after), the workers left behind end by themselves
    without a traceback, and the next synth removes what the kill left; after the last synth the output is exactly
    its render, with no hidden folder anywhere."""
    variants = {"committed": ENVIRONMENTS_DIR, "changed": tmp_path / "changed"}
    shutil.copytree(ENVIRONMENTS_DIR, variants["changed"])
    for env in ("dev", "staging", "prod"):  # a new ConfigMap in every environment: files to write, not only link
        path = variants["changed"] / f"{env}.yaml"
        settings = yaml.safe_load(path.read_text())
        flags = settings["core_pipeline"].get("feature_flags", {})
        settings["core_pipeline"]["feature_flags"] = {**flags, "killed": True}
        path.write_text(yaml.safe_dump(settings))
    out = tmp_path / "dist"
    shutil.copytree(ROOT / "dist", out)
    seen: list[dict[str, str]] = []
    rng = random.Random(20261125)
    for variant, kill in (("changed", signal.SIGKILL), ("committed", signal.SIGTERM)):
        synth = subprocess.Popen(
            [sys.executable, str(ROOT / "main.py"), "synth", "--out", str(out)],
            cwd=ROOT,
            env={**os.environ, "ENVIRONMENTS_DIR": str(variants[variant])},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        time.sleep(rng.uniform(0.3, 2.0))
        with contextlib.suppress(ProcessLookupError):
            os.kill(synth.pid, kill)
        _, stderr = synth.communicate(timeout=60)  # ends when every process holding its stderr has ended
        assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
        deadline = time.monotonic() + 30
        while _processes_in_session(synth.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _processes_in_session(synth.pid) == [], "a render process outlived its killed synth"
        seen.append(read_tree(out))
    final = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "synth", "--out", str(out)],
        cwd=ROOT,
        env={**os.environ, "ENVIRONMENTS_DIR": str(variants["changed"])},
        capture_output=True,
        text=True,
        check=False,
    )
    assert final.returncode == 0, final.stderr
    assert [p for p in out.rglob(".*")] == [], "a staging or old folder was left"
    after, before = read_tree(out), read_tree(ROOT / "dist")
    for prefix in ("dev/", "staging/", "prod/", "argocd/dev/", "argocd/staging/", "argocd/prod/"):

        def part(tree: dict[str, str], prefix: str = prefix) -> dict[str, str]:
            return {path: text for path, text in tree.items() if path.startswith(prefix)}

        if not prefix.startswith("argocd/"):
            assert part(after) != part(before), f"{prefix}: the change must reach every environment"
        for state in seen:
            assert part(state) in (part(before), part(after)), f"{prefix} was left half-written by a kill"


def test_git_ignores_what_a_killed_synth_leaves(tmp_path: Path) -> None:
    """Until the next synth removes them, staging and old folders at any depth of dist/ stay out of `git add`."""
    for leftover in ("dist/.dev-new-abcd1234/x.yaml", "dist/argocd/.prod-old-abcd1234/x.yaml"):
        checked = subprocess.run(["git", "check-ignore", "--no-index", leftover], cwd=ROOT, capture_output=True)
        assert checked.returncode == 0, f"{leftover} would be committed"
    tracked = subprocess.run(["git", "check-ignore", "--no-index", "dist/dev/verta/service-verta-ml.yaml"], cwd=ROOT)
    assert tracked.returncode == 1


def _processes_in_session(session: int) -> list[str]:
    """Processes of a session still alive (zombies not yet reaped by init count as ended)."""
    return [str(pid) for pid, _ in in_session(session)]


@fast_engine_only
def test_a_stopped_pool_leaves_no_temporary_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers ended with SIGKILL (a failed or interrupted render) cannot clean up their jsii folders, so the pool's
    temporary folder goes with the pool; one left by a synth killed outright goes with the next pool."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = tmp_path / f"k8s-workloads-render-{dead.pid}-abcd1234"
    (orphan / "jsii-kernel-x").mkdir(parents=True)
    pool = RenderPool(2, [*STACKS, ARGOCD])
    assert not orphan.exists(), "the folder of a synth that is gone is removed"
    time.sleep(1.0)  # the kernels are unpacking assemblies into the pool's folder
    pool.close(stop=True)
    assert list(tmp_path.iterdir()) == []
