"""Parsing of Kubernetes resource quantities, so that requests can be checked against limits before synth."""

from __future__ import annotations

import re
from decimal import Decimal

_CPU = re.compile(r"^(?P<number>\d+(\.\d+)?)(?P<unit>m?)$")
_MEMORY = re.compile(r"^(?P<number>\d+(\.\d+)?)(?P<unit>Ki|Mi|Gi|Ti|k|M|G|T)?$")
_MEMORY_FACTORS = {
    None: 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}

CPU_ALLOWED = "a CPU quantity such as '250m' or '1' (millicores with 'm', or whole cores)"
MEMORY_ALLOWED = "a memory quantity such as '512Mi' or '1Gi' (units Ki, Mi, Gi, Ti, k, M, G, T)"


def cpu_millis(value: str) -> Decimal:
    """CPU quantity in millicores; ValueError if `value` is not a CPU quantity."""
    match = _CPU.match(value)
    if not match:
        raise ValueError(f"{value!r} is not {CPU_ALLOWED}")
    number = Decimal(match["number"])
    return number if match["unit"] == "m" else number * 1000


def memory_bytes(value: str) -> Decimal:
    """Memory quantity in bytes; ValueError if `value` is not a memory quantity."""
    match = _MEMORY.match(value)
    if not match:
        raise ValueError(f"{value!r} is not {MEMORY_ALLOWED}")
    return Decimal(match["number"]) * _MEMORY_FACTORS[match["unit"]]
