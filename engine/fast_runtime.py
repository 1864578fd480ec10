"""How jsii runs in the fast engine's workers: its kernel in one Node process, and faster serialisation of structs.
Every use of jsii's private parts is in this package; `unsupported` says when they may not be what they were."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

# The versions the fast engine was written against, and the SHA-256 of the kernel program (jsii's embedded
# lib/program.js) whose text it patches and whose fd-3 channel jsii_kernel.js relies on. Anything else: the workers
# run jsii as shipped, without these speed-ups (see `unsupported`). After a jsii or cdk8s upgrade: re-check every jsii internal named in this
# package (grep jsii), then update these; tests/test_engines.py says when they no longer match.
KNOWN_VERSIONS = {"jsii": "1.142.0", "cdk8s": "2.70.115"}
KNOWN_KERNEL_PROGRAM_SHA256 = "ae39a922c041b41d2fc0acc0164699f779b7afd48f50aad05b3f70d3b96a0841"


def unsupported() -> str | None:
    """Why the fast engine must not run with the jsii and cdk8s installed here (one short clause), or None.

    Read without importing jsii: the parent process of a synth never loads it."""
    for package, known in KNOWN_VERSIONS.items():
        installed = installed_version(package)
        if installed is None:
            return f"{package} is not installed"
        if installed != known:
            return f"it knows {package} {known}, this is {package} {installed}"
    embedded = jsii_embedded_files()
    try:
        program = (embedded / "lib__program.js").read_bytes() if embedded is not None else b""
    except OSError:
        program = b""
    if hashlib.sha256(program).hexdigest() != KNOWN_KERNEL_PROGRAM_SHA256:
        return "jsii's kernel program is not the one it patches"
    return None


def installed_version(package: str) -> str | None:
    """The version of an installed package, from its dist-info folder's name beside it (importlib.metadata would
    cost a synth about a tenth of a second to import)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(spec.submodule_search_locations[0]).parent
    versions = [info.name[len(package) + 1 : -len(".dist-info")] for info in folder.glob(f"{package}-*.dist-info")]
    return versions[0] if len(versions) == 1 else None


# jsii's kernel program speaks on fd 3 (the API channel its relay process hands it); jsii_kernel.js relies on that.
_KERNEL_CHANNEL = b"readFD:3,writeFD:3"
# The kernel builds an assertion message with util.inspect of a type reference every time it works out how to pass a
# map or `any` value, though the assertion fails only for null and undefined, which `${e}` prints the same way. On a
# render that was an eighth of the kernel's time. Applied to the copy only where this exact text is found once.
_EAGER_ASSERT_MESSAGE = (
    b"`Kernel error: expected type information, got ${(0,K.inspect)(e)}`",
    b"`Kernel error: expected type information, got ${e}`",
)
# Part of the copy's folder name: a change to what is copied or patched gets a fresh copy.
_COPY_FORMAT = "1"


def run_jsii_kernel_directly() -> None:
    """Run jsii's kernel in one Node process instead of two, via engine/jsii_kernel.js (in this process and those it
    starts: call before importing jsii).

    jsii starts Node on a relay script that starts a second Node process for the kernel and passes every message
    through: three pipe hops and two extra process wake-ups per call, and a second Node start. A render is some
    thousand calls, and the relay took about a fifth of its time on two cores. The messages are the same.

    The kernel program is copied once out of the jsii package into the virtualenv (with its index worker, which it
    finds next to itself), with one wasteful assertion message made lazy (_EAGER_ASSERT_MESSAGE). If this jsii's
    kernel does not use the fd-3 channel, or an explicit JSII_RUNTIME is set, jsii's own relay is used.
    tests/test_render_workers.py renders through both and compares the files.
    """
    embedded = jsii_embedded_files()
    if "JSII_RUNTIME" in os.environ or embedded is None:
        return
    try:
        stat = (embedded / "lib__program.js").stat()
    except OSError:
        return
    # One copy per build of the kernel program (a jsii upgrade gets a new one).
    folder = Path(sys.prefix) / "share" / "jsii-kernel" / f"{stat.st_size}-{stat.st_mtime_ns}-{_COPY_FORMAT}"
    if not (folder / "lib" / "program.js").exists() and not _copy_kernel_program(embedded, folder):
        return
    os.environ["JSII_RUNTIME"] = str(Path(__file__).with_name("jsii_kernel.js"))
    os.environ["JSII_KERNEL_PROGRAM"] = str(folder / "lib" / "program.js")


