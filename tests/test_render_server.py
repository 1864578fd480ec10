"""The render server (engine/render_server.py): the fast engine's workers kept warm between synths. It renders the
same bytes as the plain engine (its kernels warmed up on a synth's jobs first), is never asked when its code is out
of date, a dead one is replaced without an error, a warm-up that fails costs nothing but the warm-up, no pickle of
another user's is loaded on either side, and it exits when idle, when its socket is removed, or when a server of
newer code starts beside it."""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import main
from delivery import render_cache
from delivery.output import manifest_files, read_tree
from delivery.render_cache import render_server
from engine import Job, RenderedEnvironment, RenderError
from engine.fast import RenderPool, RenderServer, warm_up_file
from engine.plain import PlainEngine
from environment_model.paths import ROOT
from environment_model.registry import ARGOCD, SETTINGS_MODULE, STACKS
from environment_model.settings import load_environment
from tests.failing_chart import FAILING, FailingEnvironment
from tests.test_render_workers import fast_engine_only

ALL_STACKS = [*STACKS, ARGOCD]
MODULES = tuple(dict.fromkeys([SETTINGS_MODULE, *(module for stack in ALL_STACKS for module in stack.modules())]))


def listening(path: Path, within: float = 90.0) -> bool:
    """Whether a server answers at `path`, waiting up to `within` seconds for it to start."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
            return True
        except OSError:
            time.sleep(0.1)
        finally:
            probe.close()
    return False


def exited(server: subprocess.Popen[bytes], within: float = 15.0) -> bool:
    try:
        server.wait(timeout=within)
    except subprocess.TimeoutExpired:
        return False
    return True


@pytest.fixture
def socket_folder() -> Iterator[Path]:
    """A short folder for sockets (a Unix socket's path is at most 108 bytes; pytest's tmp_path can be longer)."""
    folder = Path(tempfile.mkdtemp(prefix="rs-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder)


@pytest.fixture
def started(socket_folder: Path) -> Iterator[tuple[RenderServer, subprocess.Popen[bytes]]]:
    """A server of this code, started as RenderServer.start starts one (not detached: the test waits for it)."""
    yield from _server(socket_folder)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RenderServer, subprocess.Popen[bytes]]]:
    """One server for the tests that only render through it (starting one takes a few seconds), its kernels warmed
    up on staging's stacks, as after a synth of all environments."""
    folder = Path(tempfile.mkdtemp(prefix="rs-", dir="/tmp"))
    try:
        yield from _server(folder, warm_up=jobs_of(["staging"]))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _server(folder: Path, warm_up: list[Job] | None = None) -> Iterator[tuple[RenderServer, subprocess.Popen[bytes]]]:
    server = RenderServer(folder / "server-a.sock", MODULES, idle_seconds=120)
    if warm_up is not None:  # as RenderServer.start leaves them
        warm_up_file(server.socket).write_bytes(pickle.dumps(warm_up))
    process = subprocess.Popen(server.command(), cwd=ROOT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        assert listening(server.socket), "the server did not start"
        assert not warm_up_file(server.socket).exists(), "the server takes its warm-up jobs"
        yield server, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def jobs_of(environments: list[str]) -> list[Job]:
    settings = {env: load_environment(env) for env in environments}
    return [Job(env, stack, stack.settings_for(env, settings[env])) for env in environments for stack in ALL_STACKS]


def render(pool: RenderPool, environments: list[str]) -> dict[str, RenderedEnvironment]:
    try:
        return pool.render(jobs_of(environments))
    finally:
        pool.close()


def files(rendered: dict[str, RenderedEnvironment]) -> dict[str, str]:
    return {
        f"{env}/{stack}/{name}": text
        for env, by_stack in rendered.items()
        for stack, manifests in by_stack.items()
        for name, text in manifest_files(manifests).items()
    }


@fast_engine_only
def test_a_warm_server_renders_what_the_plain_engine_renders(
    shared: tuple[RenderServer, subprocess.Popen[bytes]],
) -> None:
    server, process = shared
    expected = files(PlainEngine().render(jobs_of(["dev", "prod"])))
    for round_ in range(2):  # the kernels used by the first round are replaced for the second
        pool = RenderPool(2, STACKS, server=server)
        assert pool.warm, f"round {round_}: the server did not give the workers"
        assert files(render(pool, ["dev", "prod"])) == expected
    assert process.poll() is None, "the server serves the next synth"


@fast_engine_only
def test_a_warm_up_that_kills_its_worker_leaves_the_server_serving(socket_folder: Path) -> None:
    """A warm-up only saves time: a standby that dies warming up is replaced by one that does not warm up."""
    dies = [Job("prod", FAILING, FAILING.settings_for("prod", FailingEnvironment("worker dies")))]
    with contextlib.contextmanager(_server)(socket_folder, warm_up=dies) as (server, process):
        # The first standbys die warming up; their replacements do not warm up, so they stay (no loop of deaths).
        deadline = time.monotonic() + 60
        seen: set[int] = set()
        while (len(now := standbys(process.pid)) != 2 or now != seen) and time.monotonic() < deadline:
            seen = now
            time.sleep(1.5)  # longer than the server takes to notice a death and replace the standby
        assert len(seen) == 2 and standbys(process.pid) == seen, "the standbys settle, without a warm-up"
        pool = RenderPool(2, STACKS, server=server)
        assert pool.warm
        assert set(render(pool, ["dev"])["dev"]) == {stack.name for stack in ALL_STACKS}
        assert process.poll() is None


def standbys(server: int) -> set[int]:
    """The server's forked workers (its other children are Node kernels)."""
    children = subprocess.run(["pgrep", "-P", str(server)], capture_output=True, text=True).stdout.split()
    return {int(pid) for pid in children if "engine.render_server" in Path(f"/proc/{pid}/cmdline").read_text()}


class Hostile:
    """A pickle that creates `marker` when it is loaded: what another user could leave or send to run code as us."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.marker), "w")


@fast_engine_only
def test_a_server_loads_no_pickle_another_user_leaves_or_sends(socket_folder: Path) -> None:
    """The server unpickles the warm-up file and each connection's jobs: from this user only. Run here as a server
    that takes itself for another user (its os.getuid changed), so this process and its files are the stranger's."""
    server = RenderServer(socket_folder / "server-a.sock", MODULES, idle_seconds=120)
    left, sent = socket_folder / "left", socket_folder / "sent"
    warm_up_file(server.socket).write_bytes(pickle.dumps(Hostile(left)))
    program = f"import os, sys; os.getuid = lambda: {os.getuid() + 1}; from engine.render_server import main; "
    program += "main(sys.argv[1:])"
    command = [*server.command()[:2], "-c", program, *server.command()[4:]]
    process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        assert listening(server.socket)
        assert stat.S_IMODE(server.socket.stat().st_mode) == 0o600, "only its user may connect"
        stranger = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with stranger:
            stranger.connect(str(server.socket))
            stranger.sendall(pickle.dumps([Hostile(sent)]))
            stranger.shutdown(socket.SHUT_WR)
            stranger.settimeout(30)
            try:
                answer = stranger.recv(1)
            except ConnectionResetError:  # closed with the pickle unread
                answer = b""
            assert answer == b"", "the server closes a stranger's connection unanswered"
        time.sleep(1)  # as long as a standby would need to load a pickle it had been handed
        assert not left.exists() and not sent.exists(), "no stranger's pickle was loaded"
        assert not warm_up_file(server.socket).exists(), "the stranger's warm-up file is removed"
        assert process.poll() is None
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@fast_engine_only
def test_a_synth_trusts_no_server_another_user_runs(
    shared: tuple[RenderServer, subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a server sends back is unpickled: a server of another user's (this one, as seen by a process that takes
    itself for another user) is never asked, and the synth renders cold."""
    server, _ = shared
    monkeypatch.setattr(os, "getuid", lambda: os.geteuid() + 1)
    pool = RenderPool(1, STACKS, server=RenderServer(server.socket, MODULES, start_after_cold_render=False))
    assert not pool.warm
    pool.close(stop=True)


@fast_engine_only
def test_an_interrupted_render_leaves_the_server_serving(shared: tuple[RenderServer, subprocess.Popen[bytes]]) -> None:
    server, process = shared
    pool = RenderPool(2, STACKS, server=server)
    pool.close(stop=True)  # as a Ctrl-C before the jobs were sent
    pool = RenderPool(1, STACKS, server=server)
    assert pool.warm and set(render(pool, ["dev"])["dev"]) == {stack.name for stack in ALL_STACKS}
    assert process.poll() is None


@fast_engine_only
def test_a_dead_servers_socket_renders_cold_and_a_new_server_takes_its_place(socket_folder: Path) -> None:
    path = socket_folder / "server-a.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))  # a server killed outright leaves its socket file, and nobody answers
    dead.close()
    server = RenderServer(path, MODULES, idle_seconds=1)
    pool = RenderPool(1, STACKS, server=server)
    assert not pool.warm
    assert set(render(pool, ["dev"])["dev"]) == {stack.name for stack in ALL_STACKS}
    # Started detached once the cold render closed, it replaces the dead socket, then exits when idle (1 s).
    assert listening(path), "no server took the dead one's place"
    deadline = time.monotonic() + 30
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not path.exists(), "an idle server exits and removes its socket"


@fast_engine_only
def test_a_server_exits_when_its_socket_is_removed_or_a_server_of_newer_code_starts(
    started: tuple[RenderServer, subprocess.Popen[bytes]], socket_folder: Path
) -> None:
    server, process = started
    newer = RenderServer(socket_folder / "server-b.sock", MODULES, idle_seconds=120)
    other = subprocess.Popen(newer.command(), cwd=ROOT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        assert listening(newer.socket)
        assert exited(process), "the server of older code exits once a newer one starts beside it"
        assert not RenderPool(1, STACKS, server=server).warm, "and nobody asks it any more"
        newer.socket.unlink()
        assert exited(other), "a server whose socket is removed exits"
    finally:
        if other.poll() is None:
            os.killpg(other.pid, signal.SIGKILL)
            other.wait()


def test_the_servers_address_follows_the_code_and_is_off_in_tests(
    tmp_path: Path, socket_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert render_server() is None, "the tests turn it off (RENDER_SERVER=off)"
    monkeypatch.delenv("RENDER_SERVER")  # as for a user, outside CI (whatever runs these tests)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("RENDER_CACHE", "off")
    assert render_server() is None, "nor with the cache off"
    monkeypatch.setenv("RENDER_CACHE", str(socket_folder))
    root = tmp_path / "project"
    for package in ("constructs_lib", "value_types", "stacks", "engine", "delivery", "environment_model", "imports"):
        shutil.copytree(ROOT / package, root / package, copy_function=os.link)
    monkeypatch.setattr(render_cache, "ROOT", root)
    first = render_server()
    assert first is not None and first.socket.parent == socket_folder and first.modules == MODULES
    assert render_server() == first, "the same code, the same server"
    edited = root / "constructs_lib" / "app_service.py"
    text = edited.read_text()
    edited.unlink()
    edited.write_text(text + "\n# edited\n")
    second = render_server()
    assert second is not None and second.socket != first.socket, "a server of other code is never asked"
    assert not second.start_after_cold_render, "a synth whose standard input is no terminal starts none"
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    third = render_server()
    assert third is not None and third.start_after_cold_render, "one run from a terminal does"
    monkeypatch.setenv("CI", "true")
    fourth = render_server()
    assert fourth is not None and not fourth.start_after_cold_render, "in CI a server is used, never started"
    monkeypatch.setenv("RENDER_SERVER", "on")
    assert render_server() == third, "unless asked for"


@fast_engine_only
def test_make_synth_starts_a_server_after_a_cold_render_and_the_next_synth_uses_it(
    socket_folder: Path, tmp_path: Path
) -> None:
    """Whole processes, as a user runs `make synth`: the first synth renders cold and leaves a server behind; the
    next one, after a settings edit, renders its changed stack on the server's workers, and writes what a plain
    render writes. Removing the cache folder's socket ends the server."""
    environments = tmp_path / "environments"
    environments.mkdir()
    shutil.copy(ROOT / "environments" / "dev.yaml", environments / "dev.yaml")
    user = {key: value for key, value in os.environ.items() if key != "CI"}
    # A terminal's synth starts a server; this one's standard input is not a terminal, so it asks for one.
    user.update(RENDER_CACHE=str(socket_folder), ENVIRONMENTS_DIR=str(environments), RENDER_SERVER="on")

    def synth(out: Path, *options: str, **env: str) -> str:
        result = subprocess.run(
            [sys.executable, str(ROOT / "main.py"), "synth", "--out", str(out), *options],
            cwd=ROOT,
            env={**user, **env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout + result.stderr

    cold = synth(tmp_path / "out")
    assert "workers from the render server" not in cold
    assert "note: a render server now runs in the background" in cold, "the user is told a process stays"
    deadline = time.monotonic() + 30  # it starts detached, as the synth exits
    while not (sockets := list(socket_folder.glob("server-*.sock"))) and time.monotonic() < deadline:
        time.sleep(0.1)
    (server,) = sockets
    assert listening(server)
    settings = environments / "dev.yaml"
    settings.write_text(settings.read_text().replace('tag: "1.4.0"', 'tag: "1.4.1"', 1))
    warm = synth(tmp_path / "out")
    assert "5 of 6 stacks from the cache" in warm and "workers from the render server" in warm, warm
    with pytest.MonkeyPatch.context() as patch:  # in this process: cdk8s is loaded here already
        patch.setenv("ENVIRONMENTS_DIR", str(environments))
        assert main.main(["synth", "--no-cache", "--engine", "plain", "--out", str(tmp_path / "plain")]) == 0
    assert read_tree(tmp_path / "out") == read_tree(tmp_path / "plain")
    owner = subprocess.run(["pgrep", "-f", str(server)], capture_output=True, text=True).stdout.split()
    server.unlink()
    deadline = time.monotonic() + 15
    while owner and time.monotonic() < deadline:
        owner = [pid for pid in owner if Path(f"/proc/{pid}").exists()]
        time.sleep(0.2)
    assert not owner, "the server exits once its socket is removed"


@fast_engine_only
def test_a_server_worker_that_dies_fails_the_render_saying_how_to_see_why(
    shared: tuple[RenderServer, subprocess.Popen[bytes]],
) -> None:
    """A worker that dies without a result (its messages go nowhere: the server has no terminal) fails the render
    with one line that says how to see them; the server goes on serving."""
    server, process = shared
    pool = RenderPool(1, [FAILING], server=server)
    assert pool.warm
    try:
        with pytest.raises(RenderError, match=re.escape("RENDER_SERVER=off renders with workers whose messages")):
            pool.render([Job("prod", FAILING, FAILING.settings_for("prod", FailingEnvironment("worker dies")))])
    finally:
        pool.close()
    assert process.poll() is None
