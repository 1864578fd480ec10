"""Container images: the tag rule, tags that move, pull policies, and the image block of the settings.

A pod template changes only when something in it changes. An image pushed again under the same tag changes
nothing in git, so Argo CD never rolls the pods and each node keeps whatever it pulled last. Only tags that
always name the same build reach a cluster; CI writes the new tag (e.g. `sha-<commit>`) into the settings.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from value_types.model import StrictModel
from value_types.rules import TextRule

IMAGE_TAG = TextRule(
    allowed="an image tag: 1-128 letters, digits, '_', '.' and '-', not starting with '.' or '-'",
    pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$",
    max_length=128,
)
IMAGE_REPOSITORY = TextRule(
    pattern=r"^[a-z0-9.\-_/:]+[a-z0-9]$",
    allowed="an image name without tag: lowercase letters, digits, '.', '-', '_', '/' and ':' (a registry's port), "
    "ending with a letter or digit, no tag (no ':' after the last '/')",
    max_length=255,
    check=lambda repository: ":" not in repository.rsplit("/", 1)[-1],
)
# Tags that name a branch, a channel or a stage rather than one build: registries move them to each new push.
MUTABLE_TAGS = frozenset(
    {
        "latest", "main", "master", "trunk", "head", "develop", "development", "dev", "stable", "edge", "canary",
        "lts", "current", "next", "beta", "alpha", "preview", "unstable", "testing", "test", "staging", "prod",
        "production", "release", "rolling", "nightly", "daily", "weekly", "snapshot", "mainline", "experimental",
    }
)  # fmt: skip
PullPolicy = Literal["Always", "IfNotPresent", "Never"]
PULL_POLICIES: tuple[PullPolicy, ...] = ("Always", "IfNotPresent", "Never")


def mutable_tag_problem(tag: str) -> str | None:
    """Why `tag` cannot be deployed, if it cannot."""
    if tag.lower() in MUTABLE_TAGS:
        return (
            f"tag {tag!r} moves to new builds without any change in git, so the pods would never roll; use a tag "
            f"that always names one build (a version or sha-<commit>, bumped by CI), not a branch, channel or stage "
            "such as latest, stable, edge, canary, lts, main or nightly"
        )
    return None


def _immutable_tag(tag: str) -> str:
    problem = mutable_tag_problem(tag)
    if problem:
        raise ValueError(problem)
    return tag


class ImageSettings(StrictModel):
    """A container image: repository, tag and pull policy. CI bumps `tag` in the environment's file."""

    repository: Annotated[str, IMAGE_REPOSITORY] = Field(description="Image name without tag.")
    tag: Annotated[str, IMAGE_TAG, AfterValidator(_immutable_tag)] = Field(
        description="Image tag, one that always names the same build (mutable tags such as latest are refused); "
        "the app version label."
    )
    pull_policy: PullPolicy = Field("IfNotPresent", description="Kubernetes imagePullPolicy.")

    @property
    def reference(self) -> str:
        """`repository:tag`, as a container's `image` field takes it."""
        return f"{self.repository}:{self.tag}"
