"""Ctrl-C and SIGTERM during a synth (no heavy imports: main.py installs the handler before anything else)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job cancelled, `kill`), handled like Ctrl-C: a synth stops and leaves dist/ whole."""


def raise_terminated(signum: int, frame: object) -> None:
    """The SIGTERM handler `main.py` installs."""
    raise Terminated()


_DEFERRED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """A Ctrl-C or SIGTERM inside the block takes effect at its end: staging folders made in the block are then
    always recorded, so the caller can remove them, and a swap of folders is never left half-done. (Only the main
    thread receives signals; elsewhere this does nothing.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[signal.Signals] = []
    previous = {
        signum: signal.signal(signum, lambda signum, frame: received.append(signal.Signals(signum)))
        for signum in _DEFERRED_SIGNALS
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if not received:
        return
    handler = previous[received[0]]
    if callable(handler):
        handler(received[0], None)  # Python's default SIGINT handler raises KeyboardInterrupt; ours, Terminated
    elif received[0] == signal.SIGTERM and handler == signal.SIG_DFL:
        raise Terminated()  # the default would have ended the process: end it the orderly way instead


def import_pydantic() -> None:
    """The first import of pydantic, with interrupts deferred: a signal while its Rust extension initialises makes
    it panic (a traceback, not an interrupt)."""
    with interrupts_deferred():
        import pydantic_core  # noqa: F401
