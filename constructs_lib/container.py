"""Container building blocks shared by every workload construct: image, resources, probes, env, hardening.

Each construct renders its containers through `render_container`, so the hardened defaults (non-root, read-only
root filesystem, no privilege escalation, all capabilities dropped, seccomp RuntimeDefault) live in one place.
cdk8s-plus' own container defaults (1000m CPU request, `imagePullPolicy: Always`, a TCP startup probe) are never
used: every field below comes from props.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any, Literal, Protocol

from cdk8s_plus_27 import k8s

from constructs_lib.errors import PropsError
from constructs_lib.k8s_values import int_or_string, quantity
from constructs_lib.scratch import NO_WRITABLE_TMP_ANNOTATION, SCRATCH_PATH
from value_types.credentials import looks_secret
from value_types.images import ImageSettings
from value_types.names import DNS_LABEL, ENV_VAR_NAME
from value_types.ports import PORT, PORT_NAME
from value_types.quantities import ResourceSettings


def render_resources(resources: ResourceSettings) -> k8s.ResourceRequirements:
    """A container's requests and limits; `ResourceSettings` (value_types.quantities) is the one type for them in
    settings and props alike, and checked that requests do not exceed limits when it was made."""
    return k8s.ResourceRequirements(
        requests={"cpu": quantity(resources.requests.cpu), "memory": quantity(resources.requests.memory)},
        limits={"cpu": quantity(resources.limits.cpu), "memory": quantity(resources.limits.memory)},
    )


@dataclass(frozen=True, kw_only=True)
class _ProbeTimings:
    """The timings every kind of probe shares. Defaults are Kubernetes' own, written out so the rendered YAML says
    what applies."""

    initial_delay_seconds: int = 0
    period_seconds: int = 10
    timeout_seconds: int = 1
    failure_threshold: int = 3
    success_threshold: int = 1

    def _check_timings(self, construct: str, prop: str) -> None:
        prefix = f"{prop}." if prop else ""
        for name, low in (
            ("initial_delay_seconds", 0),
            ("period_seconds", 1),
            ("timeout_seconds", 1),
            ("failure_threshold", 1),
            ("success_threshold", 1),
        ):
            if getattr(self, name) < low:
                raise PropsError(construct, prefix + f"{name}", getattr(self, name), f"an integer >= {low}")

    def _render(self, **action: Any) -> k8s.Probe:
        return k8s.Probe(
            **action,
            initial_delay_seconds=self.initial_delay_seconds,
            period_seconds=self.period_seconds,
            timeout_seconds=self.timeout_seconds,
            failure_threshold=self.failure_threshold,
            success_threshold=self.success_threshold,
        )


class HttpProbeTimings(Protocol):
    """A settings block describing an HTTP probe."""

    @property
    def path(self) -> str: ...
    @property
    def initial_delay_seconds(self) -> int: ...
    @property
    def period_seconds(self) -> int: ...
    @property
    def timeout_seconds(self) -> int: ...
    @property
    def failure_threshold(self) -> int: ...


@dataclass(frozen=True, kw_only=True)
class HttpProbe(_ProbeTimings):
    """An HTTP GET probe.

    Attributes:
        path: the URL path, e.g. `/health`.
        port: a container port name or number. Default: `http`.
        initial_delay_seconds: default 0.
        period_seconds: default 10.
        timeout_seconds: default 1.
        failure_threshold: default 3.
        success_threshold: default 1 (Kubernetes requires 1 for liveness and startup probes).
    """

    path: str
    port: int | str = "http"

    @classmethod
    def from_settings(cls, settings: HttpProbeTimings, port: int | str = "http") -> HttpProbe:
        """The probe a settings block describes (value_types' HttpProbeSettings, WatcherProbeSettings)."""
        return cls(
            path=settings.path,
            port=port,
            initial_delay_seconds=settings.initial_delay_seconds,
            period_seconds=settings.period_seconds,
            timeout_seconds=settings.timeout_seconds,
            failure_threshold=settings.failure_threshold,
        )

    def validate(self, construct: str, prop: str) -> None:
        prefix = f"{prop}." if prop else ""
        if not self.path.startswith("/"):
            raise PropsError(construct, prefix + "path", self.path, "an absolute URL path starting with '/'")
        self._check_timings(construct, prop)

    def render(self) -> k8s.Probe:
        return self._render(http_get=k8s.HttpGetAction(path=self.path, port=int_or_string(self.port)))


@dataclass(frozen=True, kw_only=True)
class ExecProbe(_ProbeTimings):
    """A probe that runs a command in the container (for servers that speak no HTTP, such as Redis).

    Attributes:
        command: the command and its arguments; exit code 0 is healthy.
        initial_delay_seconds, period_seconds, timeout_seconds, failure_threshold, success_threshold: as for
            `HttpProbe`, with the same Kubernetes defaults (0, 10, 1, 3, 1).
    """

    command: Sequence[str]

    def validate(self, construct: str, prop: str) -> None:
        if not self.command:
            raise PropsError(construct, f"{prop}.command", list(self.command), "a non-empty command")
        self._check_timings(construct, prop)

    def render(self) -> k8s.Probe:
        return self._render(exec=k8s.ExecAction(command=list(self.command)))


@dataclass(frozen=True, kw_only=True)
class TcpProbe(_ProbeTimings):
    """A probe that opens a TCP connection (for servers such as php-fpm that speak neither HTTP nor a CLI).

    Attributes:
        port: a container port name or number.
        initial_delay_seconds, period_seconds, timeout_seconds, failure_threshold, success_threshold: as for
            `HttpProbe`, with the same Kubernetes defaults (0, 10, 1, 3, 1).
    """

    port: int | str

    def validate(self, construct: str, prop: str) -> None:
        self._check_timings(construct, prop)

    def render(self) -> k8s.Probe:
        return self._render(tcp_socket=k8s.TcpSocketAction(port=int_or_string(self.port)))


Probe = HttpProbe | ExecProbe | TcpProbe


@dataclass(frozen=True, kw_only=True)
class ConfigMapKeyRef:
    """An environment variable read from one key of a ConfigMap.

    Attributes:
        env_name: the variable's name, e.g. `FILTERS`.
        config_map: the ConfigMap's name.
        key: the key inside the ConfigMap.
    """

    env_name: str
    config_map: str
    key: str


@dataclass(frozen=True, kw_only=True)
class SecretKeyRef:
    """An environment variable read from one key of an existing Secret (the value never enters this repo).

    Attributes:
        env_name: the variable's name, e.g. `POSTGRES_PASSWORD`.
        secret_name: the Secret's name.
        key: the key inside the Secret.
    """

    env_name: str
    secret_name: str
    key: str


@dataclass(frozen=True, kw_only=True)
class VolumeMount:
    """A mount of a pod volume into a container.

    Attributes:
        volume: the pod volume's name.
        mount_path: where it appears in the container.
        read_only: default False.
        sub_path: mount one entry of the volume. Default: the whole volume.
    """

    volume: str
    mount_path: str
    read_only: bool = False
    sub_path: str | None = None

    def render(self) -> k8s.VolumeMount:
        return k8s.VolumeMount(
            name=self.volume, mount_path=self.mount_path, read_only=self.read_only or None, sub_path=self.sub_path
        )


@dataclass(frozen=True, kw_only=True)
class ContainerSpec:
    """One container of a pod, hardened by `render_container`.

    Attributes:
        name: the container's name (a DNS label).
        image: image, tag and pull policy.
        resources: requests and limits (required: every container is sized).
        command: replaces the image's entrypoint. Default: the image's.
        args: arguments. Default: the image's.
        ports: named container ports, name -> number. Default: none.
        env: literal environment variables. Names that look like credentials are refused: use `secret_env`.
        secret_env: variables read from existing Secrets.
        config_env: variables read from keys of ConfigMaps.
        field_env: variables from the downward API, name -> field path (e.g. `metadata.namespace`).
        env_from_config_maps: ConfigMaps whose keys all become variables.
        env_from_secrets: existing Secrets whose keys all become variables (after the ConfigMaps, so they win).
        volume_mounts: mounts of pod volumes.
        liveness_probe, readiness_probe, startup_probe: HTTP or exec probes. Default: none.
        termination_message_policy: default `File` (Kubernetes' own).
        run_as_user: the container's own UID, when it must differ from (or be pinned regardless of) the pod's.
            Default: the pod's.
        post_start_command: a command run right after the container starts (a postStart hook). Default: none.
        writable_tmp: a writable emptyDir at `/tmp` (the root filesystem is read-only), added by `render_pod`
            unless something is mounted there already. Default True; False only for a program that writes
            nowhere but its own volumes (Redis: `--dir` is its data volume).
    """

    name: str
    image: ImageSettings
    resources: ResourceSettings
    command: Sequence[str] | None = None
    args: Sequence[str] | None = None
    ports: Mapping[str, int] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    secret_env: Sequence[SecretKeyRef] = ()
    config_env: Sequence[ConfigMapKeyRef] = ()
    field_env: Mapping[str, str] = field(default_factory=dict)
    env_from_config_maps: Sequence[str] = ()
    env_from_secrets: Sequence[str] = ()
    volume_mounts: Sequence[VolumeMount] = ()
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    termination_message_policy: Literal["File", "FallbackToLogsOnError"] = "File"
    run_as_user: int | None = None
    post_start_command: Sequence[str] | None = None
    writable_tmp: bool = True

    @property
    def env_names(self) -> list[str]:
        """Every variable this container sets one by one (not those from `env_from_*`)."""
        return [
            *self.env,
            *(ref.env_name for ref in self.secret_env),
            *(ref.env_name for ref in self.config_env),
            *self.field_env,
        ]

    def validate(self, construct: str, prop: str) -> None:
        prefix = f"{prop}." if prop else ""
        DNS_LABEL.require(construct, prefix + "name", self.name)
        for port_name, number in self.ports.items():
            PORT_NAME.require(construct, prefix + "ports", port_name)
            PORT.require(construct, prefix + f"ports.{port_name}", number)
        names: set[str] = set()
        for env_name, value in self.env.items():
            ENV_VAR_NAME.require(construct, prefix + "env", env_name)
            if looks_secret(env_name):
                raise PropsError(
                    construct,
                    prefix + f"env.{env_name}",
                    "<redacted>" if value else value,
                    "no literal value for a credential: reference a Secret through secret_env",
                )
            names.add(env_name)
        for source, env_names in (
            ("secret_env", [ref.env_name for ref in self.secret_env]),
            ("config_env", [ref.env_name for ref in self.config_env]),
            ("field_env", list(self.field_env)),
        ):
            for env_name in env_names:
                ENV_VAR_NAME.require(construct, prefix + source, env_name)
                if env_name in names:
                    raise PropsError(construct, prefix + source, env_name, "a name set only once across env sources")
                names.add(env_name)
        if self.run_as_user is not None and self.run_as_user < 1:
            raise PropsError(construct, prefix + "run_as_user", self.run_as_user, "a non-root id >= 1")
        if self.post_start_command is not None and not self.post_start_command:
            raise PropsError(construct, prefix + "post_start_command", [], "a non-empty command, or None")
        for probe_name in ("liveness_probe", "readiness_probe", "startup_probe"):
            probe = getattr(self, probe_name)
            if probe is None:
                continue
            probe.validate(construct, prefix + f"{probe_name}")
            if isinstance(probe, HttpProbe | TcpProbe) and isinstance(probe.port, str) and probe.port not in self.ports:
                raise PropsError(
                    construct,
                    prefix + f"{probe_name}.port",
                    probe.port,
                    f"one of the container's ports {sorted(self.ports)}",
                )
            if probe_name != "readiness_probe" and probe.success_threshold != 1:
                raise PropsError(
                    construct,
                    prefix + f"{probe_name}.success_threshold",
                    probe.success_threshold,
                    "1 (Kubernetes rule)",
                )


# Kubernetes 1.27's "safe" sysctls: namespaced, allowed by the restricted Pod Security Standard.
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
    }
)


