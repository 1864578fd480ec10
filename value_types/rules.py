"""What a rule is: one Kubernetes (or project) rule for a value, written once, giving both errors.

A rule is pydantic metadata (`Annotated[str, DNS_LABEL]`): a settings file breaking it gets `must be <allowed>` at
the field's path, and the JSON schema gets the rule's pattern or range for editors. The same object checks a
construct's props (`DNS_LABEL.require("AppService", "name", name)`) and raises `PropsError` with the same words.
A refusal says in words what is allowed, never a regular expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from value_types.errors import PropsError


class _Rule:
    """The two faces every rule shares; a rule says what it allows (`allowed`) and whether a value is one."""

    allowed: str

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def require(self, construct: str, prop: str, value: Any) -> None:
        """Raise the construct's `PropsError` when `value` breaks the rule."""
        if not self.accepts(value):
            raise PropsError(construct, prop, value, self.allowed)

    def _json_schema(self) -> dict[str, Any]:
        return {}

    def _check_setting(self, value: Any) -> Any:
        if not self.accepts(value):
            raise ValueError(f"must be {self.allowed}")
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check_setting, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.update(self._json_schema())
        return json_schema


@dataclass(frozen=True)
class TextRule(_Rule):
    """One kind of text, such as a DNS label: a length limit and a pattern, a check for what a pattern cannot
    say (lengths of the dot-separated parts), and what is allowed in words, for messages."""

    allowed: str
    pattern: str
    max_length: int | None = None
    check: Callable[[str], bool] | None = None
    _compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", re.compile(self.pattern))

    def accepts(self, value: Any) -> bool:
        # The length first: a 100,000-character value is refused without scanning it.
        if not isinstance(value, str) or (self.max_length is not None and len(value) > self.max_length):
            return False
        return self._compiled.fullmatch(value) is not None and (self.check is None or self.check(value))

    def _json_schema(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"pattern": self.pattern}
        if self.max_length is not None:
            extra["maxLength"] = self.max_length
        return extra


@dataclass(frozen=True)
class ParsedRule(_Rule):
    """Text that must parse (a quantity, a cron schedule, a time zone): `parses` says whether it does. The JSON
    schema says nothing of it beyond the field's own examples."""

    allowed: str
    parses: Callable[[str], bool]

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and self.parses(value)


@dataclass(frozen=True)
class NumberRule(_Rule):
    """A whole number in a range, such as a port."""

    allowed: str
    low: int
    high: int

    def accepts(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high

    def _json_schema(self) -> dict[str, Any]:
        return {"minimum": self.low, "maximum": self.high}


def matching(pattern: str, allowed: str, max_length: int | None = None) -> TextRule:
    """A one-off text rule of a settings field: `pattern` (anchored), and what it allows in words."""
    return TextRule(allowed=allowed, pattern=pattern, max_length=max_length)
