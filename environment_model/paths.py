"""Where the project's files are, and how its private ones are read (no pydantic or cdk8s import: the command line
needs these before either)."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The project's own environment files; ENVIRONMENTS_DIR points the app at another folder (tests, a config repo).
ENVIRONMENTS_DIR = ROOT / "environments"
SCHEMA_PATH = ROOT / "schema" / "settings.schema.json"


def environments_dir() -> Path:
    """Where the environment files are: $ENVIRONMENTS_DIR if set, else environments/ (read at each call)."""
    return Path(os.environ.get("ENVIRONMENTS_DIR", ENVIRONMENTS_DIR)).resolve()


def available_environments(folder: Path | None = None) -> list[str]:
    """The environments, one per YAML file in `folder` (default: environments_dir()), sorted by name."""
    return sorted(path.stem for path in (folder or environments_dir()).glob("*.yaml"))


def environments_problem() -> str | None:
    """Why there is nothing to render, if so: no environments folder, or no settings file in it."""
    if "ENVIRONMENTS_DIR" in os.environ and not os.environ["ENVIRONMENTS_DIR"].strip():
        return "ENVIRONMENTS_DIR is set but empty (that would mean the current folder); unset it or name the folder"
    folder = environments_dir()
    where = f"ENVIRONMENTS_DIR={folder}" if "ENVIRONMENTS_DIR" in os.environ else str(folder)
    if not folder.exists():
        return f"{where}: no such folder; it must hold one <environment>.yaml settings file per environment"
    if not folder.is_dir():
        return f"{where}: not a folder; it must hold one <environment>.yaml settings file per environment"
    # Only <name>.yaml files are environments: a staging.yml would make staging vanish from dist/ without a word.
    misnamed = sorted(folder.glob("*.yml"))
    if misnamed:
        return "\n".join(f"{path}: settings files end in .yaml: rename it" for path in misnamed)
    if not available_environments():
        return (
            f"{where}: no <environment>.yaml settings files in it; refusing to render zero environments "
            f"(committed, that would make Argo CD remove every workload)"
        )
    return None


# Where Node (which runs jsii) makes its temporary folders: the first of these that is set and not empty, else /tmp.
_TEMPORARY_FOLDER_VARIABLES = ("TMPDIR", "TMP", "TEMP")


def temporary_folder_problem() -> str | None:
    """Why the temporary folder named by $TMPDIR (or $TMP, $TEMP: Node's order) cannot hold temporary files, if it
    cannot; one line. Checked before a command starts: jsii would fail later with `ENOENT ... mkdtemp` without
    naming the variable, and Python's tempfile would silently use another folder."""
    for variable in _TEMPORARY_FOLDER_VARIABLES:
        value = os.environ.get(variable, "")
        if not value:
            continue
        folder = Path(value)
        if not folder.is_absolute():  # Node refuses a relative one ("must be ... an absolute path string")
            return f"{variable}={value}: not an absolute path; name the folder from / (or unset {variable} to use /tmp)"
        if not folder.exists():
            return f"{variable}={value}: no such folder; create it, or unset {variable} to use /tmp"
        if not folder.is_dir():
            return f"{variable}={value}: not a folder; it must name a folder for temporary files"
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"{variable}={value}: not writable; temporary files are made there (unset {variable} to use /tmp)"
        return None
    return None


def display_path(path: Path) -> str:
    """`path` as messages show it: relative to the project when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


# What write_atomically's temporary files start with: one is left only by a killed process (the render cache prunes
# them).
TEMPORARY_PREFIX = ".entry-"


def write_atomically(path: Path, data: str | bytes) -> None:
    """`data` into `path` by renaming a complete temporary file (created 0600: this user's alone, as read_own_file
    asks) over it, the folder made if missing. A failure to write is ignored: what is written this way (the render
    cache) only saves time."""
    content = data.encode() if isinstance(data, str) else data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY_PREFIX, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(content)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError:
        return


def read_own_file(path: Path) -> bytes:
    """The bytes of `path` if it is a regular file of this user's that nobody else may write; else OSError, as for a
    missing file. For what the project itself wrote where another user might write too (a shared RENDER_CACHE
    folder): the render cache's entries go into dist/. A symbolic link is refused, whoever owns what it points to,
    and so is a pipe or a device (opened without waiting: a pipe would wait for a writer)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise IsADirectoryError(f"{path} is not a regular file")
        if status.st_uid != os.getuid() or status.st_mode & 0o022:
            raise PermissionError(f"{path} is not this user's alone")
        return file.read()


def not_set_up(module: str | None) -> str:
    """What to run instead, when this Python lacks the project's packages (started outside the virtualenv)."""
    import shlex
    import sys

    venv_python = ROOT / ".venv" / "bin" / "python"
    with contextlib.suppress(ValueError):
        venv_python = venv_python.relative_to(Path.cwd())
    if Path(sys.prefix).resolve() == ROOT / ".venv":  # the virtualenv itself is short
        return f"the virtualenv lacks {module}, which the project needs: run `make setup`, then this command again"
    command = shlex.join([str(venv_python), *sys.argv])
    first = "" if venv_python.exists() else "`make setup` (it creates the virtualenv), then "
    return f"this Python ({sys.executable}) lacks the project's packages ({module} is missing): run {first}`{command}`"
