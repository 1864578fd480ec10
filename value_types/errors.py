"""The one error type constructs raise for bad props (value_types.rules raises it for every rule)."""

from __future__ import annotations

from typing import Any


class PropsError(ValueError):
    """A construct prop has a value the construct cannot render.

    The message always names the construct, the prop, the bad value and what is allowed, so that the person
    reading a failed synth knows which line of which stack or settings file to change.
    """

    def __init__(self, construct: str, prop: str, value: Any, allowed: str) -> None:
        self.construct = construct
        self.prop = prop
        self.value = value
        self.allowed = allowed
        super().__init__(f"{construct}: prop '{prop}' has value {value!r}; allowed: {allowed}")

    def __reduce__(self) -> tuple[type[PropsError], tuple[str, str, Any, str]]:
        # Synth runs environments in worker processes; the error must survive the trip back to the parent.
        return (PropsError, (self.construct, self.prop, self.value, self.allowed))