def jsii_embedded_files() -> Path | None:
    """The folder of the Node programs the jsii package carries, found without importing jsii (the parent process
    of a synth never loads it)."""
    spec = importlib.util.find_spec("jsii")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0]) / "_embedded" / "jsii"


def _copy_kernel_program(embedded: Path, folder: Path) -> bool:
    """jsii's embedded lib/ files (program.js, runtime-index-worker.js, their maps) into `folder`/lib, atomically.
    False if this kernel program does not use the channel jsii_kernel.js expects."""
    files = {path.name.removeprefix("lib__"): path.read_bytes() for path in embedded.glob("lib__*")}
    program = files.get("program.js", b"")
    if _KERNEL_CHANNEL not in program:
        return False
    eager, lazy = _EAGER_ASSERT_MESSAGE
    if program.count(eager) == 1:
        files["program.js"] = program.replace(eager, lazy)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        (staging / "lib").mkdir()
        for name, content in files.items():
            (staging / "lib" / name).write_bytes(content)
        try:
            staging.rename(folder)
        except OSError:  # another process copied it first
            shutil.rmtree(staging, ignore_errors=True)
    except OSError:
        return False
    return (folder / "lib" / "program.js").exists()


def speed_up_jsii_serialisation() -> None:
    """Serialise jsii structs from their `_values` dict instead of through their property getters, and send
    `create` requests without re-walking their arguments.

    Every generated struct property returns `typing.cast(typing.Optional[...], self._values.get(name))`, and
    building that `typing.Optional[...]` on each read was about a third of the Python time of a render. The
    value is the same; only the getter is skipped. Used by the render workers; the plain engine renders without
    it, and tests/test_engines.py checks that both give the same files.
    """
    import enum

    import jsii._kernel as kernel_module

    original = kernel_module._make_reference_for_native
    if getattr(original, "__sped_up__", False):
        return

    def make_reference(kernel: object, value: object) -> object:
        if value is None or type(value) in (str, int, float, bool):
            return value
        if isinstance(value, dict):
            return {"$jsii.map": {key: make_reference(kernel, item) for key, item in value.items()}}
        if isinstance(value, list):
            return [make_reference(kernel, item) for item in value]
        mapping = getattr(type(value), "__jsii_name_mapping__", None)
        values = getattr(value, "_values", None)
        fqn = getattr(value, "__jsii_type__", None)
        if mapping is not None and fqn is not None and isinstance(values, dict) and not isinstance(value, enum.Enum):
            return {
                "$jsii.struct": {
                    "fqn": fqn,
                    "data": {
                        jsii_name: make_reference(kernel, values.get(python_name))
                        for python_name, jsii_name in mapping.items()
                    },
                }
            }
        return original(kernel, value)  # type: ignore[arg-type]

    make_reference.__sped_up__ = True  # type: ignore[attr-defined]
    kernel_module._make_reference_for_native = make_reference  # type: ignore[assignment]
    _send_create_arguments_as_they_are()


def _send_create_arguments_as_they_are() -> None:
    """jsii turns each `create` request into JSON by walking its arguments with cattrs, though they are already
    JSON-ready dicts and lists by then (jsii objects inside are handled by the JSON encoder's `default`). The walk
    cost about as much as the Node side's work; the request sent is the same."""
    from jsii._kernel.types import CreateRequest
    from jsii._runtime import kernel

    serializer = kernel.provider._process._serializer  # type: ignore[attr-defined]

    def unstructure_create(request: CreateRequest) -> dict[str, object]:
        return {
            "fqn": request.fqn,
            "args": request.args,
            "overrides": serializer.unstructure(request.overrides),
            "interfaces": request.interfaces,
            "api": "create",
        }

    serializer.register_unstructure_hook(CreateRequest, unstructure_create)
