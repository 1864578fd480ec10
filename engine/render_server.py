"""The render server: the fast engine's start-up done once and kept, for the synths that follow.

A cold render worker spends about a second before it renders anything: importing cdk8s, cdk8s-plus-27, the
bindings, the constructs and the settings models, and loading the same assemblies into its Node kernel. A synth that
renders one changed stack, or a full synth on two cores, is mostly that second. The server does it once, then keeps
a standby worker per kernel: a process forked after the same imports (as engine/fast_worker.py forks its workers),
that has adopted one of the Node kernels the server keeps loaded (engine/prestarted_kernels.py) and waits for a
connection. Each connection goes to one standby, which reads its share of the jobs from it and sends each stack back
on it, in fast_worker's messages, then exits. Every share gets a process and a kernel no other share used.

A kernel's first render of a stack is about twice as slow as the next: Node compiles each function of cdk8s,
cdk8s-plus-27 and jsii's kernel the first time it runs, and jsii's Python side fills its caches. So a standby first
renders the warm-up jobs (one environment of the synth that started the server, handed over in the file
`server-<hash>.warm-up` beside the socket), throws the objects away, and only then takes a connection; one that
arrives meanwhile ends the warm-up at the next stack. The warm-up's objects stay in that kernel, unused: nothing in
cdk8s or the constructs is shared between Apps, and tests/test_render_server.py compares the bytes with the plain
engine's.

`python -O -m engine.render_server SOCKET IDLE_SECONDS MODULE ...` (started by engine.fast's RenderPool, detached,
once a cold render has ended). The socket's name carries a hash of everything the server imported (the project's
modules, the bindings, the toolchain: delivery/render_cache.render_server), so a server whose code is out of date is
never asked; it exits when it has been idle for IDLE_SECONDS, when its socket is removed, or when a server of newer
code starts in the same folder (which removes the other sockets there).
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import select
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from engine import use_bundled_node
from engine.fast import TEMP_PREFIX, same_user, warm_up_file
from engine.fast_runtime import run_jsii_kernel_directly, speed_up_jsii_serialisation
from engine.fast_worker import PRELOADED, import_modules, serve
from environment_model.paths import read_own_file

if TYPE_CHECKING:  # imported at run time only once Node is set up (prestarted_kernels imports jsii)
    from engine.prestarted_kernels import PrestartedKernels

# Standbys kept, each with a loaded kernel: one per core, as many as a synth asks for workers, but at most 4 (a
# standby and its warmed-up kernel hold about 135 MiB while they wait; on a larger machine a synth's further workers
# get a kernel loading when they connect).
KERNELS = min(os.cpu_count() or 1, 4)
# How often the server looks whether its socket is still its own, and its workers have exited.
_POLL_SECONDS = 1.0


def main(argv: list[str]) -> None:
    path, idle, modules = Path(argv[0]), float(argv[1]), argv[2:]
    warm_up = _take_warm_up(path)
    use_bundled_node()
    run_jsii_kernel_directly()
    from engine import prestarted_kernels

    if not prestarted_kernels.available():
        return
    listener = _listen(path)
    if listener is None:  # a live server listens there already
        return
    own = os.stat(path).st_ino
    for other in path.parent.glob("server-*.sock"):  # servers of other code: they exit when they see it gone
        if other != path:
            with contextlib.suppress(OSError):
                other.unlink()
    temporary = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-")
    os.environ["TMPDIR"] = temporary  # what the kernels unpack: removed when the server exits
    standbys: _Standbys | None = None
    try:
        kernels = prestarted_kernels.PrestartedKernels(KERNELS)
        with kernels.forwarding_loads():
            import_modules([*PRELOADED, *modules])
        gc.freeze()  # as in fast_worker: the forked workers neither scan nor copy the imported objects
        gc.disable()
        standbys = _Standbys(listener, kernels, warm_up)
        _accept(listener, path, own, idle, standbys)
    finally:
        if standbys is not None:
            standbys.close()  # a standby whose handover socket closes exits, and its kernel with it
        listener.close()
        with contextlib.suppress(OSError):
            if os.stat(path).st_ino == own:
                path.unlink()
        shutil.rmtree(temporary, ignore_errors=True)


def _take_warm_up(path: Path) -> bytes | None:
    """The warm-up jobs' pickle the starting synth left, removed once read (the server keeps it). Only a file of
    this user's that nobody else may write is loaded: a pickle runs code when it is loaded."""
    file = warm_up_file(path)
    try:
        content = read_own_file(file)
    except OSError:
        content = b""
    with contextlib.suppress(OSError):
        file.unlink()
    return content or None


def _listen(path: Path) -> socket.socket | None:
    """A socket listening at `path`; None if a server answers there already. A socket file nobody answers (a
    server that was killed) is replaced."""
    for _ in range(2):
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(path))
        except OSError:
            listener.close()
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(str(path))
                return None
            except OSError:
                with contextlib.suppress(OSError):
                    path.unlink()
            finally:
                probe.close()
            continue
        os.chmod(path, 0o600)  # only this user may connect (it sends pickles); the server checks each peer too
        listener.listen(16)
        return listener
    return None


