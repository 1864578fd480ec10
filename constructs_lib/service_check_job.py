"""ServiceCheckJob: an Argo CD hook Job that calls an HTTP service inside the cluster and fails the sync when the
service does not answer as expected (a PostSync smoke test, a version check after a rollout)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from cdk8s import Chart
from constructs import Construct

from constructs_lib.app_service import AppService
from constructs_lib.container import ContainerSpec, PodSecurity
from constructs_lib.errors import PropsError
from constructs_lib.labels import RecommendedLabels
from constructs_lib.network_policy import EgressRule, PeerSelector
from constructs_lib.sync_hook_job import HookJobConstruct, HookPhase, SyncHookJobProps
from value_types.images import ImageSettings
from value_types.quantities import ResourceSettings

DEFAULT_CHECK_RESOURCES = ResourceSettings.of("10m", "16Mi", "100m", "64Mi")

# Every request must succeed (curl --fail: HTTP < 400) and its body must contain $EXPECTED_TEXT (empty: anything).
# curl retries refused connections and every error, a bounded number of times, each attempt bounded in time.
_CHECK_START = """set -eu
i=0
while [ "$i" -lt "$REQUESTS" ]; do
  body=$(curl --fail --silent --show-error --max-time "$TIMEOUT_SECONDS" --retry "$RETRIES" \\
    --retry-delay "$RETRY_DELAY_SECONDS" --retry-connrefused --retry-all-errors "$URL")
  case "$body" in
    *"$EXPECTED_TEXT"*) ;;
    *) echo "$URL answered without the expected text '$EXPECTED_TEXT'" >&2; exit 1 ;;
  esac
