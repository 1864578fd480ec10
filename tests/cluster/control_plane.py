"""A real Kubernetes control plane for the cluster tests: etcd and kube-apiserver on loopback, and a small client.

No kubelet, scheduler or controller-manager: objects are stored and admitted exactly as in a cluster, but nothing
acts on them (no pod starts, no namespace is ever finalised). What a controller would create and a test needs (the
default ServiceAccount of a namespace, a claim's Bound status) the tests create themselves, saying so.

The binaries come from $KUBE_APISERVER and $ETCD: `make test-cluster` builds them from the Go modules pinned in
tools/control-plane/ (or takes the user's, e.g. from setup-envtest). Both processes run in a new session of their
own, are told to die with this process (PR_SET_PDEATHSIG, so a killed test run leaves no server behind) and are
stopped by pid when the fixture ends, whether the tests passed, failed or were interrupted.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Manifest = Mapping[str, Any]

# How long each server may take to answer its health check; kube-apiserver on a busy 2-core machine takes 5-20 s.
START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 15.0
# The Service ranges: dual-stack, so that the upgrade rules about ipFamilies meet a server that can allocate both.
SERVICE_CLUSTER_IP_RANGES = "10.0.0.0/16,fd00:10:96::/112"
FIELD_MANAGER = "argocd-controller"


class ControlPlaneError(Exception):
    """The control plane could not be started: a missing binary, a server that exits or never becomes ready."""


@dataclass(frozen=True)
class Binaries:
    kube_apiserver: Path
    etcd: Path

    @classmethod
    def from_environment(cls) -> Binaries:
        """$KUBE_APISERVER and $ETCD, each an executable file; a clear error naming what is missing otherwise."""
        found = {}
        for variable in ("KUBE_APISERVER", "ETCD"):
            value = os.environ.get(variable, "")
            if not value:
                raise ControlPlaneError(
                    f"${variable} is not set: run the cluster tests with `make test-cluster`, which builds kube-apiserver "
                    "and etcd (tools/control-plane/), or set KUBE_APISERVER and ETCD to the binaries (docs/cluster-tests.md)"
                )
            path = Path(value)
            if not (path.is_file() and os.access(path, os.X_OK)):
                raise ControlPlaneError(f"${variable}={value}: no such executable file")
            found[variable] = path.resolve()
        return cls(kube_apiserver=found["KUBE_APISERVER"], etcd=found["ETCD"])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the server binds it a moment later; a start that loses
    the race is retried with new ports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the test process goes, however it goes (Linux prctl)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ControlPlaneError(f"openssl {' '.join(args)} failed: {result.stderr.strip()}")


def make_certificates(folder: Path) -> None:
    """A CA; a serving certificate for 127.0.0.1; a client certificate in group system:masters (the tests act as
    cluster admin, as Argo CD's controller does); and the service-account signing key. EC P-256 keys, valid a day."""
    if shutil.which("openssl") is None:
        raise ControlPlaneError("the cluster tests need the `openssl` command to make their certificates")
    for name in ("ca", "server", "client", "service-account"):
        _openssl(
            "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{name}.key", cwd=folder
        )
    _openssl("pkey", "-in", "service-account.key", "-pubout", "-out", "service-account.pub", cwd=folder)
    _openssl(
        "req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=cluster-tests-ca", "-days", "1", "-out", "ca.crt",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    extensions = {
        "server": "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        "client": "extendedKeyUsage=clientAuth\n",
    }
    subjects = {"server": "/CN=kube-apiserver", "client": "/O=system:masters/CN=cluster-tests"}
    for name, text in extensions.items():
        (folder / f"{name}.ext").write_text("keyUsage=critical,digitalSignature\n" + text)
        _openssl("req", "-new", "-key", f"{name}.key", "-subj", subjects[name], "-out", f"{name}.csr", cwd=folder)
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "1", "-extfile", f"{name}.ext", "-out", f"{name}.crt",
            cwd=folder,
        )  # fmt: skip


@dataclass
class Response:
    status: int
    body: dict[str, Any]
    warnings: list[str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        return str(self.body.get("message", "")) if not self.ok else ""

    @property
    def reason(self) -> str:
        return str(self.body.get("reason", "")) if not self.ok else ""


@dataclass(frozen=True)
class ResourceType:
    plural: str
    namespaced: bool
    prefix: str  # /api/v1 or /apis/<group>/<version>


class Client:
    """Enough of the Kubernetes REST API for the tests: discovery, server-side apply, create, replace, delete, get.
    Thread-safe: one connection per thread."""

    def __init__(self, port: int, certificates: Path) -> None:
        self.port = port
        self._context = ssl.create_default_context(cafile=str(certificates / "ca.crt"))
        self._context.load_cert_chain(str(certificates / "client.crt"), str(certificates / "client.key"))
        self._local = threading.local()
        self._types: dict[tuple[str, str], ResourceType] = {}
        self._types_lock = threading.Lock()

    # --- transport ----------------------------------------------------------------------------------------------

    def _connection(self) -> http.client.HTTPSConnection:
        connection: http.client.HTTPSConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self._context, timeout=60)
            self._local.connection = connection
        return connection

    def request(
        self, method: str, path: str, body: Any = None, *, content_type: str = "application/json", **query: str
    ) -> Response:
        if query:
            path += "?" + urllib.parse.urlencode(query)
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = content_type
        for attempt in range(2):  # a kept-alive connection the server closed meanwhile: once more on a new one
            connection = self._connection()
            try:
                connection.request(method, path, body=payload, headers=headers)
                raw = connection.getresponse()
                data = raw.read()
            except (http.client.HTTPException, ConnectionError, ssl.SSLError):
                connection.close()
                self._local.connection = None
                if attempt:
                    raise
                continue
            warnings = [_warning_text(value) for value in raw.headers.get_all("Warning") or []]
            try:
                parsed = json.loads(data) if data else {}
            except ValueError:
                parsed = {"message": data.decode(errors="replace")}
            return Response(raw.status, parsed if isinstance(parsed, dict) else {"items": parsed}, warnings)
        raise AssertionError("unreachable")

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()

    # --- discovery ------------------------------------------------------------------------------------------------

    def discover(self) -> None:
        """(apiVersion, kind) -> where its objects live, from the server's discovery documents (again after CRDs)."""
        types: dict[tuple[str, str], ResourceType] = {}
        prefixes = ["/api/v1"]
        groups = self.request("GET", "/apis").body.get("groups", [])
        prefixes += [f"/apis/{version['groupVersion']}" for group in groups for version in group["versions"]]
        for prefix in prefixes:
            response = self.request("GET", prefix)
            if not response.ok:  # an aggregated API that is not available: nothing of ours uses one
                continue
            group_version = response.body["groupVersion"]
            for resource in response.body.get("resources", []):
                if "/" in resource["name"]:  # a subresource
                    continue
                types[(group_version, resource["kind"])] = ResourceType(
                    resource["name"], bool(resource["namespaced"]), prefix
                )
        with self._types_lock:
            self._types = types

    def resource_type(self, api_version: str, kind: str) -> ResourceType:
        found = self._types.get((api_version, kind))
        if found is None:
            raise LookupError(f"the server serves no {kind} in {api_version}")
        return found

    def path(self, manifest: Manifest, *, named: bool = True, namespace: str | None = None) -> str:
        kind = self.resource_type(str(manifest["apiVersion"]), str(manifest["kind"]))
        metadata = manifest.get("metadata", {})
        path = kind.prefix
        if kind.namespaced:
            path += f"/namespaces/{namespace or metadata.get('namespace') or 'default'}"
        path += f"/{kind.plural}"
        if named:
            path += f"/{metadata['name']}"
        return path

    # --- verbs ------------------------------------------------------------------------------------------------------

    def apply(
        self, manifest: Manifest, *, dry_run: bool = False, manager: str = FIELD_MANAGER, force: bool = False
    ) -> Response:
        """Server-side apply (kubectl apply --server-side), as `manager`; unknown or duplicate fields are errors,
        as with kubectl."""
        query = {"fieldManager": manager, "fieldValidation": "Strict"}
        if dry_run:
            query["dryRun"] = "All"
        if force:
            query["force"] = "true"
        return self.request(
            "PATCH", self.path(manifest), manifest, content_type="application/apply-patch+yaml", **query
        )

    def create(self, manifest: Manifest, *, dry_run: bool = False) -> Response:
        query = {"fieldValidation": "Strict", **({"dryRun": "All"} if dry_run else {})}
        return self.request("POST", self.path(manifest, named=False), manifest, **query)

    def replace(self, manifest: Manifest, *, dry_run: bool = False) -> Response:
        """kubectl replace: an update with the whole object, at the stored object's resourceVersion."""
        current = self.get(manifest)
        body = json.loads(json.dumps(manifest))
        body.setdefault("metadata", {})["resourceVersion"] = current.body["metadata"]["resourceVersion"]
        query = {"fieldValidation": "Strict", **({"dryRun": "All"} if dry_run else {})}
        return self.request("PUT", self.path(manifest), body, **query)

    def get(self, manifest: Manifest) -> Response:
        return self.request("GET", self.path(manifest))

    def delete(self, manifest: Manifest) -> Response:
        """kubectl delete: dependents in the background (a Job's default would wait for the garbage collector)."""
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        return self.request("DELETE", self.path(manifest), options)

    def merge_patch(self, manifest: Manifest, patch: Mapping[str, Any], *, subresource: str = "") -> Response:
        path = self.path(manifest) + (f"/{subresource}" if subresource else "")
        return self.request("PATCH", path, patch, content_type="application/merge-patch+json")

    def ensure_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        """The namespace (with `labels`) and its `default` ServiceAccount, which the controller-manager's
        service-account controller would create and without which the API server admits no pod there."""
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(labels or {})}}
        account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name}}
        for manifest in (namespace, account):
            response = self.apply(manifest, manager="cluster-tests")
            if not response.ok:
                raise AssertionError(f"{manifest['kind']} {name}: {response.status} {response.message}")

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.1)


