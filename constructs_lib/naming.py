"""Name rules shared by constructs and settings (no cdk8s import: the settings loader uses it too).

Each Kubernetes naming rule is written once here, as a `TextRule`: the settings value types (delivery/models.py)
check it at load time and the constructs check the same rule on their props.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Literal values under names like these would put a credential into git; they must come from a Secret.
# "TOKENS" (plural, as in STATS_TOKENS) counts tokens rather than holding one.
_SECRET_LIKE = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN(?!S(?:_|$))|API_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.IGNORECASE)


def looks_secret(name: str) -> bool:
    """Whether an environment variable's (or setting's) name says it carries a credential."""
    return bool(_SECRET_LIKE.search(name))


def secret_like_paths(value: Any, path: str) -> list[str]:
    """Paths in nested data where a text value sits under a credential-like key (a count like `min_tokens: 10` is
    not one), or embeds a credential (`postgres://admin:pw@db`, `user:pw@host`, a token's shape): what a
    credential pasted into a free-form block would look like."""
    if isinstance(value, str):
        return [path] if text_has_credentials(value) else []
    if isinstance(value, Mapping):
        found = [f"{path}.{key}" for key, item in value.items() if looks_secret(str(key)) and isinstance(item, str)]
        for key, item in value.items():
            found.extend(hit for hit in secret_like_paths(item, f"{path}.{key}") if hit not in found)
        return found
    if isinstance(value, list):
        return [hit for index, item in enumerate(value) for hit in secret_like_paths(item, f"{path}[{index}]")]
    return []


# scheme://user:password@host/... : the user-info part of a URL, up to the first '@' before the path.
_URL_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s]*)@")


def url_has_credentials(url: str) -> bool:
    """Whether a URL carries a credential: a password (`user:pass@`), or any user name on http(s), where a token
    is commonly pasted as the user (`https://ghp_...@github.com`). `ssh://git@host` names a user only."""
    match = _URL_USERINFO.match(url)
    if match is None:
        return False
    return ":" in match["userinfo"] or match["scheme"].lower().startswith("http")


# The same user-info part anywhere in a text, and the shapes of well-known credentials: GitHub and Slack tokens,
# AWS access key ids, JSON Web Tokens, Discord bot tokens and webhook URLs (a webhook URL is its own credential),
# private keys.
_URL_USERINFO_IN_TEXT = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s]*@")
_CREDENTIAL_SHAPES = re.compile(
    r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}"
    r"|eyJ[\w-]{10,}\.[\w-]{10,}\.[\w-]*|[MN][A-Za-z0-9]{23,25}\.[\w-]{6}\.[\w-]{27,}"
    r"|https://(?:\w+\.)?discord(?:app)?\.com/api/webhooks/\S+|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)


# A user-info part without a scheme (`user:password@kafka:9092`, `<token>@host`): a word of its own (at the start,
# or after a space, quote, bracket, ',' or '='), then '@' and a host. An image digest (`img:1.2@sha256:...`) is not
# one, nor is a bare user name such as git@github.com (short, or without a digit).
_BARE_USERINFO_IN_TEXT = re.compile(
    r"(?<![^\s'\"(\[{,=])(?P<userinfo>[^\s/?#@'\"\[\]{}(),=]+)@(?=[\w\[])(?!sha(?:256|384|512):)"
)


def _bare_userinfo_is_credential(userinfo: str) -> bool:
    """A password (`user:password`), or a user part long and mixed enough to be a token."""
    return ":" in userinfo or (
        len(userinfo) >= 20 and any(c.isdigit() for c in userinfo) and any(c.isalpha() for c in userinfo)
    )


def text_has_credentials(text: str) -> bool:
    """Whether a text embeds a credential: a URL with credentials (url_has_credentials), a user-info part with a
    password (or a token) without a scheme, a well-known credential shape."""
    if any(url_has_credentials(match[0]) for match in _URL_USERINFO_IN_TEXT.finditer(text)):
        return True
    if any(_bare_userinfo_is_credential(match["userinfo"]) for match in _BARE_USERINFO_IN_TEXT.finditer(text)):
        return True
    return _CREDENTIAL_SHAPES.search(text) is not None


def redact_credentials(text: str) -> str:
    """`text` with every URL's user-info part replaced by `***` (with a scheme, or a password or token without
    one: `***@kafka:9092`) and every well-known credential shape by `<redacted>` (for messages: a value echoed in
    an error must never carry a credential)."""
    text = _URL_USERINFO_IN_TEXT.sub(lambda match: f"{match['scheme']}***@", text)
    text = _BARE_USERINFO_IN_TEXT.sub(
        lambda match: "***@" if _bare_userinfo_is_credential(match["userinfo"]) else match[0], text
    )
    return _CREDENTIAL_SHAPES.sub("<redacted>", text)


@dataclass(frozen=True)
class TextRule:
    """One kind of text, such as a DNS label: a length limit and a pattern, a check for what a pattern cannot
    say (lengths of the dot-separated parts), and what is allowed in words, for messages."""

    allowed: str
    pattern: str
    max_length: int | None = None
    check: Callable[[str], bool] | None = None
    _compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", re.compile(self.pattern))

    def accepts(self, value: str) -> bool:
        # The length first: a 100,000-character value is refused without scanning it.
        if self.max_length is not None and len(value) > self.max_length:
            return False
        return self._compiled.fullmatch(value) is not None and (self.check is None or self.check(value))


_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"


def _parts_are_labels(name: str) -> bool:
    return all(len(part) <= 63 for part in name.split("."))


def _network(cidr: str) -> bool:
    try:
        ipaddress.ip_network(cidr)
    except ValueError:
        return False
    return True


def _qualified_name(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    return len(name) <= 63 and (not prefix or (len(prefix) <= 253 and _parts_are_labels(prefix)))


DNS_LABEL = TextRule(
    allowed="a DNS label: 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit",
    pattern=f"^{_LABEL}$",
    max_length=63,
)
DNS_SUBDOMAIN = TextRule(
    allowed="a DNS name: labels of lowercase letters, digits and '-' (each 1-63, starting and ending with a letter "
    "or digit) joined by '.', at most 253 characters",
    pattern=rf"^{_LABEL}(\.{_LABEL})*$",
    max_length=253,
    check=_parts_are_labels,
)
HOST_NAME = TextRule(
    allowed="a lowercase DNS host name such as app.example.com: labels of letters, digits and '-' joined by '.', "
    "ending in a top-level domain of letters, at most 253 characters",
    pattern=rf"^({_LABEL}\.)+[a-z]{{2,63}}$",
    max_length=253,
    check=_parts_are_labels,
)
WILDCARD_HOST_NAME = TextRule(
    allowed=f"{HOST_NAME.allowed}, or a wildcard such as *.example.com",
    pattern=rf"^(\*\.)?({_LABEL}\.)+[a-z]{{2,63}}$",
    max_length=253,
    check=_parts_are_labels,
)
LABEL_KEY = TextRule(
    allowed="a label or annotation key: a name of at most 63 letters, digits, '-', '_' and '.' starting and ending "
    "with a letter or digit, optionally after a DNS name prefix and '/' (e.g. app.kubernetes.io/name)",
    pattern=rf"^({_LABEL}(\.{_LABEL})*/)?{_NAME}$",
    max_length=253 + 1 + 63,
    check=_qualified_name,
)
LABEL_VALUE = TextRule(
    allowed="a label value: empty, or at most 63 letters, digits, '-', '_' and '.' starting and ending with a letter "
    "or digit",
    pattern=rf"^({_NAME})?$",
    max_length=63,
)
SECRET_KEY = TextRule(
    allowed="a Secret or ConfigMap key: letters, digits, '-', '_' and '.', at most 253 characters",
    pattern=r"^[-._a-zA-Z0-9]+$",
    max_length=253,
)
IMAGE_TAG = TextRule(
    allowed="an image tag: 1-128 letters, digits, '_', '.' and '-', not starting with '.' or '-'",
    pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$",
    max_length=128,
)
REFRESH_INTERVAL = TextRule(
    allowed="a duration of hours, minutes and seconds such as 1h, 15m or 1h30m",
    pattern=r"^([0-9]+(s|m|h))+$",
    max_length=32,
)
CIDR = TextRule(
    allowed="an address range in CIDR notation such as 10.0.0.0/8 or 2001:db8::/32 (no address bits after the prefix)",
    pattern=r"^[0-9A-Fa-f:.]+/[0-9]{1,3}$",
    max_length=64,
    check=_network,
)
