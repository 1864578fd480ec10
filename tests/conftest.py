"""Shared fixtures: every environment rendered once per test session, the way `make synth` renders it."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from delivery.pipeline import render
from delivery.pod_templates import pod_template_of
from engine import Manifest, RenderedEnvironment, use_bundled_node
from engine.plain import PlainEngine
from environment_model.paths import available_environments
from environment_model.registry import STACKS
from environment_model.settings import load_environment
from tests.yaml_snapshot import YamlSnapshotExtension

use_bundled_node()


def _session_temp_folder() -> str:
    """One temporary folder for the whole run, removed when it ends: what cdk8s (`Testing.app()` output folders),
    jsii (kernel folders), pytest and the subprocesses under test create in the temp folder goes there. Set before
    anything starts jsii, so its Node processes inherit it; removed at exit, after jsii's own exit handlers."""
    folder = tempfile.mkdtemp(prefix="k8s-workloads-tests-")
    os.environ["TMPDIR"] = folder
    tempfile.tempdir = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


SESSION_TEMP = _session_temp_folder()
# Ctrl-C as at a terminal, however the suite was started: a shell starts a background job (`make test &`, some CI
# runners) with SIGINT ignored, Python then keeps it ignored, and the processes the tests start inherit that, so
# the tests of what a Ctrl-C does would see no Ctrl-C. A handler set here is reset to the default in every child.
signal.signal(signal.SIGINT, signal.default_int_handler)
# Every render under test renders (a test that compares two renders must not read one from the cache); the
# tests of the cache name a folder of their own.
os.environ["RENDER_CACHE"] = "off"

ENVIRONMENTS = available_environments()


@pytest.fixture(scope="session")
def rendered() -> dict[str, RenderedEnvironment]:
    """environment -> stack -> objects, for every environment and stack.

    Rendered through the pipeline with the plain engine, in this process, so that jsii type-checks every struct the
    stacks build (`make synth` renders with the fast engine; tests/test_engines.py compares the two through dist/).
    """
    return render(PlainEngine(), {env: load_environment(env) for env in ENVIRONMENTS}, STACKS)


@pytest.fixture(scope="session")
def all_manifests(rendered: dict[str, RenderedEnvironment]) -> list[tuple[str, Manifest]]:
    """(environment, object) for every rendered object."""
    return [(env, m) for env, stacks in rendered.items() for objs in stacks.values() for m in objs]


@pytest.fixture
def yaml_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(YamlSnapshotExtension)


def find(manifests: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    """The one object of `kind` (and `name`); fails the test if there is not exactly one."""
    matches = [m for m in manifests if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def containers(manifest: Manifest) -> list[dict[str, Any]]:
    template = pod_template_of(manifest)
    assert template is not None, f"{manifest['kind']} has no pod template"
    pod = template["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]
