"""jsii kernels (Node processes) started before the Python imports, for the render workers to adopt after the fork.

A jsii kernel cannot be forked with the Python process that talks to it, so every render worker needs its own. Each
one needs about a third of a second to start Node and load the assemblies (constructs, cdk8s, cdk8s-plus-27, the
CRD bindings). Started first, and sent each assembly load as soon as an import asks for it, the kernels do that on
the other core while the Python imports run, instead of after them.

This drives jsii's kernel protocol directly: a `load` request is one JSON line, answered by one JSON line. jsii's
Python side then adopts a kernel as if it had started it itself (`_NodeProcess.start`). If this jsii does not
have the parts that relies on, `available()` is False and the workers start their own kernels.
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jsii._kernel.providers import process as jsii_process
from jsii._runtime import kernel
from jsii.errors import JSIIError


def available() -> bool:
    """Whether kernels can be started here and adopted by jsii: JSII_RUNTIME names the kernel's entry point
    (engine.fast_runtime sets it), and jsii has the process internals `adopt` uses."""
    return (
        "JSII_RUNTIME" in os.environ
        and hasattr(jsii_process, "stderr_sink")
        and all(hasattr(jsii_process._NodeProcess, name) for name in ("start", "handshake", "_next_message", "stop"))
    )


class PrestartedKernels:
    """`count` kernels, started now; `forwarding_loads` while importing, then `adopt` in each forked worker and
    `release` in the process that forked them."""

    def __init__(self, count: int) -> None:
        self._loads: list[bytes] = []  # each load request sent, as its line
        self._kernels = [self._start() for _ in range(count)]

    def _start(self) -> subprocess.Popen[bytes]:
        """A kernel, started now with the command and environment jsii uses (jsii/_kernel/providers/process.py),
        and sent every load request so far."""
        environment = {**os.environ, "JSII_AGENT": f"Python/{platform.python_version()}"}
        command = [os.environ.get("JSII_NODE", "node"), "--max-old-space-size=4069", os.environ["JSII_RUNTIME"]]
        node = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment
        )
        assert node.stdin is not None
        for line in self._loads:
            node.stdin.write(line)
        node.stdin.flush()
        return node

    @contextmanager
    def forwarding_loads(self) -> Iterator[None]:
        """While in this block, each assembly jsii loads (on import) is sent to every kernel, unanswered yet."""

        def load(name: str, version: str, tarball: str) -> None:
            line = json.dumps({"api": "load", "name": name, "version": version, "tarball": tarball}).encode() + b"\n"
            for node in self._kernels:
                assert node.stdin is not None
                node.stdin.write(line)
                node.stdin.flush()
            self._loads.append(line)

        kernel.load = load  # type: ignore[method-assign]
        try:
            yield
        finally:
            del kernel.load  # back to the class's method

    def release(self) -> None:
        """In the forking process: close its ends of every kernel's pipes (each worker holds its own)."""
        for node in self._kernels:
            _close_pipes(node)

    def adopt(self, index: int) -> None:
        """In a forked worker: make kernel `index` this process's jsii kernel and let go of the others."""
        mine = self._kernels[index]
        for other in self._kernels:
            if other is not mine:
                _close_pipes(other)
        loads = len(self._loads)

        def start(node_process: Any) -> None:
            # What _NodeProcess.start does after starting Node: the stderr sink, the exit hook, the handshake.
            node_process._process = mine
            node_process.sink_thread = threading.Thread(
                name="process.stderr_sink", target=jsii_process.stderr_sink, args=(mine.stderr,), daemon=True
            )
            node_process.sink_thread.start()
            atexit.register(node_process.stop)
            node_process.handshake()
            for _ in range(loads):
                answer = node_process._next_message()
                if "ok" not in answer:
                    raise JSIIError(answer.get("error", answer))

        original = jsii_process._NodeProcess.start
        jsii_process._NodeProcess.start = start  # type: ignore[method-assign]
        try:
            provider: Any = kernel.provider
            provider._process  # noqa: B018  (creating jsii's process object starts it: here, adopts)
        finally:
            jsii_process._NodeProcess.start = original  # type: ignore[method-assign]


def _close_pipes(node: subprocess.Popen[bytes]) -> None:
    """This process's ends of a kernel's pipes: a kernel exits when the last copy of its stdin is closed."""
    for stream in (node.stdin, node.stdout, node.stderr):
        if stream is not None:
            stream.close()
