"""How jsii runs in the fast engine's workers: its kernel in one Node process, and its requests sent the short way.
Every use of jsii's private parts is in this package; `unsupported` says when they may not be what they were."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

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
# Edits of the kernel program's text, each applied to the copy only where the exact text is found as many times as
# expected (the program is pinned by KNOWN_KERNEL_PROGRAM_SHA256 anyway): (text, replacement, times).
_KERNEL_PROGRAM_EDITS = (
    # The kernel builds an assertion message with util.inspect of a type reference every time it works out how to
    # pass a map or `any` value, though the assertion fails only for null and undefined, which `${e}` prints the same
    # way. On a render that was an eighth of the kernel's time.
    (
        b"`Kernel error: expected type information, got ${(0,K.inspect)(e)}`",
        b"`Kernel error: expected type information, got ${e}`",
        1,
    ),
    # The kernel caches how to pass a value by its type reference object, but builds a new `{type: any}` reference
    # for every element of an `any` value (a chart's objects, sent back whole), so the cache never hits and each
    # value has its serialisation worked out afresh: one shared reference instead. About 7% of a large render's CPU.
    (
        b"{type:N.CANONICAL_ANY}",
        b"(globalThis.__jsiiAnyTypeRef||(globalThis.__jsiiAnyTypeRef={type:N.CANONICAL_ANY}))",
        4,
    ),
)
# Part of the copy's folder name: a change to what is copied or patched gets a fresh copy.
_COPY_FORMAT = "2"


def run_jsii_kernel_directly() -> None:
    """Run jsii's kernel in one Node process instead of two, via engine/jsii_kernel.js (in this process and those it
    starts: call before importing jsii).

    jsii starts Node on a relay script that starts a second Node process for the kernel and passes every message
    through: three pipe hops and two extra process wake-ups per call, and a second Node start. A render is some
    thousand calls, and the relay took about a fifth of its time on two cores. The messages are the same.

    The kernel program is copied once out of the jsii package into the virtualenv (with its index worker, which it
    finds next to itself), with two wasteful steps of its own left out (_KERNEL_PROGRAM_EDITS). If this jsii's
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
    for text, replacement, times in _KERNEL_PROGRAM_EDITS:
        if program.count(text) == times:
            program = program.replace(text, replacement)
    files["program.js"] = program
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


