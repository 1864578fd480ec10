"""Worker processes of engine.fast.

`python -O -m engine.fast_worker [--public-jsii] JOB_FD:RESULT_FD ... [MODULE ...]` imports what rendering needs
(and the stacks' MODULEs) once, then forks one worker per pair of pipes. Each worker has its own jsii kernel (a Node process
cannot be shared or forked), reads its share of the jobs (engine.Job) pickled from its job pipe, and writes to its
result pipe one pickled ("job", (environment, stack, objects)) per job as soon as it is rendered, then ("ok", None)
or ("error", ...).

Forking is what makes the second worker cheap: the Python imports (cdk8s, cdk8s-plus-27's bindings, the CRD
bindings, the constructs, the settings models) were more than half of a worker's start-up, and are now done once.

With `--public-jsii` (a jsii or cdk8s the speed-ups were not written against: engine/fast_runtime.py), nothing of
jsii's private parts is touched: the workers are forked first, and each imports and starts jsii as shipped, so the
render stays parallel on any version.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import pickle
import signal
import sys
import traceback
from typing import Protocol

from engine import use_bundled_node
from engine.fast_runtime import run_jsii_kernel_directly, speed_up_jsii_calls

# What every render needs; the parent adds the modules of the stacks it will send and of their settings. Not
# delivery.output: the parent writes the files.
PRELOADED = ("cdk8s", "cdk8s_plus_27", "engine.plain")


def main(argv: list[str]) -> None:
    use_bundled_node()
    _reap_every_descendant()
    public_jsii = "--public-jsii" in argv
    argv = [argument for argument in argv if argument != "--public-jsii"]
    channels = [tuple(int(fd) for fd in pair.split(":")) for pair in argv if ":" in pair]
    channel_fds = {fd for pair in channels for fd in pair}
    stack_modules = [module for module in argv if ":" not in module]
    if public_jsii:
        kernels: _WorkerKernels = _ImportedInEachWorker([*PRELOADED, *stack_modules])
    else:
        run_jsii_kernel_directly()
        kernels = _import_for_workers(len(channels), [*PRELOADED, *stack_modules])
    # A worker lives for seconds and builds many small containers; the cyclic collector would keep re-scanning them
    # (and the imported modules) for garbage there is next to none of. Freezing also keeps the forked workers from
    # touching (and so copying) the memory pages of every imported object.
    gc.freeze()
    gc.disable()
    for index, (job_fd, result_fd) in enumerate(channels):
        if os.fork() == 0:
            # A worker whose parent is gone (killed, or it stopped the render) finds its result pipe closed: it ends
            # there, quietly, as `cat` does, instead of printing a BrokenPipeError for every object it had left.
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            try:
                for other in channel_fds - {job_fd, result_fd}:
                    os.close(other)
                kernels.adopt(index)
                if not public_jsii:
                    speed_up_jsii_calls()
                serve(job_fd, result_fd)  # exits the process
            except BaseException:  # e.g. a kernel that failed to load: the parent reports a worker without result
                traceback.print_exc()
            os._exit(1)  # a worker never returns into this loop
    # This process stays until its workers and their kernels have exited, so that whoever started it can wait for
    # the whole render (and count its memory). It lets go of the pipes first: a kernel exits when its worker's end of
    # them closes, and a worker's result ends when every copy of its pipe is closed.
    kernels.release()
    for fd in channel_fds:
        os.close(fd)
    with contextlib.suppress(ChildProcessError):
        while True:
            os.wait()
    os._exit(0)


def _reap_every_descendant() -> None:
    """Make this process the one that reaps its descendants' orphans (Linux's child subreaper): a Node kernel that a
    worker started and left to exit on its own becomes this process's child, so the wait below covers it and no
    process of a render outlives the synth that waits for this one."""
    if sys.platform == "linux":
        import ctypes

        child_subreaper = 36  # PR_SET_CHILD_SUBREAPER
        ctypes.CDLL(None, use_errno=True).prctl(child_subreaper, 1, 0, 0, 0)


class _WorkerKernels(Protocol):
    def adopt(self, index: int) -> None:
        """In forked worker `index`: give jsii its kernel, with the assemblies loaded."""

    def release(self) -> None:
        """In the forking process, once every worker is forked: let go of the kernels."""


def _import_for_workers(workers: int, modules: list[str]) -> _WorkerKernels:
    """Import `modules`, and return what gives each worker its jsii kernel once it is forked.

    A kernel (a Node process) cannot be forked, so the assembly loads that imports ask for go to kernels started
    beforehand, one per worker (engine/prestarted_kernels.py). Where this jsii lacks what that needs, each worker
    imports the modules itself, as with jsii as shipped.
    """
    from engine import prestarted_kernels

    if not prestarted_kernels.available():
        return _ImportedInEachWorker(modules)
    kernels = prestarted_kernels.PrestartedKernels(workers)
    with kernels.forwarding_loads():
        import_modules(modules)
    return kernels


class _ImportedInEachWorker:
    """jsii as shipped: each forked worker imports the modules itself, which starts its own kernel."""

    def __init__(self, modules: list[str]) -> None:
        self._modules = modules

    def adopt(self, index: int) -> None:
        import_modules(self._modules)

    def release(self) -> None:
        pass


def import_modules(modules: list[str]) -> None:
    for module in modules:
        importlib.import_module(module)


def serve(job_fd: int, result_fd: int) -> None:
    from constructs_lib.errors import PropsError
    from engine.plain import render_jobs

    with os.fdopen(job_fd, "rb") as jobs_pipe:
        payload = jobs_pipe.read()
    if not payload:  # started but not needed
        os._exit(0)
    with os.fdopen(result_fd, "wb") as results:
        try:
            # Each job goes back as soon as it is rendered, so the parent writes its files while this worker renders
            # the next environment.
            for job, manifests in render_jobs(pickle.loads(payload)):
                pickle.dump(("job", (job.environment, job.stack.name, manifests)), results)
                results.flush()
            result: tuple[str, object] = ("ok", None)
        except PropsError as error:
            result = ("error", error)
        except Exception:
            result = ("error", traceback.format_exc())
        pickle.dump(result, results)
    # The parent reads to end of file, which it got when the pipe closed; exit without jsii's orderly shutdown of
    # its Node process (about half a second). Node exits when its pipe closes.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