"""
# With an expected version, the answer must name exactly that version (VERSION_CONTRACT), compared as a whole string:
# 1.4.1 does not pass for 1.4.10. grep -o and sed are busybox's in the curl image (POSIX classes only).
VERSION_CONTRACT = (
    'a JSON body whose first string field "version" is the version (`{"version":"1.4.1"}`), or a plain-text body '
    "that is the version (white space around it ignored)"
)
_CHECK_VERSION = """  version=$(printf '%s' "$body" | grep -o '"version"[[:space:]]*:[[:space:]]*"[^"]*"' | head -n 1 \\
    | sed 's/.*"\\([^"]*\\)"$/\\1/')
  if [ -z "$version" ]; then
    version=$(printf '%s' "$body" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')
  fi
  if [ "$version" != "$EXPECTED_VERSION" ]; then
    echo "$URL answered version '$version', not '$EXPECTED_VERSION'" >&2
    exit 1
  fi
"""
_CHECK_END = """  i=$((i + 1))
done
echo "$URL answered as expected $REQUESTS time(s)"
"""


@dataclass(frozen=True, kw_only=True)
class ServiceCheckJobProps:
    """Props of `ServiceCheckJob`.

    Attributes:
        name: the Job's name.
        labels: its recommended labels (the component names the check, e.g. `smoke-test`).
        service: what it calls, by reference: its Service's in-cluster DNS name and port, and its pods (admitted to
            the check's pods when they are isolated).
        path: the URL path called, e.g. `/health`.
        image: a pinned image with curl and /bin/sh (e.g. `curlimages/curl`).
        expected_text: text every answer's body must contain. Default: none (any successful answer).
        expected_version: the version every answer must name exactly, by the contract in VERSION_CONTRACT (the
            first JSON string field `version`, or the whole plain-text body); not a substring: 1.4.1 fails for
            1.4.10. Default: none.
        requests: how many answers must succeed, one after the other (more than one samples several replicas
            behind the Service). Default 1.
        retries: curl's retries of one request (refused connections and every error). Default 5.
        retry_delay_seconds: pause between retries. Default 5.
        timeout_seconds: the longest one attempt may take. Default 5.
        phase: the Argo CD hook phase. Default `PostSync` (after every object of the sync is healthy).
        backoff_limit: new pods after a failed run before the sync fails. Default 1.
        active_deadline_seconds: the longest the Job may run, retries included. Default 300.
        resources: default 10m/16Mi requests, 100m/64Mi limits.
        security: UID/GID. Default 65532.
        isolated: render a NetworkPolicy for the check's pods (no ingress; egress only to DNS and the service's
            pods on their port). Default True.
    """

    name: str
    labels: RecommendedLabels
    service: AppService
    path: str
    image: ImageSettings
    expected_text: str | None = None
    expected_version: str | None = None
    requests: int = 1
    retries: int = 5
    retry_delay_seconds: int = 5
    timeout_seconds: int = 5
    phase: HookPhase = "PostSync"
    backoff_limit: int = 1
    active_deadline_seconds: int = 300
    resources: ResourceSettings = DEFAULT_CHECK_RESOURCES
    security: PodSecurity = field(default_factory=PodSecurity)
    isolated: bool = True


class ServiceCheckJob(HookJobConstruct):
    """A hook Job calling `service`'s in-cluster URL; a failed check fails the Job, and so the sync.

    Attributes:
        url: the URL it calls (`http://<service>.<namespace>.svc:<port><path>`; a headless Service's port is the pods').
    """

    def __init__(self, scope: Construct, id: str, props: ServiceCheckJobProps) -> None:
        super().__init__(scope, id)
        _validate(props)
        service = props.service
        namespace = Chart.of(self).namespace or "default"
        self.url = f"http://{service.service_name}.{namespace}.svc:{service.service_dns_port}{props.path}"
        env: Mapping[str, str] = {
            "URL": self.url,
            "EXPECTED_TEXT": props.expected_text or "",
            **({"EXPECTED_VERSION": props.expected_version} if props.expected_version is not None else {}),
            "REQUESTS": str(props.requests),
            "RETRIES": str(props.retries),
            "RETRY_DELAY_SECONDS": str(props.retry_delay_seconds),
            "TIMEOUT_SECONDS": str(props.timeout_seconds),
        }
        script = _CHECK_START + (_CHECK_VERSION if props.expected_version is not None else "") + _CHECK_END
        self._add_job(
            SyncHookJobProps(
                name=props.name,
                labels=props.labels,
                container=ContainerSpec(
                    name="check",
                    image=props.image,
                    resources=props.resources,
                    command=["/bin/sh", "-c", script],
                    env=env,
                ),
                phase=props.phase,
                backoff_limit=props.backoff_limit,
                active_deadline_seconds=props.active_deadline_seconds,
                security=props.security,
            ),
            [EgressRule(ports=[service.container_port], to=[PeerSelector(pod_labels=service.selector_labels)])]
            if props.isolated
            else None,
        )
        service.allow_from(self.job)


def _validate(props: ServiceCheckJobProps) -> None:
    construct = "ServiceCheckJob"
    if not props.path.startswith("/"):
        raise PropsError(construct, "path", props.path, "an absolute URL path such as /health")
    if any(character in props.path for character in " \"'`$\\"):
        raise PropsError(construct, "path", props.path, "a URL path without spaces, quotes, '$' or '\\'")
    if props.expected_version is not None and not re.fullmatch(
        r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}", props.expected_version
    ):
        raise PropsError(
            construct, "expected_version", props.expected_version, "an image tag: letters, digits, '.', '_', '+', '-'"
        )
    bounds = {
        "requests": (props.requests, 1, 100),
        "retries": (props.retries, 0, 20),
        "retry_delay_seconds": (props.retry_delay_seconds, 1, 300),
        "timeout_seconds": (props.timeout_seconds, 1, 300),
    }
    for prop, (value, low, high) in bounds.items():
        if not low <= value <= high:
            raise PropsError(construct, prop, value, f"an integer from {low} to {high}")
    # Every attempt may time out and every retry waits: the run must fit its deadline, or the Job is killed mid-way
    # and its logs say "DeadlineExceeded" instead of what failed.
    longest = props.requests * ((props.retries + 1) * props.timeout_seconds + props.retries * props.retry_delay_seconds)
    if longest > props.active_deadline_seconds:
        raise PropsError(
            construct,
            "active_deadline_seconds",
            props.active_deadline_seconds,
            f"at least the longest run its retries allow ({longest} s: requests x (retries + 1) x timeout_seconds "
            "+ requests x retries x retry_delay_seconds)",
        )
