"""RecommendedLabels: the version label is a valid label value whatever the image tag."""

from __future__ import annotations

import pytest

from constructs_lib.labels import RecommendedLabels
from value_types.images import IMAGE_TAG
from value_types.names import LABEL_VALUE


@pytest.mark.parametrize(
    ("tag", "label"),
    [
        ("1.4.2", "1.4.2"),
        ("7.2.5-alpine", "7.2.5-alpine"),
        ("_nightly", "nightly"),
        ("1.0.0-", "1.0.0"),
        ("v" * 62 + "-x" + "y" * 64, "v" * 62),
    ],
)
def test_version_label_is_a_label_value_for_every_image_tag(tag: str, label: str) -> None:
    assert IMAGE_TAG.accepts(tag)
    version = RecommendedLabels(name="app", component="api", version=tag).all["app.kubernetes.io/version"]
    assert version == label
    assert LABEL_VALUE.accepts(version)