def speed_up_jsii_calls() -> None:
    """Send jsii's `create` and `invoke` requests, nearly every request of a render, the short way; the requests and
    the values they give back are those of jsii's own path.

    jsii's own path walks every argument twice before encoding it (`_make_reference_for_native`, then cattrs),
    reads each struct field through a getter that builds a `typing.Optional[...]` on each read, decodes every
    answer with a Python hook called for each JSON object, and walks the answer again for object references. Here
    the arguments go to the C JSON encoder as they are, structs and jsii objects being turned into their wire form
    by its `default` hook (`wire`); an answer without any jsii token (a chart's objects) is decoded by the C decoder
    alone; anything else (callbacks, errors, references inside answers) takes jsii's own way.
    Used by the render workers; the plain engine renders without it, and tests/test_engines.py checks that both give
    the same files.
    """
    import json

    import jsii
    import jsii._kernel as kernel_module
    from jsii import _reference_map
    from jsii._kernel.providers import process as process_module
    from jsii._kernel.types import CreateResponse, InvokeResponse
    from jsii._runtime import kernel
    from jsii._stack_trace import is_enabled as stack_traces_enabled
    from jsii.errors import ErrorType, JavaScriptError, JSIIError

    if getattr(kernel_module.Kernel.create, "__sped_up__", False) or stack_traces_enabled():
        return  # with JSII_DEBUG stack traces, requests carry them: jsii's own path
    node = kernel.provider._process  # type: ignore[attr-defined]
    make_reference = kernel_module._make_reference_for_native

    def wire(value: object) -> object:
        """The wire form of what JSON cannot encode by itself: a struct by value, anything else as jsii sends it."""
        mapping = getattr(type(value), "__jsii_name_mapping__", None)
        values = getattr(value, "_values", None)
        if mapping is not None and isinstance(values, dict):
            fqn = type(value).__jsii_type__  # type: ignore[attr-defined]
            # Fields left unset are left out, not sent as null: the kernel reads both as undefined.
            data = {
                jsii_name: values[python_name] for python_name, jsii_name in mapping.items() if python_name in values
            }
            return {"$jsii.struct": {"fqn": fqn, "data": data}}
        converted = make_reference(kernel, value)  # enums; Python objects that implement a jsii interface
        return converted if converted is not value else process_module.jdefault(value)  # type: ignore[no-untyped-call]

    encode = json.JSONEncoder(default=wire).encode

    def exchange(request: dict[str, object]) -> bytes:
        process = node._process
        process.stdin.write(encode(request).encode() + b"\n")
        process.stdin.flush()
        return process.stdout.readline()  # type: ignore[no-any-return]

    def jsiis_way(kernel: Any, answer: bytes, response_type: type) -> Any:
        """An answer the short way does not take, read as jsii's own path reads it (jsii/_kernel/providers/process.py
        `send`, then the Kernel's method): callbacks answered until the result comes, errors raised."""
        message = json.loads(answer, object_hook=process_module.ohook)
        response = node._serializer.structure(message, process_module._ProcessResponse)
        if isinstance(response, process_module._CallbackResponse):
            return kernel_module._callback_till_result(kernel, response.callback, response_type)
        if isinstance(response, process_module._OkayResponse):
            result = node._serializer.structure(response.ok, response_type)
            return result.result if isinstance(result, InvokeResponse) else result
        cause = JavaScriptError(response.stack)  # type: ignore[no-untyped-call]
        if response.name == ErrorType.JSII_FAULT.value:
            raise JSIIError(response.error) from cause
        raise RuntimeError(response.error) from cause

    def create(self: Any, klass: type, obj: Any, args: list[Any] | None = None) -> Any:
        request = {
            "api": "create",
            "fqn": getattr(klass, "__jsii_type__", None) or "Object",
            "args": args or [],
            "overrides": node._serializer.unstructure(kernel_module._get_overides(klass, obj)),
            "interfaces": [interface.__jsii_type__ for interface in getattr(klass, "__jsii_ifaces__", [])],
        }
        answer = exchange(request)
        reference = json.loads(answer).get("ok")
        if isinstance(reference, dict) and reference.keys() <= {"$jsii.byref", "$jsii.interfaces"}:
            obj.__jsii_ref__ = CreateResponse(
                ref=reference["$jsii.byref"], interfaces=reference.get("$jsii.interfaces")
            )
        else:
            obj.__jsii_ref__ = jsiis_way(self, answer, CreateResponse)
        _reference_map.register_reference(obj)
        return obj.__jsii_ref__

    def invoke(self: Any, obj: Any, method: str, args: list[Any] | None = None) -> Any:
        reference = process_module._unstructure_ref(obj.__jsii_ref__)  # type: ignore[no-untyped-call]
        answer = exchange({"api": "invoke", "objref": reference, "method": method, "args": args or []})
        if b'"$jsii.' not in answer:  # nothing in it to turn into Python objects
            message = json.loads(answer)
            if "ok" in message:
                return message["ok"].get("result")
        return kernel_module._recursize_dereference(self, jsiis_way(self, answer, InvokeResponse))

    create.__sped_up__ = True  # type: ignore[attr-defined]
    kernel_module.Kernel.create = create  # type: ignore[method-assign]
    kernel_module.Kernel.invoke = invoke  # type: ignore[method-assign]
    # The generated bindings call jsii.create and jsii.invoke: the kernel's methods, bound when jsii was imported.
    jsii.create = kernel.create
    jsii.invoke = kernel.invoke