def _warning_text(header: str) -> str:
    """The text of a `Warning: 299 - "text"` header."""
    _, _, rest = header.partition(" - ")
    text = rest.strip() if rest else header
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return text


@dataclass
class ControlPlane:
    """A running etcd and kube-apiserver, and a client acting as cluster admin."""

    folder: Path
    client: Client
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def apiserver_log(self) -> Path:
        return self.folder / "kube-apiserver.log"

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.folder / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """kube-apiserver first (it writes to etcd while it shuts down), then etcd: SIGTERM, then SIGKILL."""
        self.client.close()
        for name in ("kube-apiserver", "etcd"):
            process = self.processes.pop(name, None)
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _start(name: str, command: Sequence[str], folder: Path) -> subprocess.Popen[bytes]:
    log = open(folder / f"{name}.log", "wb")  # noqa: SIM115 (the child holds it; closed below, in this process)
    try:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
            start_new_session=True,  # a Ctrl-C reaches the test run, which stops the servers in order
            preexec_fn=_die_with_parent,  # only prctl: safe in the forked child
        )
    finally:
        log.close()


def _wait_ready(name: str, process: subprocess.Popen[bytes], ready: Callable[[], bool], plane: ControlPlane) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            raise ControlPlaneError(
                f"{name} exited with code {process.returncode} while starting; its log ends:\n{plane.log_tail(name)}"
            )
        with contextlib.suppress(OSError, http.client.HTTPException, ssl.SSLError):
            if ready():
                return
        if time.monotonic() > deadline:
            raise ControlPlaneError(
                f"{name} was not ready after {START_TIMEOUT_SECONDS:.0f} s; its log ends:\n{plane.log_tail(name)}"
            )
        time.sleep(0.2)


