"""Addresses: host:port pairs, URLs (never with credentials), browser origins, HTTP methods and header names."""

from __future__ import annotations

from typing import Annotated, Literal

from value_types.credentials import NoCredentials
from value_types.names import DNS_SUBDOMAIN
from value_types.ports import PORT
from value_types.rules import ParsedRule, TextRule, matching


def _host_and_port(address: str) -> bool:
    host, _, port = address.rpartition(":")
    return DNS_SUBDOMAIN.accepts(host) and port.isdigit() and PORT.accepts(int(port))


HOST_AND_PORT = ParsedRule(
    allowed="host:port, the host a DNS name such as kafka-0.kafka.data.svc, the port 1..65535", parses=_host_and_port
)
HostAndPort = Annotated[str, HOST_AND_PORT]

# What RFC 3986 allows in a URL: letters, digits, -._~:/?#[]@!$&'()*+,;= and %-escapes. Anything else must be
# percent-encoded: a '"' ends the href of a link made from the URL, '{{' starts a Go template in an alert annotation
# (Prometheus expands them), and a space or '<' splits the URL where a chat client or mail shows it.
_URL_SAFE = "-A-Za-z0-9._~:/?\\[\\]@!$&'()*+,;="
_URL_TEXT = rf"([{_URL_SAFE}#]|%[0-9A-Fa-f]{{2}})+"
_URL_CHARACTERS = (
    "without spaces, quotes, <, >, {, }, |, \\, ^ or ` (letters, digits, -._~:/?#[]@!$&'()*+,;= and %XX escapes only)"
)
HTTP_URL = TextRule(
    allowed=f"an http:// or https:// URL {_URL_CHARACTERS}", pattern=rf"^https?://{_URL_TEXT}$", max_length=2048
)
HTTPS_URL = TextRule(allowed=f"an https:// URL {_URL_CHARACTERS}", pattern=rf"^https://{_URL_TEXT}$", max_length=2048)
# A runbook page: each alert links to <runbook url>#<its anchor>, so the page's own URL has no fragment.
RUNBOOK_URL = TextRule(
    allowed=f"an https:// URL without a #fragment (each alert adds its own), {_URL_CHARACTERS}",
    pattern=rf"^https://([{_URL_SAFE}]|%[0-9A-Fa-f]{{2}})+$",
    max_length=2048,
)
HttpUrl = Annotated[str, HTTP_URL, NoCredentials]
HttpsUrl = Annotated[str, HTTPS_URL, NoCredentials]
RunbookUrl = Annotated[str, RUNBOOK_URL, NoCredentials]
GitRepositoryUrl = Annotated[
    str,
    TextRule(
        allowed=f"a git repository URL: https://host/path, ssh://git@host/path or git@host:path, {_URL_CHARACTERS}",
        pattern=rf"^(https://|ssh://|git@){_URL_TEXT}$",
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
