"""The vendored CRDs in crds/ are what crds/sources.yaml says they are: byte for byte their recorded sha256, and
exactly the upstream files it names (by git blob id, so no network is needed), with nothing unrecorded."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from environment_model.paths import ROOT

CRD_DIR = ROOT / "crds"
SOURCES: dict[str, Any] = yaml.safe_load((CRD_DIR / "sources.yaml").read_text(encoding="utf-8"))
# Where one upstream file may end and the next begin: before a `---` line, or at the end of the file.
_DOCUMENT_START = re.compile(rb"^---\n", re.MULTILINE)


def git_blob_id(content: bytes) -> str:
    """What `git hash-object` prints for a file with this content (the id `git rev-parse <tag>:<path>` names)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def split_into_parts(data: bytes, blobs: list[str]) -> list[bytes] | None:
    """`data` cut into upstream files with these blob ids, in order, each optionally preceded by an added `---` line;
    None if it is not exactly that."""
    ends = sorted({match.start() for match in _DOCUMENT_START.finditer(data)} | {len(data)})
    parts: list[bytes] = []
    start = 0
    for blob in blobs:
        for end in (end for end in ends if end > start):
            piece = data[start:end]
            unprefixed = piece.removeprefix(b"---\n")
            if blob in (git_blob_id(piece), git_blob_id(unprefixed)):
                parts.append(piece)
                start = end
                break
        else:
            return None
    return parts if start == len(data) else None


def test_every_crd_file_is_recorded_and_every_record_has_its_file() -> None:
    on_disk = {path.name for path in CRD_DIR.glob("*.yaml")} - {"sources.yaml"}
    assert on_disk == set(SOURCES)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_crd_file_matches_its_recorded_sha256(name: str) -> None:
    data = (CRD_DIR / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == SOURCES[name]["sha256"], f"crds/{name} changed; see crds/README.md"


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_crd_file_is_exactly_its_upstream_files(name: str) -> None:
    source = SOURCES[name]
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", source["repository"])
    assert re.fullmatch(r"v\d+\.\d+\.\d+", source["tag"]) and re.fullmatch(r"[0-9a-f]{40}", source["commit"])
    blobs = [part["blob"] for part in source["parts"]]
    parts = split_into_parts((CRD_DIR / name).read_bytes(), blobs)
    assert parts is not None, f"crds/{name} is not {', '.join(part['path'] for part in source['parts'])} joined"


def test_crd_files_hold_only_custom_resource_definitions() -> None:
    for name in SOURCES:
        text = (CRD_DIR / name).read_text(encoding="utf-8")
        documents = [doc for doc in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if doc]
        assert documents and {(d["apiVersion"], d["kind"]) for d in documents} == {
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        }, name


def test_the_argo_cd_crds_include_application_set() -> None:
    """ApplicationSets are validated against their own CRD, from the whole argoproj.io group."""
    text = (CRD_DIR / "argoproj.io.yaml").read_text(encoding="utf-8")
    kinds = {doc["spec"]["names"]["kind"] for doc in yaml.load_all(text, Loader=yaml.CSafeLoader) if doc}
    assert kinds == {"Application", "ApplicationSet", "AppProject"}


def test_split_into_parts_refuses_a_changed_file() -> None:
    """The provenance check can fail: one byte changed, or a part left out, and the file no longer matches."""
    data = (CRD_DIR / "argoproj.io-application-appproject.yaml").read_bytes()
    blobs = [part["blob"] for part in SOURCES["argoproj.io-application-appproject.yaml"]["parts"]]
    assert split_into_parts(data, blobs) is not None
    assert split_into_parts(data.replace(b"Application", b"ApplicatioN", 1), blobs) is None
    assert split_into_parts(data, blobs[:1]) is None


def test_nothing_in_the_repository_reads_a_folder_beside_it() -> None:
    """A clone with nothing beside it works: no tracked text file names the shared folder the CRDs came from."""
    import subprocess

    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    )
    # Spelled in pieces so that this file passes its own check.
    beside = ("../" + "shared", "shared" + "/crds", '.parent / "' + "shared")
    offenders = [
        name
        for name in tracked
        if name and not name.startswith(("dist/", "imports/")) and any(text in _text(ROOT / name) for text in beside)
    ]
    assert offenders == []


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return ""
