"""Name rules shared by constructs and settings (no cdk8s import: the settings loader uses it too)."""

from __future__ import annotations

import re

# Literal values under names like these would put a credential into git; they must come from a Secret.
_SECRET_LIKE = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.IGNORECASE)


def looks_secret(name: str) -> bool:
    """Whether an environment variable's (or setting's) name says it carries a credential."""
    return bool(_SECRET_LIKE.search(name))