@dataclass(frozen=True, kw_only=True)
class PodSecurity:
    """The identity a pod runs as. Default: UID/GID 65532 (the distroless `nonroot` user), fsGroup the same.

    Attributes:
        run_as_user: default 65532.
        run_as_group: default: same as `run_as_user`.
        fs_group: group that owns mounted volumes. Default: same as `run_as_group`.
        sysctls: namespaced sysctls, e.g. `net.ipv4.ip_unprivileged_port_start: "0"` so a non-root server may
            bind port 80 without any capability. Default: none.
    """

    run_as_user: int = 65532
    run_as_group: int | None = None
    fs_group: int | None = None
    sysctls: Mapping[str, str] = field(default_factory=dict)

    def validate(self, construct: str, prop: str) -> None:
        prefix = f"{prop}." if prop else ""
        for name in ("run_as_user", "run_as_group", "fs_group"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise PropsError(construct, prefix + f"{name}", value, "a non-root id >= 1")
        for sysctl in self.sysctls:
            if sysctl not in SAFE_SYSCTLS:
                raise PropsError(
                    construct, prefix + "sysctls", sysctl, f"one of the safe sysctls {sorted(SAFE_SYSCTLS)}"
                )

    def render(self) -> k8s.PodSecurityContext:
        group = self.run_as_group if self.run_as_group is not None else self.run_as_user
        return k8s.PodSecurityContext(
            run_as_non_root=True,
            run_as_user=self.run_as_user,
            run_as_group=group,
            fs_group=self.fs_group if self.fs_group is not None else group,
            seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
            sysctls=[k8s.Sysctl(name=name, value=value) for name, value in sorted(self.sysctls.items())] or None,
        )


def writable_scratch(paths: Sequence[str], prefix: str = "writable") -> tuple[list[k8s.Volume], list[VolumeMount]]:
    """emptyDir volumes and their mounts for the paths a container must write to under a read-only root."""
    named = [(f"{prefix}-{index}", path) for index, path in enumerate(sorted(paths), start=1)]
    volumes = [k8s.Volume(name=volume, empty_dir=k8s.EmptyDirVolumeSource()) for volume, _ in named]
    return volumes, [VolumeMount(volume=volume, mount_path=path) for volume, path in named]


@dataclass(frozen=True)
class RenderedPod:
    """A pod's rendered containers and volumes, each read-only-root container with its `/tmp` (`render_pod`)."""

    init_containers: list[k8s.Container]
    containers: list[k8s.Container]
    volumes: list[k8s.Volume]
    annotations: dict[str, str]


def render_pod(
    containers: Sequence[ContainerSpec],
    init_containers: Sequence[ContainerSpec] = (),
    volumes: Sequence[k8s.Volume] = (),
) -> RenderedPod:
    """The one place a pod's containers are rendered: every container (init containers included) runs with a
    read-only root filesystem, so each one that does not mount something at `/tmp` already gets an emptyDir there
    of its own (`<container>-tmp`), unless its spec says `writable_tmp=False`; those are named in the pod
    annotation `NO_WRITABLE_TMP_ANNOTATION`. Programs and their runtimes (npm's cache and logs, Python's tempfile,
    nginx's buffers) write to `/tmp`, and fail at the first write without it."""
    taken = {volume.name for volume in volumes}
    scratch: list[k8s.Volume] = []
    exempt: list[str] = []

    def with_tmp(spec: ContainerSpec) -> ContainerSpec:
        if not spec.writable_tmp:
            exempt.append(spec.name)
            return spec
        if any(mount.mount_path.rstrip("/") == SCRATCH_PATH for mount in spec.volume_mounts):
            return spec
        volume = _scratch_volume_name(spec.name)
        if volume in taken:
            raise PropsError("Pod", "volumes", volume, f"a name other than the scratch volume of container {spec.name}")
        taken.add(volume)
        scratch.append(k8s.Volume(name=volume, empty_dir=k8s.EmptyDirVolumeSource()))
        return replace(spec, volume_mounts=(*spec.volume_mounts, VolumeMount(volume=volume, mount_path=SCRATCH_PATH)))

    rendered_init = [render_container(with_tmp(spec)) for spec in init_containers]
    rendered = [render_container(with_tmp(spec)) for spec in containers]
    return RenderedPod(
        init_containers=rendered_init,
        containers=rendered,
        volumes=[*volumes, *scratch],
        annotations={NO_WRITABLE_TMP_ANNOTATION: ",".join(exempt)} if exempt else {},
    )


def _scratch_volume_name(container: str) -> str:
    # A container name is a DNS label (at most 63 characters), and so must the volume's be.
    name = f"{container}-tmp"
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(container.encode()).hexdigest()[:8]
    return f"{container[:50].rstrip('-')}-{digest}-tmp"


HARDENED_CONTAINER_SECURITY = k8s.SecurityContext(
    run_as_non_root=True,
    read_only_root_filesystem=True,
    allow_privilege_escalation=False,
    privileged=False,
    capabilities=k8s.Capabilities(drop=["ALL"]),
    seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
)


def render_env(spec: ContainerSpec) -> list[k8s.EnvVar]:
    literal = [k8s.EnvVar(name=name, value=value) for name, value in sorted(spec.env.items())]
    from_secrets = [
        k8s.EnvVar(
            name=ref.env_name,
            value_from=k8s.EnvVarSource(secret_key_ref=k8s.SecretKeySelector(name=ref.secret_name, key=ref.key)),
        )
        for ref in sorted(spec.secret_env, key=lambda ref: ref.env_name)
    ]
    from_config_maps = [
        k8s.EnvVar(
            name=ref.env_name,
            value_from=k8s.EnvVarSource(config_map_key_ref=k8s.ConfigMapKeySelector(name=ref.config_map, key=ref.key)),
        )
        for ref in sorted(spec.config_env, key=lambda ref: ref.env_name)
    ]
    from_fields = [
        k8s.EnvVar(name=name, value_from=k8s.EnvVarSource(field_ref=k8s.ObjectFieldSelector(field_path=path)))
        for name, path in sorted(spec.field_env.items())
    ]
    return literal + from_secrets + from_config_maps + from_fields


def container_security(run_as_user: int | None) -> k8s.SecurityContext:
    """The hardened container security context, with the container's own UID when it has one."""
    if run_as_user is None:
        return HARDENED_CONTAINER_SECURITY
    return _hardened_as(run_as_user)


@cache
def _hardened_as(run_as_user: int) -> k8s.SecurityContext:
    return k8s.SecurityContext(
        run_as_non_root=True,
        run_as_user=run_as_user,
        read_only_root_filesystem=True,
        allow_privilege_escalation=False,
        privileged=False,
        capabilities=k8s.Capabilities(drop=["ALL"]),
        seccomp_profile=k8s.SeccompProfile(type="RuntimeDefault"),
    )


def render_container(spec: ContainerSpec) -> k8s.Container:
    """The Kubernetes container for `spec`, always with the hardened security context."""
    env = render_env(spec)
    return k8s.Container(
        name=spec.name,
        image=spec.image.reference,
        image_pull_policy=spec.image.pull_policy,
        command=list(spec.command) if spec.command is not None else None,
        args=list(spec.args) if spec.args is not None else None,
        ports=[
            k8s.ContainerPort(name=name, container_port=number, protocol="TCP") for name, number in spec.ports.items()
        ]
        or None,
        env=env or None,
        env_from=[
            *(
                k8s.EnvFromSource(config_map_ref=k8s.ConfigMapEnvSource(name=name))
                for name in spec.env_from_config_maps
            ),
            *(k8s.EnvFromSource(secret_ref=k8s.SecretEnvSource(name=name)) for name in spec.env_from_secrets),
        ]
        or None,
        resources=render_resources(spec.resources),
        volume_mounts=[mount.render() for mount in spec.volume_mounts] or None,
        liveness_probe=spec.liveness_probe.render() if spec.liveness_probe else None,
        readiness_probe=spec.readiness_probe.render() if spec.readiness_probe else None,
        startup_probe=spec.startup_probe.render() if spec.startup_probe else None,
        security_context=container_security(spec.run_as_user),
        termination_message_policy=spec.termination_message_policy,
        lifecycle=k8s.Lifecycle(
            post_start=k8s.LifecycleHandler(exec=k8s.ExecAction(command=list(spec.post_start_command)))
        )
        if spec.post_start_command
        else None,
    )
