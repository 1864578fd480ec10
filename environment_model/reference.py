"""The settings reference (docs/settings.md), generated from the settings models so it cannot drift."""

from __future__ import annotations

import json
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from environment_model.settings import EnvironmentSettings


def settings_reference() -> str:
    lines = [
        "# Settings reference",
        "",
        "Generated from the settings models by `python main.py schema`; do not edit by hand.",
        "Each environment file `environments/<env>.yaml` holds these keys. Unknown keys are errors.",
        "",
        "| Key | Type | Default | Description |",
        "| --- | --- | --- | --- |",
    ]
    lines.extend(_rows(EnvironmentSettings, ""))
    return "\n".join(lines) + "\n"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        nested = _nested_model(field.annotation)
        # Whitespace collapsed: Python 3.13 strips docstrings' indentation, 3.11 does not.
        description = " ".join((field.description or (nested[0].__doc__ or "" if nested else "")).split())
        rows.append(f"| `{path}` | {_type_name(field.annotation)} | {_default(field)} | {description} |")
        if nested is not None:
            model_inside, step = nested
            rows.extend(_rows(model_inside, f"{path}{step}"))
    return rows


def _nested_model(annotation: Any) -> tuple[type[BaseModel], str] | None:
    """The model whose keys are listed under a field, and what a key path puts between the field's name and them:
    `.` for the model itself (or an optional one, or the first of a union of models), `[].` for a list's items,
    `.<key>.` for a dict's values."""
    if _is_model(annotation):
        return annotation, "."
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (list, dict) and args:
        return (args[-1], "[]." if origin is list else ".<key>.") if _is_model(args[-1]) else None
    return next(((arg, ".") for arg in args if _is_model(arg)), None)


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Annotated:  # a constrained type such as DnsLabel or TimeZone: name what it is built on
        return _type_name(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(arg) for arg in get_args(annotation))
    if origin is not None and getattr(origin, "__name__", "") == "Literal":
        return " \\| ".join(f"`{arg}`" for arg in get_args(annotation))
    if str(origin) == "typing.Literal":
        return " \\| ".join(f"`{arg}`" for arg in get_args(annotation))
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_type_name(arg) for arg in get_args(annotation))}]"
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type):
        return "object" if issubclass(annotation, BaseModel) else annotation.__name__
    return str(annotation)


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "**required**"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        value = value.model_dump()
        if len(json.dumps(value)) > 60:
            return "(see keys below)"
    return f"`{json.dumps(value)}`"
