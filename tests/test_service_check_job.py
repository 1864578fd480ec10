"""ServiceCheckJob: a hook Job calling a Service in the cluster; its rendered script run for real against a local
HTTP server, its pods hardened and isolated, the service admitting them by reference."""

from __future__ import annotations

import dataclasses
import http.server
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from constructs_lib import (
    AppService,
    AppServiceProps,
    NetworkAccess,
    PropsError,
    ServiceCheckJob,
    ServiceCheckJobProps,
)
from tests.construct_helpers import IMAGE, PROBE, RESOURCES, synth
from value_types.images import ImageSettings

CURL = ImageSettings(repository="curlimages/curl", tag="8.11.1")


def _build(chart: Any, **overrides: Any) -> ServiceCheckJob:
    api = AppService(
        chart,
        "Api",
        AppServiceProps(
            name="web",
            image=IMAGE,
            port=3000,
            resources=RESOURCES,
            liveness_probe=PROBE,
            readiness_probe=PROBE,
            network_access=NetworkAccess(from_namespaces=["ingress-nginx"]),
        ),
    )
    props = ServiceCheckJobProps(
        name="web-smoke-test",
        labels=api.labels.for_component("smoke-test"),
        service=api,
        path="/health",
        image=CURL,
    )
    return ServiceCheckJob(chart, "Smoke", dataclasses.replace(props, **overrides))


def _objects(**overrides: Any) -> list[dict[str, Any]]:
    return synth(lambda chart: _build(chart, **overrides))


