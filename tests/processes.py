"""The machine's processes as /proc shows them (procps' ps and pgrep are not on every minimal system)."""

from __future__ import annotations

import contextlib
from pathlib import Path


def _stat_fields(pid: str) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces and parentheses): state, ppid, pgrp, session."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, session, command line) of every live process; zombies have no command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError):
                fields = _stat_fields(entry.name)
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                found[int(entry.name)] = (int(fields[1]), int(fields[3]), command)
    return found


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the processes whose parent is `pid`."""
    return [(child, command) for child, (parent, _, command) in processes().items() if parent == pid]


def in_session(session: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live processes of a session (a zombie not yet reaped counts as ended)."""
    return [(pid, command) for pid, (_, sid, command) in processes().items() if sid == session and command]
