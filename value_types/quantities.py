"""Kubernetes resource quantities (CPU, memory, storage), parsed so that requests can be checked against limits
before synth, and the container resources block the settings and the constructs share."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator

from value_types.model import StrictModel
from value_types.rules import ParsedRule

# ASCII digits, and the whole value (fullmatch): Python's \d takes any Unicode digit ('٣') and a '$' matches before a
# trailing line break ('250m\n' from a YAML block scalar), both of which the API server refuses.
_CPU = re.compile(r"(?P<number>[0-9]+(\.[0-9]+)?)(?P<unit>m?)")
_MEMORY = re.compile(r"(?P<number>[0-9]+(\.[0-9]+)?)(?P<unit>Ki|Mi|Gi|Ti|k|M|G|T)?")
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

CPU = ParsedRule(
    allowed="a CPU quantity such as '250m' or '1' (millicores with 'm', or whole cores)",
    parses=lambda value: _CPU.fullmatch(value) is not None,
)
MEMORY = ParsedRule(
    allowed="a memory quantity such as '512Mi' or '1Gi' (units Ki, Mi, Gi, Ti, k, M, G, T)",
    parses=lambda value: _MEMORY.fullmatch(value) is not None,
)


def cpu_millis(value: str) -> Decimal:
    """CPU quantity in millicores; ValueError if `value` is not a CPU quantity."""
    match = _CPU.fullmatch(value)
    if not match:
        raise ValueError(f"{value!r} is not {CPU.allowed}")
    number = Decimal(match["number"])
    return number if match["unit"] == "m" else number * 1000


def memory_bytes(value: str) -> Decimal:
    """Memory quantity in bytes; ValueError if `value` is not a memory quantity."""
    match = _MEMORY.fullmatch(value)
    if not match:
        raise ValueError(f"{value!r} is not {MEMORY.allowed}")
    return Decimal(match["number"]) * _MEMORY_FACTORS[match["unit"]]


CpuQuantity = Annotated[str, CPU, Field(examples=["250m", "1"])]
MemoryQuantity = Annotated[str, MEMORY, Field(examples=["256Mi", "1Gi"])]


class ResourceAmounts(StrictModel):
    """CPU and memory of one side (requests or limits)."""

    cpu: CpuQuantity
    memory: MemoryQuantity


class ResourceSettings(StrictModel):
    """Container requests and limits; requests may not exceed limits."""

    requests: ResourceAmounts
    limits: ResourceAmounts

    @classmethod
    def of(cls, cpu_request: str, memory_request: str, cpu_limit: str, memory_limit: str) -> ResourceSettings:
        """A default written the way the seeds state it: requests, then limits."""
        return cls(
            requests=ResourceAmounts(cpu=cpu_request, memory=memory_request),
            limits=ResourceAmounts(cpu=cpu_limit, memory=memory_limit),
        )

    @field_validator("limits")
    @classmethod
    def _limits_cover_requests(cls, limits: ResourceAmounts, info: ValidationInfo) -> ResourceAmounts:
        requests = info.data.get("requests")
        if requests is None:
            return limits
        if cpu_millis(limits.cpu) < cpu_millis(requests.cpu):
            raise ValueError(f"cpu limit {limits.cpu} is below the cpu request {requests.cpu}")
        if memory_bytes(limits.memory) < memory_bytes(requests.memory):
            raise ValueError(f"memory limit {limits.memory} is below the memory request {requests.memory}")
        return limits
