"""Name rules shared by constructs and settings (no cdk8s import: the settings loader uses it too)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Literal values under names like these would put a credential into git; they must come from a Secret.
# "TOKENS" (plural, as in STATS_TOKENS) counts tokens rather than holding one.
_SECRET_LIKE = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN(?!S(?:_|$))|API_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.IGNORECASE)


def looks_secret(name: str) -> bool:
    """Whether an environment variable's (or setting's) name says it carries a credential."""
    return bool(_SECRET_LIKE.search(name))


def secret_like_paths(value: Any, path: str) -> list[str]:
    """Paths in nested data where a text value sits under a credential-like key (a count like `min_tokens: 10` is
    not one): what a token pasted into a free-form block would look like."""
    if isinstance(value, Mapping):
        found = [f"{path}.{key}" for key, item in value.items() if looks_secret(str(key)) and isinstance(item, str)]
        for key, item in value.items():
            found.extend(secret_like_paths(item, f"{path}.{key}"))
        return found
    if isinstance(value, list):
        return [hit for index, item in enumerate(value) for hit in secret_like_paths(item, f"{path}[{index}]")]
    return []
