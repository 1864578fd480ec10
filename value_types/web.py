"""Settings of what a web route does to requests and responses, shared by settings and constructs' props."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from value_types.model import StrictModel

# The Referrer-Policy values browsers understand (W3C Referrer Policy).
ReferrerPolicy = Literal[
    "no-referrer",
    "no-referrer-when-downgrade",
    "origin",
    "origin-when-cross-origin",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
]


class RateLimitSettings(StrictModel):
    requests_per_second: int = Field(ge=1, le=100000, description="Per client IP.")
    burst_multiplier: int = Field(5, ge=1, le=100, description="Burst as a multiple of the rate.")


class SecurityHeadersSettings(StrictModel):
    """Response headers added by the proxy in front of the application."""

    hsts_seconds: int = Field(
        31536000, ge=0, le=63072000, description="Strict-Transport-Security max-age (0 leaves the header out)."
    )
    hsts_include_subdomains: bool = Field(True, description="HSTS includeSubDomains.")
    frame_deny: bool = Field(True, description="X-Frame-Options: DENY.")
    content_type_nosniff: bool = Field(True, description="X-Content-Type-Options: nosniff.")
    referrer_policy: ReferrerPolicy = Field("strict-origin-when-cross-origin", description="Referrer-Policy.")
    content_security_policy: str | None = Field(
        None, max_length=4096, description="Content-Security-Policy; default: none (it is the application's)."
    )