def _accept(listener: socket.socket, path: Path, own: int, idle: float, standbys: _Standbys) -> None:
    """Hand each connection to a standby; replace the standbys used (their kernels restarted) once no worker runs
    (not during a render: on two cores, a kernel loading would slow it); return when it is time to exit."""
    last_used = time.monotonic()
    listener.settimeout(_POLL_SECONDS)
    while True:
        standbys.reap()
        if not standbys.busy:
            standbys.fill()
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            if not standbys.busy and time.monotonic() - last_used > idle:
                return
            try:
                if os.stat(path).st_ino != own:
                    return
            except OSError:
                return
            continue
        with connection:
            if not same_user(connection):  # it would send a pickle for a standby to load: never another user's
                continue
            last_used = time.monotonic()
            standbys.hand_over(connection)


class _Standbys:
    """A standby worker per kernel (engine/prestarted_kernels.py): forked, its kernel adopted and warmed up, waiting
    for a connection on a socket pair with the server, which passes it the connection's descriptor."""

    def __init__(self, listener: socket.socket, kernels: PrestartedKernels, warm_up: bytes | None) -> None:
        self._kernels = kernels
        self._listener = listener
        self._warm_up = warm_up
        self._fresh = list(range(KERNELS))  # kernels started with the server that no standby has adopted yet
        self._used: list[int] = []  # kernels a standby adopted that has since been handed a connection, or died
        self._waiting: dict[int, tuple[int, socket.socket]] = {}  # kernel index -> (standby's pid, server's end)
        #: The pids of the standbys handed a connection that have not exited yet.
        self.busy: set[int] = set()

    def fill(self) -> None:
        """A standby for each kernel: a new kernel in place of each used one."""
        while self._fresh or self._used:
            self._start_one()

    def hand_over(self, connection: socket.socket) -> None:
        """Pass `connection` to a waiting standby (one started now if none waits: more connections at once than
        kernels kept, its kernel loading now). If every standby tried has died, the connection is closed unanswered
        and that synth says its worker gave no result."""
        for _ in range(KERNELS + 1):
            if not self._waiting:
                self._start_one()
            index, (pid, ours) = next(iter(self._waiting.items()))
            del self._waiting[index]
            self._used.append(index)
            try:
                socket.send_fds(ours, [b"c"], [connection.fileno()])
            except OSError:  # it died warming up: no more warm-ups, and the next standby
                self._warm_up = None
                continue
            finally:
                ours.close()
            self.busy.add(pid)
            return

    def reap(self) -> None:
        """Forget the workers that have exited, and collect every child that has (kernels included). A standby that
        exited before it was handed a connection died warming up: no more warm-ups, and its kernel is replaced."""
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.busy.discard(pid)
            for index, (standby, ours) in list(self._waiting.items()):
                if standby == pid:
                    ours.close()
                    del self._waiting[index]
                    self._used.append(index)
                    self._warm_up = None

    def close(self) -> None:
        """Close the server's ends of the waiting standbys' sockets: each then exits, and its kernel with it."""
        for _, ours in self._waiting.values():
            ours.close()
        self._waiting.clear()

    def _start_one(self) -> None:
        if self._fresh:
            index = self._fresh.pop(0)
        else:
            index = self._used.pop(0)
            self._kernels.restart(index)
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            ours.close()
            for _, other in self._waiting.values():  # else a standby would outlive a killed server
                other.close()
            _standby(theirs, self._listener, self._kernels, index, self._warm_up)
        theirs.close()
        self._kernels.let_go(index)
        self._waiting[index] = (pid, ours)


def _standby(
    handover: socket.socket, listener: socket.socket, kernels: PrestartedKernels, index: int, warm_up: bytes | None
) -> None:
    """In a forked standby: adopt kernel `index`, warm it up, then render the share of the connection the server
    hands over (none: the server has gone; exit); never returns."""
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # a client gone: end quietly, as fast_worker's workers do
    try:
        listener.close()
        kernels.adopt(index)
        speed_up_jsii_serialisation()
        if warm_up is not None:
            _warm(warm_up, handover)
        _, descriptors, _, _ = socket.recv_fds(handover, 1, 1)
        handover.close()
        if not descriptors:
            os._exit(0)
        serve(descriptors[0], os.dup(descriptors[0]))  # exits the process
    except BaseException:
        traceback.print_exc()
    os._exit(1)


def _warm(warm_up: bytes, handover: socket.socket) -> None:
    """Render the warm-up jobs one stack at a time, objects thrown away, until done or a connection is handed over.
    A warm-up only saves time: one that fails is left at that (a chart that exits the process ends this standby,
    and the server warms up no more)."""
    from engine.plain import render_jobs

    with contextlib.suppress(Exception):
        for job in pickle.loads(warm_up):
            if select.select([handover], [], [], 0)[0]:
                return
            for _ in render_jobs([job]):
                pass


if __name__ == "__main__":
    main(sys.argv[1:])
