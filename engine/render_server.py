"""The render server: the fast engine's start-up done once and kept, for the synths that follow.

A cold render worker spends about a second before it renders anything: importing cdk8s, cdk8s-plus-27, the
bindings, the constructs and the settings models, and loading the same assemblies into its Node kernel. A synth that
renders one changed stack, or a full synth on two cores, is mostly that second. The server does it once, then
forks a worker for each connection, exactly as engine/fast_worker.py forks its workers after the same imports: a
forked worker adopts one of the Node kernels the server keeps loaded (engine/prestarted_kernels.py), reads its share
of the jobs from the connection and sends each stack back on it, in fast_worker's messages, then exits. No state
outlives a job share: every share gets a new process and a new kernel, as in a cold render.

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
from engine.fast import TEMP_PREFIX
from engine.fast_runtime import run_jsii_kernel_directly, speed_up_jsii_serialisation
from engine.fast_worker import PRELOADED, import_modules, serve

if TYPE_CHECKING:  # imported at run time only once Node is set up (prestarted_kernels imports jsii)
    from engine.prestarted_kernels import PrestartedKernels

# Kernels kept loaded: one per core, as many as a synth asks for workers, but at most 4 (each holds about 105 MiB
# while it waits; on a larger machine a synth's further workers load their kernel when they start).
KERNELS = min(os.cpu_count() or 1, 4)
# How often the server looks whether its socket is still its own, and its workers have exited.
_POLL_SECONDS = 1.0


def main(argv: list[str]) -> None:
    path, idle, modules = Path(argv[0]), float(argv[1]), argv[2:]
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
    try:
        kernels = prestarted_kernels.PrestartedKernels(KERNELS)
        with kernels.forwarding_loads():
            import_modules([*PRELOADED, *modules])
        gc.freeze()  # as in fast_worker: the forked workers neither scan nor copy the imported objects
        gc.disable()
        _accept(listener, path, own, idle, kernels)
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            if os.stat(path).st_ino == own:
                path.unlink()
        shutil.rmtree(temporary, ignore_errors=True)


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
        listener.listen(16)
        return listener
    return None


def _accept(listener: socket.socket, path: Path, own: int, idle: float, kernels: PrestartedKernels) -> None:
    """Fork a worker for each connection, each adopting a loaded kernel; restart the kernels used once no worker
    runs (not during a render: on two cores, a kernel loading would slow it); return when it is time to exit."""
    ready = list(range(KERNELS))
    used: list[int] = []
    workers: set[int] = set()
    last_used = time.monotonic()
    listener.settimeout(_POLL_SECONDS)
    while True:
        _reap(workers)
        if not workers and used:
            for index in used:
                kernels.restart(index)
            ready.extend(used)
            used.clear()
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            if not workers and time.monotonic() - last_used > idle:
                return
            try:
                if os.stat(path).st_ino != own:
                    return
            except OSError:
                return
            continue
        last_used = time.monotonic()
        if not ready:  # more connections at once than kernels kept: one more, loading now
            kernels.restart(used[0])
            ready.append(used.pop(0))
        index = ready.pop(0)
        worker = os.fork()
        if worker == 0:
            _work(connection, listener, kernels, index)
        connection.close()
        kernels.let_go(index)
        used.append(index)
        workers.add(worker)


def _work(connection: socket.socket, listener: socket.socket, kernels: PrestartedKernels, index: int) -> None:
    """In a forked worker: render the share the connection sends, on kernel `index`; never returns."""
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # a client gone: end quietly, as fast_worker's workers do
    try:
        listener.close()
        kernels.adopt(index)
        speed_up_jsii_serialisation()
        channel = connection.detach()
        serve(channel, os.dup(channel))  # exits the process
    except BaseException:
        traceback.print_exc()
    os._exit(1)


def _reap(workers: set[int]) -> None:
    """Forget the workers that have exited, and collect every child that has (kernels included)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        workers.discard(pid)


if __name__ == "__main__":
    main(sys.argv[1:])
