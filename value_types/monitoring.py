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
# What a relabeling regex may be, in words: Prometheus compiles it with Go's regexp (RE2 syntax), anchored.
RE2_ALLOWED = (
    "Prometheus compiles it with Go's RE2, anchored as ^(?s:<regex>)$: no lookaround, backreferences, possessive or "
    "atomic groups, or repetition beyond {1000}"
)


def re2_problem(regex: str) -> str | None:
    """Why Prometheus would refuse `regex` as a relabeling regex, if it would: RE2's own parser decides (Python's re
    takes `a++` and backreferences, and refuses `\\p{L}`), plus the two things Go's RE2 refuses and the C++ one
    takes: the `\\C` escape and capture names beyond ASCII letters, digits and '_'."""
    # Imported here: the settings are loaded by processes that never meet a regex, and RE2 is a compiled module.
    import re2  # type: ignore[import-untyped]

    try:
        regex.encode()
    except UnicodeEncodeError:  # YAML's "\\ud800" makes a lone surrogate, which neither UTF-8 nor Go can hold
        return _refused("a lone surrogate such as \\ud800 is not a character")
    options = re2.Options()
    options.log_errors = False  # RE2 would also print each refusal to stderr, beside our one message
    # On its own first: a regex that compiles only inside Prometheus' anchoring group (`a)|(b`) escapes the anchors.
    for pattern in (regex, f"^(?s:{regex})$"):
        try:
            compiled = re2.compile(pattern, options)
        except re2.error as error:
            reason = error.args[0].decode(errors="replace") if isinstance(error.args[0], bytes) else str(error)
            # RE2 quotes the rest of the regex after what it refused: enough of it to find the place.
            return _refused(reason if len(reason) <= 100 else reason[:97] + "...")
    if _has_any_byte_escape(regex):
        return _refused("\\C (any byte) is not in Go's RE2")
    odd_names = sorted(name for name in compiled.groupindex if not _ASCII_NAME.fullmatch(name))
    if odd_names:
        return _refused(f"capture names of ASCII letters, digits and '_' only in Go's RE2, not {', '.join(odd_names)}")
    return None


def _refused(reason: str) -> str:
    return f"is not a valid regular expression in RE2 syntax ({reason}); {RE2_ALLOWED}"


_ASCII_NAME = re.compile(r"[A-Za-z0-9_]+")


def _has_any_byte_escape(regex: str) -> bool:
    """Whether `regex` uses the escape `\\C`, outside a quoted `\\Q...\\E` part."""
    at = 0
    while (at := regex.find("\\", at)) != -1:
        escaped = regex[at + 1 : at + 2]
        if escaped == "C":
            return True
        if escaped == "Q":
            end = regex.find("\\E", at + 2)
            if end == -1:
                return False
            at = end
        at += 2
    return False


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
        problem = None if regex is None else re2_problem(regex)
        if problem:
            raise ValueError(problem)
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
