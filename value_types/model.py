"""The base of every settings model and settings block."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys, wrong types and coercions ("3" for 3) are errors, and loaded settings are immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)
