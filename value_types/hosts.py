"""Addresses: host:port pairs, URLs (never with credentials), browser origins, HTTP methods and header names."""

from __future__ import annotations

from typing import Annotated, Literal

from value_types.credentials import NoCredentials
from value_types.names import DNS_SUBDOMAIN
from value_types.ports import PORT
from value_types.rules import ParsedRule, matching


def _host_and_port(address: str) -> bool:
    host, _, port = address.rpartition(":")
    return DNS_SUBDOMAIN.accepts(host) and port.isdigit() and PORT.accepts(int(port))


HOST_AND_PORT = ParsedRule(
    allowed="host:port, the host a DNS name such as kafka-0.kafka.data.svc, the port 1..65535", parses=_host_and_port
)
HostAndPort = Annotated[str, HOST_AND_PORT]

HttpUrl = Annotated[
    str,
    matching(r"^https?://\S+$", "an http:// or https:// URL without spaces", max_length=2048),
    NoCredentials,
]
HttpsUrl = Annotated[
    str,
    matching(r"^https://\S+$", "an https:// URL without spaces", max_length=2048),
    NoCredentials,
]
GitRepositoryUrl = Annotated[
    str,
    matching(
        r"^(https://|ssh://|git@)\S+$",
        "a git repository URL: https://host/path, ssh://git@host/path or git@host:path, without spaces",
        max_length=2048,
    ),
    NoCredentials,
]
Origin = Annotated[
    str,
    matching(
        r"^(\*|https?://[^\s/?#@]+)$",
        "a browser origin: http:// or https:// and a host with an optional :port, no path (or * for any origin)",
        max_length=2048,
    ),
]
# CORS lists end up in ingress annotations joined by ", ": a comma, space or line break inside one would change
# what the controller is told.
HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
HeaderName = Annotated[
    str,
    matching(
        r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$",
        "an HTTP header name: letters, digits and !#$%&'*+.^_`|~- (no spaces or commas)",
        max_length=256,
    ),
]
# Flag names become variables FEATURE_<NAME>, config keys variables of their own: ASCII only (isalnum() would take
# any Unicode letter, which no shell or env file carries).
