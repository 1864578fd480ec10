"""The fast engine: jobs rendered in `python -O` worker processes, one per core, forked from one
`python -O -m engine.fast_worker` process after it has imported everything (see there):
- jsii round-trips dominate the cost and a process has one Node runtime, so processes use both cores;
- under -O, jsii skips its run-time type checks of every struct (typeguard), which cost more than the Node
  round-trips themselves. The same structs are type-checked by mypy, and by the plain engine, which the test suite
  renders with and compares with this one byte for byte.
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
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from engine import EngineName, Finished, Job, Manifest, RenderedEnvironment, RenderError, Stack, in_job_order


class RenderPool:
    """`python -O` render workers, one per core, started before they are needed.

    Starting them first lets their imports (cdk8s, the constructs, the settings models: most of a worker's life)
    overlap with the parent's own work of loading and validating settings. One process imports, then forks the
    workers (engine/fast_worker.py); each reads its jobs from one pipe and sends each stack back on another as
    soon as it is rendered. `close()` stops workers never used.

    Callers ask for at most one worker per core: more is slower, not faster, since every jsii call is a synchronous
    Python<->Node exchange, and with more such pairs than cores each exchange waits for the scheduler.
    """

    name: EngineName = "fast"

    def __init__(
        self,
        workers: int | None = None,
        stacks: Sequence[Stack] = (),
        settings_modules: Sequence[str] = (),
        public_jsii: bool = False,
    ) -> None:
        """`stacks`: what will be rendered, and `settings_modules`: where the classes of the jobs' settings are
        defined, so the workers can import those modules before they fork. `public_jsii`: jsii as shipped in each
        worker, none of the speed-ups that rely on its private parts (engine/fast_worker.py)."""
        count = max(1, workers if workers is not None else (os.cpu_count() or 1))
        self.public_jsii = public_jsii
        self._rendered = False
        preload = dict.fromkeys([*settings_modules, *(module for stack in stacks for module in stack.modules())])
        job_pipes = [os.pipe() for _ in range(count)]
        result_pipes = [os.pipe() for _ in range(count)]
        worker_ends = [(jobs[0], results[1]) for jobs, results in zip(job_pipes, result_pipes, strict=True)]
        # The workers' temporary files (jsii unpacks each assembly into one) go to a folder of this pool's, removed
        # in close(): a Node kernel ended with SIGKILL (a failed or interrupted render) cannot clean up after itself.
        _remove_orphaned_temp_folders()
        self._temp = temporary = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-")
        self._starter = subprocess.Popen(
            [
                *(sys.executable, "-O", "-m", "engine.fast_worker"),
                *(["--public-jsii"] if public_jsii else []),
                *(f"{job}:{result}" for job, result in worker_ends),
                *preload,
            ],
            pass_fds=[fd for pair in worker_ends for fd in pair],
            stdin=subprocess.DEVNULL,
            cwd=_PROJECT_ROOT,
            env={**os.environ, "TMPDIR": temporary},
            process_group=0,  # see close()
        )
        for pair in worker_ends:
            for fd in pair:
                os.close(fd)
        self._jobs = [os.fdopen(jobs[1], "wb") for jobs in job_pipes]
        self._results = [os.fdopen(results[0], "rb") for results in result_pipes]

    def render(
        self, jobs: Sequence[Job], finished: Finished | None = None, meanwhile: Callable[[], None] | None = None
    ) -> dict[str, RenderedEnvironment]:
        """Every job, shared out among the workers in turn; environment -> stack -> objects.

        Jobs are (environment, stack) pairs rather than whole environments, so that three environments on two cores
        do not leave one core idle for a third of the time. `finished` runs in this process for each job as soon as
        a worker sends it, on threads (one per worker), while the workers go on rendering: what it does (writing a
        stack's files: creating files is the kernel's work, and stacks are created in parallel) neither slows a
        worker's next render nor waits for the worker with the most to do.
        """
        self._rendered = True
        shares = _shares(jobs, len(self._jobs))
        self._send(shares)
        if meanwhile is not None:  # the workers render their shares while the caller goes on
            meanwhile()
        objects: dict[tuple[str, str], list[Manifest]] = {}
        with ThreadPoolExecutor(max_workers=len(self._jobs)) as finishing:
            calls: list[Future[None]] = []

            def received(job: Job, manifests: list[Manifest]) -> None:
                objects[job.environment, job.stack.name] = manifests
                if finished is not None:
                    calls.append(finishing.submit(finished, job, manifests))

            failure = self._receive(shares, received)
            for call in calls:
                if failure is None:
                    failure = call.exception()
        if failure is not None:
            raise failure
        return in_job_order(jobs, objects)

    def _send(self, shares: list[list[Job]]) -> None:
        """Each worker's share of the jobs; closing a pipe unwritten lets a worker with no share exit."""
        for share, job_pipe in zip(shares, self._jobs, strict=True):
            try:
                if share:
                    job_pipe.write(pickle.dumps(share))
                job_pipe.close()
            except BrokenPipeError:  # the worker is gone; its result pipe says so
                pass

    def _receive(
        self, shares: list[list[Job]], received: Callable[[Job, list[Manifest]], None]
    ) -> BaseException | None:
        """Hand each job the busy workers send back to `received`, as it arrives; the first failure, if any.

        Every worker's messages are read to the end, whatever fails, so that no worker is left blocked on a full
        pipe."""
        by_name = {(job.environment, job.stack.name): job for share in shares for job in share}
        messages: queue.SimpleQueue[tuple[int, tuple[str, Any] | None]] = queue.SimpleQueue()
        readers = []
        for index, (share, result_pipe) in enumerate(zip(shares, self._results, strict=True)):
            if share:
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
                if kind == "job":  # (environment, stack, objects)
                    environment, stack, manifests = value
                    received(by_name[environment, stack], manifests)
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
        if stop or not self._rendered:  # before closing the pipes
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._starter.pid, signal.SIGKILL)
        for stream in (*self._jobs, *self._results):
            if not stream.closed:
                with contextlib.suppress(BrokenPipeError):
                    stream.close()
        self._starter.wait()
        shutil.rmtree(self._temp, ignore_errors=True)  # every process that wrote there has ended


def _shares(jobs: Sequence[Job], workers: int) -> list[list[Job]]:
    """Each worker's jobs: every environment's stacks dealt out in turn, so that each worker gets a part of every
    environment. Dealing the jobs in the order given (each stack's environments in turn) gave, with an even number
    of environments, each worker whole environments: dev and staging to one, prod and test (the larger ones) to the
    other, which then finished last."""
    environments = list(dict.fromkeys(job.environment for job in jobs))
    dealt = sorted(jobs, key=lambda job: environments.index(job.environment))  # stable: stacks keep their order
    return [dealt[index::workers] for index in range(workers)]


TEMP_PREFIX = "k8s-workloads-render-"


def _remove_orphaned_temp_folders() -> None:
    """Temporary folders of render pools whose synth was killed outright (kill -9): their process is gone."""
    for folder in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*-*"):
        owner = folder.name.removeprefix(TEMP_PREFIX).split("-", 1)[0]
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


# The workers run `-m engine.fast_worker` from the project's folder.
_PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
