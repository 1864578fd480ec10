"""renovate.json: its regex manager finds exactly the image repositories and tags written in the environment files,
and a bump it makes in place is a valid settings file; prod bumps wait for approval.

Renovate runs these expressions on RE2 (JavaScript named groups, no backreferences); Python's `re` reads the same
syntax once `(?<name>` is spelled `(?P<name>`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from environment_model.paths import ENVIRONMENTS_DIR, ROOT
from environment_model.settings import parse_environment
from environment_model.settings_file import read_settings_text

CONFIG: dict[str, Any] = json.loads((ROOT / "renovate.json").read_text(encoding="utf-8"))
(MANAGER,) = CONFIG["customManagers"]
ENVIRONMENT_FILES = sorted(ENVIRONMENTS_DIR.glob("*.yaml"))


def _python_regex(renovate_regex: str) -> re.Pattern[str]:
    assert r"\k<" not in renovate_regex, "RE2 has no backreferences"
    return re.compile(renovate_regex.replace("(?<", "(?P<"))


MATCHERS = [_python_regex(text) for text in MANAGER["matchStrings"]]


def found_images(text: str) -> list[re.Match[str]]:
    """What Renovate's `any` strategy extracts: every match of every expression."""
    return [match for matcher in MATCHERS for match in matcher.finditer(text)]


def written_images(data: Any) -> list[tuple[str, str]]:
    """(repository, tag) of every `image` mapping spelled out in a settings file."""
    if isinstance(data, dict):
        own = [(data["image"]["repository"], data["image"]["tag"])] if isinstance(data.get("image"), dict) else []
        return own + [image for key, value in data.items() if key != "image" for image in written_images(value)]
    if isinstance(data, list):
        return [image for item in data for image in written_images(item)]
    return []


def test_the_manager_reads_the_environment_files() -> None:
    (pattern,) = MANAGER["managerFilePatterns"]
    assert pattern.startswith("/") and pattern.endswith("/")
    file_pattern = re.compile(pattern[1:-1])
    assert ENVIRONMENT_FILES
    for path in ENVIRONMENT_FILES:
        assert file_pattern.search(str(path.relative_to(ROOT)))
    assert not file_pattern.search("dist/prod/verta/deployment-verta-ml.yaml")
    assert MANAGER["datasourceTemplate"] == "docker"


@pytest.mark.parametrize("path", ENVIRONMENT_FILES, ids=lambda path: path.name)
def test_every_image_in_the_file_is_found_once(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    expected = written_images(yaml.safe_load(text))
    assert len(expected) >= 8  # the premise: block and flow styles, several stacks
    found = [(match["depName"], match["currentValue"]) for match in found_images(text)]
    assert sorted(found) == sorted(expected)


@pytest.mark.parametrize("path", ENVIRONMENT_FILES, ids=lambda path: path.name)
def test_a_bump_in_place_is_a_valid_file_with_the_new_tag(path: Path) -> None:
    """Renovate replaces the captured tag inside the match; the file stays valid, quoting included."""
    text = path.read_text(encoding="utf-8")
    for match in found_images(text):
        start, end = match.span("currentValue")
        bumped = text[:start] + "9.9.9" + text[end:]
        source = read_settings_text(bumped, path.name)
        parse_environment(path.stem, source.data, source)
        assert (match["depName"], "9.9.9") in written_images(source.data)


def test_the_expressions_skip_a_commented_out_image() -> None:
    text = "svc:\n  # image:\n  #   repository: ghcr.io/x/y\n  #   tag: \"1.0\"\n  image: {repository: ghcr.io/x/z, tag: '2.0'}\n"
    assert [(m["depName"], m["currentValue"]) for m in found_images(text)] == [("ghcr.io/x/z", "2.0")]


def test_prod_bumps_wait_for_approval_and_never_automerge() -> None:
    prod_rules = [rule for rule in CONFIG["packageRules"] if "environments/prod.yaml" in rule.get("matchFileNames", [])]
    assert prod_rules and all(rule["dependencyDashboardApproval"] is True for rule in prod_rules)
    assert all(rule.get("automerge") is False for rule in prod_rules)
    assert not any(rule.get("automerge") for rule in CONFIG["packageRules"])


def test_the_python_locks_are_kept_fresh_and_cdk8s_moves_with_jsii() -> None:
    """The locks in requirements/ are rewritten by Renovate's lock maintenance with the command in their header, and
    one pull request moves the jsii-built packages together (a bump of one alone would pair bindings built for
    different versions)."""
    assert CONFIG["lockFileMaintenance"]["enabled"] is True
    patterns = [re.compile(pattern.strip("/")) for pattern in CONFIG["pip-compile"]["managerFilePatterns"]]
    locks = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "requirements").glob("*.txt"))
    assert locks == ["requirements/checkov.txt", "requirements/dev.txt", "requirements/render.txt"]
    for lock in locks:
        assert any(pattern.match(lock) for pattern in patterns), lock
        header = (ROOT / lock).read_text(encoding="utf-8").splitlines()[1]
        assert header.startswith("#    uv pip compile ") and "--generate-hashes" in header and f"-o {lock}" in header
    (group,) = [rule for rule in CONFIG["packageRules"] if rule.get("groupName") == "cdk8s and jsii"]
    assert sorted(group["matchPackageNames"]) == ["cdk8s", "cdk8s-plus-27", "constructs", "jsii"]
