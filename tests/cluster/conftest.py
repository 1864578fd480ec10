"""The cluster tests (docs/cluster-tests.md): the rendered output against a real kube-apiserver and etcd.

They run with `make test-cluster` only, which sets CLUSTER_TESTS=1 and points KUBE_APISERVER and ETCD at the
binaries (CI runs both `make test` and `make test-cluster`). `make test` (pytest over tests/) collects none of them:
nothing is reported skipped. Once they run, nothing here may skip: a missing or broken binary, or a server that does
not start, is an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import report
from tests.cluster.control_plane import Binaries, Client, ControlPlane, running_control_plane
from tests.cluster.rendered import crd_documents

CLUSTER_TESTS = os.environ.get("CLUSTER_TESTS") == "1"
# Without CLUSTER_TESTS=1 no module here is collected.
collect_ignore = [] if CLUSTER_TESTS else sorted(path.name for path in Path(__file__).parent.glob("test_*.py"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A cluster test that skips fails instead: a check that quietly does not run is worse than none."""
    result = yield
    test_report: pytest.TestReport = result  # type: ignore[assignment]
    if CLUSTER_TESTS and test_report.skipped and not hasattr(test_report, "wasxfail"):
        test_report.outcome = "failed"
        test_report.longrepr = f"a cluster test may not skip: {test_report.longrepr}"
    return result


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if report.LINES:
        terminalreporter.section("what the cluster tests checked")
        for line in report.LINES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def binaries() -> Binaries:
    return Binaries.from_environment()


def install_crds(client: Client) -> int:
    """Every CRD in crds/, applied server-side (the ApplicationSet CRD is too large for a client-side apply) and
    Established, and the API discovered again so that their kinds can be addressed. The number installed."""
    documents = crd_documents()
    for document in documents:
        response = client.apply(document.manifest, force=True)
        assert response.ok, f"{document.where}: CRD {document.manifest['metadata']['name']}: {response.message}"
    names = sorted({document.manifest["metadata"]["name"] for document in documents})

    def established() -> bool:
        for name in names:
            crd = client.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}").body
            conditions = {c["type"]: c["status"] for c in crd.get("status", {}).get("conditions", [])}
            if conditions.get("Established") != "True":
                return False
        return True

    client.wait_for("the CRDs to be Established", established)
    served = {
        (f"{document.manifest['spec']['group']}/{version['name']}", document.manifest["spec"]["names"]["kind"])
        for document in documents
        for version in document.manifest["spec"]["versions"]
        if version.get("served")
    }

    def discovered() -> bool:
        client.discover()
        missing = []
        for api_version, kind in served:
            try:
                client.resource_type(api_version, kind)
            except LookupError:
                missing.append(kind)
        return not missing

    client.wait_for("the CRDs' kinds in the API discovery", discovered)
    return len(names)


@pytest.fixture(scope="session")
def control_plane(binaries: Binaries) -> Iterator[ControlPlane]:
    """One etcd and kube-apiserver for the session, with every CRD of crds/ installed."""
    with running_control_plane(binaries) as plane:
        count = install_crds(plane.client)
        version = plane.client.request("GET", "/version").body.get("gitVersion")
        report.add(f"control plane: kube-apiserver {version}, {count} CRDs from crds/ installed and Established")
        yield plane


@pytest.fixture(scope="session")
def client(control_plane: ControlPlane) -> Client:
    return control_plane.client


@pytest.fixture
def fresh_control_plane(binaries: Binaries) -> Iterator[ControlPlane]:
    """A control plane of its own (nothing any other test made exists in it), with the CRDs installed."""
    with running_control_plane(binaries) as plane:
        install_crds(plane.client)
        yield plane
