"""Credentials pasted where they do not belong: the one rule for what looks like a credential, in a name, a URL or
free text, and how a message shows a value without one. Settings refuse such values at load time; constructs
refuse a literal value under a credential-like variable name; every message, and everything a command prints (a
diff, the preview of an image edit, an error), redacts with `redact_credentials`. No pydantic import until a
settings model asks for a validator: the command line redacts with this module before pydantic is loaded."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationInfo

# What stands where a credential was.
REDACTED = "<redacted>"

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
# or after a space, quote, bracket, ',', '=' or '/', as in a URL a path has made one slash of), then '@' and a host.
# An image digest (`img:1.2@sha256:...`) is not one, nor is a bare user name such as git@github.com (short, or
# without a digit).
_BARE_USERINFO_IN_TEXT = re.compile(
    r"(?<![^\s'\"(\[{,=/])(?P<userinfo>[^\s/?#@'\"\[\]{}(),=]+)@(?=[\w\[])(?!sha(?:256|384|512):)"
)


def _bare_userinfo_is_credential(userinfo: str) -> bool:
    """A password (`user:password`), or a user part long and mixed enough to be a token."""
    return ":" in userinfo or (
        len(userinfo) >= 20 and any(c.isdigit() for c in userinfo) and any(c.isalpha() for c in userinfo)
    )


# An HTTP Authorization value (`Bearer <token>`, `Basic <base64 of user:password>`), wherever it is written: a header
# in a config file, a probe's httpHeaders, a command line. A plain word after the scheme is prose ("Basic auth").
_AUTHORIZATION = re.compile(r"\b(?P<scheme>(?i:bearer|basic))(?P<space>[ \t]+)(?P<token>[A-Za-z0-9._~+/-]{6,}=*)")
_PLAIN_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+")

# A long run of token characters (base64, base64url) mixing upper case, lower case and digits and reading as no words:
# a random key or token under any key name. Two kinds of value are left alone on purpose. Hex strings (no upper
# case): the digests and checksums the project renders itself (`image@sha256:<hex>`, `checksum/config` annotations)
# are hashes of public content, not credentials, and hiding them would hide the change a reviewer must see.
# Identifiers (`DeviceClassSpecV1Alpha3`, `kube_pod_container_status_restarts_total`, URL paths): mostly words, or
# cut by separators every few characters.
_TOKEN_RUN = re.compile(r"(?<![A-Za-z0-9+/_-])(?!sha(?:1|256|384|512)-)[A-Za-z0-9+/_-]{24,}={0,2}(?![A-Za-z0-9+/=_-])")
_WORD = re.compile(r"[A-Z]?[a-z]{3,}|[A-Z]{3,}(?![a-z])")
_TOKEN_MIN_LENGTH = 24
_TOKEN_MAX_WORDS = 0.6  # of the characters in words: 0.2 or so for a random token, 0.8 and more for an identifier


def _is_random_token(run: str) -> bool:
    """Whether a run of token characters (`_TOKEN_RUN`) reads as a random key rather than a hash or an identifier."""
    core = run.rstrip("=")
    if len(core) < _TOKEN_MIN_LENGTH or not (
        any(c.isupper() for c in core) and any(c.islower() for c in core) and any(c.isdigit() for c in core)
    ):
        return False
    if sum(core.count(separator) for separator in "-_/+") > len(core) / 8:
        return False
    return sum(len(word) for word in _WORD.findall(core)) <= _TOKEN_MAX_WORDS * len(core)


def _authorization_is_credential(token: str) -> bool:
    return _PLAIN_WORD.fullmatch(token) is None


def text_has_credentials(text: str) -> bool:
    """Whether a text embeds a credential: a URL with credentials (url_has_credentials), a user-info part with a
    password (or a token) without a scheme, a well-known credential shape, an Authorization value (`Bearer ...`,
    `Basic ...`), a long random token. Exactly what `redact_credentials` hides."""
    if any(url_has_credentials(match[0]) for match in _URL_USERINFO_IN_TEXT.finditer(text)):
        return True
    if any(_bare_userinfo_is_credential(match["userinfo"]) for match in _BARE_USERINFO_IN_TEXT.finditer(text)):
        return True
    if any(_authorization_is_credential(match["token"]) for match in _AUTHORIZATION.finditer(text)):
        return True
    if any(_is_random_token(match[0]) for match in _TOKEN_RUN.finditer(text)):
        return True
    return _CREDENTIAL_SHAPES.search(text) is not None


def redact_credentials(text: str) -> str:
    """`text` with every URL's user-info part replaced by `***` (with a scheme, or a password or token without
    one: `***@kafka:9092`), the token of every Authorization value (`Bearer <redacted>`), and every well-known
    credential shape and long random token by `<redacted>`: for messages and for every command's output (a value
    echoed in an error or shown in a diff must never carry a credential). Redacting twice changes nothing."""
    text = _URL_USERINFO_IN_TEXT.sub(lambda match: f"{match['scheme']}***@", text)
    text = _BARE_USERINFO_IN_TEXT.sub(
        lambda match: "***@" if _bare_userinfo_is_credential(match["userinfo"]) else match[0], text
    )
    text = _CREDENTIAL_SHAPES.sub(REDACTED, text)
    text = _AUTHORIZATION.sub(
        lambda match: (
            f"{match['scheme']}{match['space']}{REDACTED}" if _authorization_is_credential(match["token"]) else match[0]
        ),
        text,
    )
    return _TOKEN_RUN.sub(lambda match: REDACTED if _is_random_token(match[0]) else match[0], text)


def _no_credentials(url: str) -> str:
    if url_has_credentials(url):
        raise ValueError("must not hold a user name or password: credentials belong in a Secret, never in git")
    return url


def _no_credentials_inside(value: Any, info: ValidationInfo) -> Any:
    paths = secret_like_paths(value, str(info.field_name))
    if paths:
        raise ValueError(
            f"holds credentials at {', '.join(paths)}: a credential-like key, a URL or user:password@ with a user "
            "name or password, an Authorization token or a long random key is not allowed; credentials belong in a "
            "Secret, never in git"
        )
    return value


# The settings' validators, made when a settings model first imports them (module __getattr__): the command line
# redacts everything it prints with this module, notes and errors before the settings are loaded too, and pydantic
# is first imported by delivery.interrupts.import_pydantic (interrupts deferred; a synth starts its engine first).
_VALIDATORS: dict[str, Callable[..., Any]] = {
    # A URL field (settings): refused when it carries a user name or password.
    "NoCredentials": _no_credentials,
    # A free-form block (a ConfigMap's entries, filter settings, a command line) is rendered as written: no value in
    # it may be, or embed, a credential.
    "FreeForm": _no_credentials_inside,
}


def __getattr__(name: str) -> Any:
    """`NoCredentials` and `FreeForm`: pydantic AfterValidators for `Annotated[...]` settings fields."""
    if name not in _VALIDATORS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from pydantic import AfterValidator

    validator = AfterValidator(_VALIDATORS[name])
    globals()[name] = validator
    return validator
