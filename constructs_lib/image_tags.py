"""Image tags that move (no cdk8s import: the settings models use it too).

A pod template changes only when something in it changes. An image pushed again under the same tag changes
nothing in git, so Argo CD never rolls the pods and each node keeps whatever it pulled last. Only tags that
always name the same build reach a cluster; CI writes the new tag (e.g. `sha-<commit>`) into the settings.
"""

from __future__ import annotations

MUTABLE_TAGS = frozenset({"latest", "main", "master", "stable", "edge", "dev", "develop", "nightly"})


def mutable_tag_problem(tag: str) -> str | None:
    """Why `tag` cannot be deployed, if it cannot."""
    if tag.lower() in MUTABLE_TAGS:
        return (
            f"tag {tag!r} moves to new builds without any change in git, so the pods would never roll; use a tag "
            f"that always names one build (a version or sha-<commit>, bumped by CI); not {', '.join(sorted(MUTABLE_TAGS))}"
        )
    return None
