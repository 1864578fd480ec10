"""Synthesis: build each environment's charts and return their objects as plain dicts.

(Environment, stack) pairs render in worker processes, one per core, forked from one
`python -O -m delivery.render_worker` process after it has imported everything (see there):
- jsii round-trips dominate the cost and a process has one Node runtime, so processes use both cores;
- under -O, jsii skips its run-time type checks of every struct (typeguard), which cost more than the Node
  round-trips themselves. The same structs are type-checked by mypy, and by the test suite, which renders
  in-process without -O.
The parent process never imports cdk8s, so settings errors are reported before any of that starts.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from delivery.pod_security import label_namespaces
from delivery.registry import StackDefinition
from delivery.runtime import use_bundled_node
from delivery.sync_waves import assign_sync_waves

if TYPE_CHECKING:
    from delivery.output import StackFolders

Manifest = dict[str, Any]
RenderedEnvironment = dict[str, list[Manifest]]


class RenderError(Exception):
    """A worker process failed for a reason that is not a props or settings error."""


def render_environment(settings: Any, stacks: Sequence[StackDefinition], environment: str) -> RenderedEnvironment:
    """Every requested stack of one environment, in this process: stack name -> its Kubernetes objects.

    A stack reads its own section of the settings; the Argo CD stack (no section) gets the whole environment.
    """
    use_bundled_node()
    import cdk8s

    from delivery.argocd import ArgoCdInputs

    app = cdk8s.App()
    charts = [
        (
            stack.name,
            stack.chart_class()(
                app,
                stack.name,
                getattr(settings, stack.settings_field)
                if stack.settings_field
                else ArgoCdInputs(environment=environment, settings=settings),
            ),
        )
        for stack in stacks
    ]
    # One to_json call per chart: the whole chart crosses from Node in a single round-trip. A stack keeps its
    # cluster-scoped objects (a Namespace) in `companion_charts` without a namespace, since a Chart's namespace is
    # stamped on every object in it.
    rendered = {
        name: [
            *chart.to_json(),
            *(manifest for companion in getattr(chart, "companion_charts", ()) for manifest in companion.to_json()),
        ]
        for name, chart in charts
    }
    # Each stack is one Argo CD Application: its waves order its own objects.
    for manifests in rendered.values():
        assign_sync_waves(manifests)
        label_namespaces(manifests, settings)
    return rendered


class RenderPool:
    """`python -O` render workers, one per core, started before they are needed.

    Starting them first lets their imports (cdk8s, the constructs, the settings models: most of a worker's life)
    overlap with the parent's own work of loading and validating settings. One process imports, then forks the
    workers (delivery/render_worker.py); each reads its jobs from one pipe and sends each stack back on another as
    soon as it is rendered. `close()` stops workers never used.

    Callers ask for at most one worker per core: more is slower, not faster, since every jsii call is a synchronous
    Python<->Node exchange, and with more such pairs than cores each exchange waits for the scheduler.
    """

    def __init__(self, workers: int | None = None, stacks: Sequence[StackDefinition] = ()) -> None:
        """`stacks`: what will be rendered, so the workers can import those stacks' modules before they fork."""
        count = max(1, workers if workers is not None else (os.cpu_count() or 1))
        preload = dict.fromkeys(module for stack in stacks for module in stack.modules())
        job_pipes = [os.pipe() for _ in range(count)]
        result_pipes = [os.pipe() for _ in range(count)]
        worker_ends = [(jobs[0], results[1]) for jobs, results in zip(job_pipes, result_pipes, strict=True)]
        # The workers' temporary files (jsii unpacks each assembly into one) go to a folder of this pool's, removed
        # in close(): a Node kernel ended with SIGKILL (a failed or interrupted render) cannot clean up after itself.
        _remove_orphaned_temp_folders()
        self._temp = tempfile.mkdtemp(prefix=f"{_TEMP_PREFIX}{os.getpid()}-")
        self._starter = subprocess.Popen(
            [
                *(sys.executable, "-O", "-m", "delivery.render_worker"),
                *(f"{job}:{result}" for job, result in worker_ends),
                *preload,
            ],
            pass_fds=[fd for pair in worker_ends for fd in pair],
            stdin=subprocess.DEVNULL,
            cwd=_project_root(),
            env={**os.environ, "TMPDIR": self._temp},
            process_group=0,  # see close()
        )
        for pair in worker_ends:
            for fd in pair:
                os.close(fd)
        self._rendered = False
        self._jobs = [os.fdopen(jobs[1], "wb") for jobs in job_pipes]
        self._results = [os.fdopen(results[0], "rb") for results in result_pipes]

    def render(
        self,
        environments: dict[str, Any],
        stacks: Sequence[StackDefinition],
        outputs: Mapping[tuple[str, str], StackFolders] | None = None,
    ) -> dict[str, RenderedEnvironment]:
        """Every (environment, stack) pair, shared out among the workers in turn; environment -> stack -> objects.

        Pairs rather than whole environments, so that three environments on two cores do not leave one core
        idle for a third of the time. With `outputs` ((environment, stack) -> its folders), this process writes each
        stack's files as soon as a worker sends the stack, while the workers go on rendering: writing then neither
        slows a worker's next render nor waits for the worker with the most to do. The writes run on threads, one
        per worker: creating files is the kernel's work, and stacks (each in its own folder) are created in parallel.
        """
        self._rendered = True
        pairs = [(env, stack) for stack in stacks for env in environments]
        shares = [pairs[index :: len(self._jobs)] for index in range(len(self._jobs))]
        self._send(environments, shares)
        results: dict[str, RenderedEnvironment] = {env: {} for env in environments}
        with ThreadPoolExecutor(max_workers=len(self._jobs)) as writer:
            writes: list[Future[None]] = []

            def received(env: str, stack: str, manifests: list[Manifest]) -> None:
                results[env][stack] = manifests
                if outputs is not None:
                    writes.append(writer.submit(_write_stack, outputs[env, stack], manifests))

            failure = self._receive([bool(share) for share in shares], received)
            for write in writes:
                if failure is None:
                    failure = write.exception()
        if failure is not None:
            raise failure
        # The registry's stack order, whatever order the workers finished in.
        return {env: {stack.name: results[env][stack.name] for stack in stacks} for env in environments}

    def _send(self, environments: dict[str, Any], shares: list[list[tuple[str, StackDefinition]]]) -> None:
        """Each worker's share of the pairs, as [(env, settings, stacks)]; closing a pipe unwritten lets a worker
        with no share exit."""
        for share, job_pipe in zip(shares, self._jobs, strict=True):
            jobs: dict[str, list[StackDefinition]] = {}
            for env, stack in share:
                jobs.setdefault(env, []).append(stack)
            try:
                if jobs:
                    job_pipe.write(pickle.dumps([(env, environments[env], jobs[env]) for env in jobs]))
                job_pipe.close()
            except BrokenPipeError:  # the worker is gone; its result pipe says so
                pass

    def _receive(self, busy: list[bool], received: Callable[[str, str, list[Manifest]], None]) -> BaseException | None:
        """Hand each stack the busy workers send to `received`, as it arrives; the first failure, if any.

        Every worker's messages are read to the end, whatever fails, so that no worker is left blocked on a full
        pipe."""
        messages: queue.SimpleQueue[tuple[int, tuple[str, Any] | None]] = queue.SimpleQueue()
        readers = []
        for index, (worker_is_busy, result_pipe) in enumerate(zip(busy, self._results, strict=True)):
            if worker_is_busy:
                readers.append(
                    threading.Thread(target=_read_messages, args=(index, result_pipe, messages), daemon=True)
                )
                readers[-1].start()
            else:  # an unused worker exits without a word
                result_pipe.close()
        finished: set[int] = set()
        failure: BaseException | None = None
        for _ in readers:
            while True:
                index, message = messages.get()
                if message is None:  # this worker's pipe ended
                    break
                kind, value = message
                if kind == "stack":
                    received(*value)
                    continue
                finished.add(index)
                if kind == "error" and failure is None:
                    failure = value if isinstance(value, BaseException) else RenderError(str(value))
            if index not in finished and failure is None:
                failure = RenderError("a render worker exited with no result (see the messages above)")
        for reader in readers:
            reader.join()
        return failure

    def close(self, stop: bool = False) -> None:
        """Wait until the workers and their Node processes have exited. Workers started but not used (e.g. settings
        were invalid), and with `stop` (e.g. the render was interrupted) all of them, are ended at once instead.

        The pool's processes form a process group of their own, so a Ctrl-C at the terminal reaches only the
        parent, which ends them here; and the process that forked the workers waits for them all, so waiting for
        it leaves no process behind."""
        if stop or not self._rendered:  # before closing the pipes, which a worker would find broken
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._starter.pid, signal.SIGKILL)
        for stream in (*self._jobs, *self._results):
            if not stream.closed:
                with contextlib.suppress(BrokenPipeError):
                    stream.close()
        self._starter.wait()
        shutil.rmtree(self._temp, ignore_errors=True)  # every process that wrote there has ended


_TEMP_PREFIX = "k8s-workloads-render-"


def _remove_orphaned_temp_folders() -> None:
    """Temporary folders of render pools whose synth was killed outright (kill -9): their process is gone."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_TEMP_PREFIX}*-*"):
        owner = folder.name.removeprefix(_TEMP_PREFIX).split("-", 1)[0]
        if owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _read_messages(index: int, pipe: BinaryIO, messages: queue.SimpleQueue[tuple[int, tuple[str, Any] | None]]) -> None:
    """Worker `index`'s messages, in order, then (index, None) when its pipe ends (however it ends)."""
    with pipe:
        while True:
            try:
                messages.put((index, pickle.load(pipe)))
            except Exception:  # end of file, or a worker that died mid-message
                break
    messages.put((index, None))


def _write_stack(folders: StackFolders, manifests: list[Manifest]) -> None:
    from delivery.output import write_stack  # delivery.output imports this module

    write_stack(folders, manifests)


def _project_root() -> str:
    from delivery.paths import ROOT

    return str(ROOT)
