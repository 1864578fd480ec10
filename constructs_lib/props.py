"""What constructs and stacks share about props structures themselves."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import fields
from typing import Any


def same_named(source: object, target: type[Any], *, besides: Collection[str] = ()) -> dict[str, Any]:
    """The values `source` holds under the names of `target`'s fields (a props dataclass), but for those in
    `besides`: what a construct wrapping another passes on as it is, or a stack takes from its settings as they are.
    The rule it relies on: a field of the same name means the same thing, in the same type."""
    return {
        prop.name: getattr(source, prop.name)
        for prop in fields(target)
        if prop.name not in besides and hasattr(source, prop.name)
    }