def _find(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    return found


def test_a_post_sync_hook_calling_the_service_by_its_in_cluster_name() -> None:
    job = _find(_objects(), "Job", "web-smoke-test")
    assert job["metadata"]["annotations"] == {
        "argocd.argoproj.io/hook": "PostSync",
        "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
    }
    assert job["spec"]["backoffLimit"] == 1
    assert job["spec"]["activeDeadlineSeconds"] == 300
    (container,) = job["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    # Namespace `apps` (the chart's), Service `web` on port 80 (AppService's default).
    assert env["URL"] == "http://web.apps.svc:80/health"
    assert env["EXPECTED_TEXT"] == ""
    assert container["image"] == "curlimages/curl:8.11.1"
    assert container["command"][:2] == ["/bin/sh", "-c"]


def test_hardened_like_every_pod() -> None:
    pod = _find(_objects(), "Job", "web-smoke-test")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert [mount["mountPath"] for mount in container["volumeMounts"]] == ["/tmp"]


def test_isolated_and_admitted_by_the_service_by_reference() -> None:
    manifests = _objects()
    job_pods = _find(manifests, "Job", "web-smoke-test")["spec"]["template"]["metadata"]["labels"]
    own = _find(manifests, "NetworkPolicy", "web-smoke-test")["spec"]
    assert all(job_pods[key] == value for key, value in own["podSelector"]["matchLabels"].items())
    assert own["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in own
    dns, to_api = own["egress"]
    assert {port["port"] for port in dns["ports"]} == {53}
    assert to_api["ports"] == [{"port": 3000, "protocol": "TCP"}]
    api_pods = _find(manifests, "Deployment", "web")["spec"]["selector"]["matchLabels"]
    assert to_api["to"] == [{"podSelector": {"matchLabels": api_pods}}]
    # The API's own policy admits the check's pods on its port.
    api_policy = _find(manifests, "NetworkPolicy", "web")["spec"]
    peers = api_policy["ingress"][0]["from"]
    assert {"podSelector": {"matchLabels": own["podSelector"]["matchLabels"]}} in peers


def test_not_isolated_renders_no_policy_of_its_own() -> None:
    assert [m["metadata"]["name"] for m in _objects(isolated=False) if m["kind"] == "NetworkPolicy"] == ["web"]


@pytest.mark.parametrize(
    ("overrides", "prop"),
    [
        ({"path": "health"}, "path"),
        ({"path": "/health$(id)"}, "path"),
        ({"retries": 21}, "retries"),
        ({"requests": 0}, "requests"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"retries": 10, "timeout_seconds": 30, "active_deadline_seconds": 60}, "active_deadline_seconds"),
        ({"phase": "AfterSync"}, "phase"),
    ],
)
def test_bad_props(overrides: dict[str, Any], prop: str) -> None:
    with pytest.raises(PropsError) as caught:
        _objects(**overrides)
    assert caught.value.prop == prop


# --- the rendered script, run ------------------------------------------------------------------------------------


ANSWERS = {
    "/health": (200, b'{"status":"ok"}'),
    "/version": (200, b'{"version":"1.2.3"}'),
    # the version contract: the first JSON string field "version", or the whole plain-text body
    "/version/json": (200, b'{\n  "version" : "1.4.10",\n  "deps": {"version": "1.4.1"}\n}\n'),
    "/version/text": (200, b"  1.4.10\n"),
    "/version/text-with-more": (200, b"core-pipeline 1.4.10\n"),
    "/version/json-without-it": (200, b'{"status":"1.4.10"}'),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = ANSWERS.get(self.path, (500, b"boom"))
        self.send_response(status)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _run(server: str, path: str, **overrides: Any) -> subprocess.CompletedProcess[str]:
    job = _find(_objects(path=path, retries=1, retry_delay_seconds=1, **overrides), "Job", "web-smoke-test")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    env["URL"] = env["URL"].replace("http://web.apps.svc:80", server)
    return subprocess.run(
        container["command"], env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60
    )


@pytest.mark.slow  # runs the script or main.py as a process
def test_the_rendered_script_passes_and_fails_as_the_service_answers(server: str) -> None:
    assert _run(server, "/health").returncode == 0
    assert _run(server, "/version", expected_text="1.2.3", requests=3).returncode == 0
    wrong_version = _run(server, "/version", expected_text="2.0.0")
    assert wrong_version.returncode != 0
    assert "without the expected text '2.0.0'" in wrong_version.stderr
    assert _run(server, "/broken").returncode != 0  # HTTP 500: curl --fail


@pytest.mark.parametrize("path", ["/version/json", "/version/text"])
def test_the_version_must_be_the_tag_exactly_not_a_substring(server: str, path: str) -> None:
    """The body names 1.4.10: that passes for 1.4.10 only, not for 1.4.1 (a substring of it) nor 1.4.100."""
    assert _run(server, path, expected_version="1.4.10", requests=2).returncode == 0
    for other in ("1.4.1", "1.4.100", "1.4"):
        result = _run(server, path, expected_version=other)
        assert result.returncode != 0, other
        assert f"answered version '1.4.10', not '{other}'" in result.stderr


@pytest.mark.parametrize("path", ["/version/text-with-more", "/version/json-without-it", "/health"])
def test_an_answer_outside_the_version_contract_fails(server: str, path: str) -> None:
    assert _run(server, path, expected_version="1.4.10").returncode != 0


def test_only_a_version_check_runs_the_version_comparison() -> None:
    """The smoke test's script and environment are what they were; the version check adds EXPECTED_VERSION."""
    (smoke,) = _find(_objects(), "Job", "web-smoke-test")["spec"]["template"]["spec"]["containers"]
    (verify,) = _find(_objects(path="/version", expected_version="1.2.3"), "Job", "web-smoke-test")["spec"]["template"][
        "spec"
    ]["containers"]
    assert "EXPECTED_VERSION" not in {item["name"] for item in smoke["env"]}
    assert "version" not in smoke["command"][2]
    assert {item["name"]: item["value"] for item in verify["env"]}["EXPECTED_VERSION"] == "1.2.3"
    assert '"$version" != "$EXPECTED_VERSION"' in verify["command"][2]


@pytest.mark.parametrize("version", ["", "1.4.1 ", "1.4.1'$(id)", "-1"])
def test_a_version_that_is_no_image_tag_is_refused(version: str) -> None:
    with pytest.raises(PropsError) as caught:
        _objects(expected_version=version)
    assert caught.value.prop == "expected_version"