def _etcd_healthy(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/health")
        response = connection.getresponse()
        return response.status == 200 and json.loads(response.read()).get("health") == "true"
    finally:
        connection.close()


def _apiserver_ready(client: Client) -> bool:
    return client.request("GET", "/readyz").status == 200


def start_control_plane(binaries: Binaries, *, attempts: int = 3) -> ControlPlane:
    """etcd and kube-apiserver on free loopback ports, ready (`/readyz`), with the API discovered. Retried on new
    ports when a server loses a port to another process between the choice of the port and its bind."""
    last: ControlPlaneError | None = None
    for _ in range(attempts):
        folder = Path(tempfile.mkdtemp(prefix="control-plane-"))
        try:
            return _start_control_plane(binaries, folder)
        except ControlPlaneError as error:
            last = error
            shutil.rmtree(folder, ignore_errors=True)
            if "address already in use" not in str(error):
                raise
    assert last is not None
    raise last


def _start_control_plane(binaries: Binaries, folder: Path) -> ControlPlane:
    certificates = folder / "pki"
    certificates.mkdir()
    make_certificates(certificates)
    etcd_port, peer_port, apiserver_port = free_port(), free_port(), free_port()
    plane = ControlPlane(folder, Client(apiserver_port, certificates))
    try:
        etcd_url, peer_url = f"http://127.0.0.1:{etcd_port}", f"http://127.0.0.1:{peer_port}"
        plane.processes["etcd"] = etcd = _start(
            "etcd",
            [
                str(binaries.etcd),
                "--name=cluster-tests",
                f"--data-dir={folder / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=cluster-tests={peer_url}",
                "--unsafe-no-fsync",  # throw-away data: no fsync, much faster on a shared disk
                "--log-level=warn",
            ],
            folder,
        )
        _wait_ready("etcd", etcd, lambda: _etcd_healthy(etcd_port), plane)
        plane.processes["kube-apiserver"] = apiserver = _start(
            "kube-apiserver",
            [
                str(binaries.kube_apiserver),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={apiserver_port}",
                f"--cert-dir={folder / 'apiserver-certs'}",
                f"--tls-cert-file={certificates / 'server.crt'}",
                f"--tls-private-key-file={certificates / 'server.key'}",
                f"--client-ca-file={certificates / 'ca.crt'}",
                f"--service-account-key-file={certificates / 'service-account.pub'}",
                f"--service-account-signing-key-file={certificates / 'service-account.key'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGES}",
                "--authorization-mode=Node,RBAC",
                # What every real cluster sets (kubeadm, kind, managed ones): privileged containers are then Pod
                # Security admission's call, as the differential tests need, not refused by the API server alone.
                "--allow-privileged=true",
                # The `kubernetes` Service's endpoints would be 127.0.0.1, which the API refuses for an Endpoints.
                "--endpoint-reconciler-type=none",
                "--profiling=false",
                "--v=1",
            ],
            folder,
        )
        _wait_ready("kube-apiserver", apiserver, lambda: _apiserver_ready(plane.client), plane)
        plane.client.discover()
        return plane
    except BaseException:
        plane.stop()
        raise


@contextlib.contextmanager
def running_control_plane(binaries: Binaries) -> Iterator[ControlPlane]:
    """A control plane for the `with` block; stopped (and its folder removed) on the way out, however it is left.
    SIGTERM is turned into KeyboardInterrupt meanwhile, so that a terminated run stops the servers too."""
    previous = signal.getsignal(signal.SIGTERM)
    in_main_thread = threading.current_thread() is threading.main_thread()

    def terminated(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if in_main_thread:
        signal.signal(signal.SIGTERM, terminated)
    plane = start_control_plane(binaries)
    try:
        yield plane
    finally:
        try:
            plane.stop()
            shutil.rmtree(plane.folder, ignore_errors=True)
        finally:
            if in_main_thread:
                signal.signal(signal.SIGTERM, previous)
