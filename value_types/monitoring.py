"""Prometheus relabeling rules for ServiceMonitor endpoints: one typed shape for settings and props alike."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from value_types.model import StrictModel
from value_types.rules import matching

RelabelAction = Literal[
    "replace", "keep", "drop", "hashmod", "labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase", "keepequal",
    "dropequal",
]  # fmt: skip
# Prometheus' relabel_config: these actions write target_label, so it is mandatory for them.
_WRITES_TARGET = frozenset({"replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal"})
# ... and these decide on the source labels' values, so there must be some.
_READS_SOURCES = frozenset({"keep", "drop", "hashmod", "keepequal", "dropequal", "lowercase", "uppercase"})
# Prometheus compiles regexes with Go's RE2: no lookaround, no backreferences (which Python's re would accept).
_NOT_RE2 = re.compile(r"\(\?<?[=!]|\\[1-9]")

PrometheusLabelName = Annotated[
    str, matching(r"^[a-zA-Z_][a-zA-Z0-9_]*$", "a Prometheus label name: letters, digits and '_'", 128)
]
# A target label may name capture groups of the regex ($1, ${1}).
TargetLabel = Annotated[
    str,
    matching(r"^[a-zA-Z_$][a-zA-Z0-9_${}]*$", "a Prometheus label name, which may use capture groups ($1, ${1})", 128),
]


class RelabelingSettings(StrictModel):
    """One Prometheus relabeling rule (relabel_config) of a ServiceMonitor endpoint."""

    source_labels: list[PrometheusLabelName] = Field(
        default_factory=list, description="Labels whose values, joined by separator, the regex is matched against."
    )
    separator: str | None = Field(None, max_length=16, description="Joins the source labels' values. Default: ';'.")
    regex: str | None = Field(
        None, max_length=1024, description="RE2 regular expression (anchored by Prometheus). Default: '(.*)'."
    )
    target_label: TargetLabel | None = Field(None, description="Label written by replace, hashmod, ... actions.")
    replacement: str | None = Field(None, max_length=1024, description="Value written on a match. Default: '$1'.")
    modulus: int | None = Field(None, ge=1, le=1_000_000, description="hashmod's modulus; hashmod only.")
    action: RelabelAction = Field("replace", description="What the rule does.")

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, regex: str | None) -> str | None:
        if regex is None:
            return regex
        if _NOT_RE2.search(regex):
            raise ValueError("must be RE2 syntax, as Prometheus compiles it: no lookaround and no backreferences")
        try:
            re.compile(regex)
        except re.error as error:
            raise ValueError(f"is not a valid regular expression: {error}") from None
        return regex

    @model_validator(mode="after")
    def _fields_of_the_action(self) -> RelabelingSettings:
        if self.action in _WRITES_TARGET and self.target_label is None:
            raise ValueError(f"target_label is required with action {self.action}")
        if self.action in _READS_SOURCES and not self.source_labels:
            raise ValueError(f"source_labels are required with action {self.action}")
        if (self.action == "hashmod") != (self.modulus is not None):
            raise ValueError("modulus is required with action hashmod, and only there")
        return self
