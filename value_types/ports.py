"""Ports: the number range and the name rule, for settings and props alike."""

from __future__ import annotations

from typing import Annotated

from value_types.rules import NumberRule, TextRule

PORT = NumberRule(allowed="a port number 1..65535", low=1, high=65535)
Port = Annotated[int, PORT]
# A container port's name (what a Service's targetPort or a probe may name): an IANA_SVC_NAME.
PORT_NAME = TextRule(
    allowed="a port name: 1-15 lowercase letters, digits and '-', with a letter, not starting or ending with '-'",
    pattern=r"^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    max_length=15,
)
