"""Base model and reusable field types for the per-environment settings (no cdk8s import here: fast to load)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from constructs_lib.cron import SCHEDULE_ALLOWED, valid_schedule, valid_time_zone
from constructs_lib.image_tags import mutable_tag_problem
from constructs_lib.naming import (
    CIDR,
    DNS_LABEL,
    DNS_SUBDOMAIN,
    HOST_NAME,
    IMAGE_TAG,
    LABEL_KEY,
    LABEL_VALUE,
    REFRESH_INTERVAL,
    SECRET_KEY,
    TextRule,
    secret_like_paths,
    url_has_credentials,
)
from constructs_lib.quantities import CPU_ALLOWED, MEMORY_ALLOWED, cpu_millis, memory_bytes


class StrictModel(BaseModel):
    """Unknown keys, wrong types and coercions ("3" for 3) are errors, and loaded settings are immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


class Checked:
    """Field metadata: the text must follow `rule` (constructs_lib/naming.py holds the Kubernetes ones). A refusal
    says in words what is allowed, never a regular expression; the JSON schema keeps the pattern for editors."""

    def __init__(self, rule: TextRule) -> None:
        self.rule = rule

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.rule.pattern
        if self.rule.max_length is not None:
            json_schema["maxLength"] = self.rule.max_length
        return json_schema

    def _check(self, value: str) -> str:
        if not self.rule.accepts(value):
            raise ValueError(f"must be {self.rule.allowed}")
        return value


def matching(pattern: str, allowed: str, max_length: int | None = None) -> Checked:
    """A one-off text rule of a settings field: `pattern` (anchored), and what it allows in words."""
    return Checked(TextRule(allowed=allowed, pattern=pattern, max_length=max_length))


def _no_credentials(url: str) -> str:
    if url_has_credentials(url):
        raise ValueError("must not hold a user name or password: credentials belong in a Secret, never in git")
    return url


def _no_credentials_inside(value: Any, info: ValidationInfo) -> Any:
    paths = secret_like_paths(value, str(info.field_name))
    if paths:
        raise ValueError(
            f"holds credentials at {', '.join(paths)}: a credential-like key, or a URL or user:password@ with a user "
            "name or password, is not allowed; credentials belong in a Secret, never in git"
        )
    return value


# A free-form block (a ConfigMap's entries, filter settings, a command line) is rendered as written: no value in it
# may be, or embed, a credential.
FreeForm = AfterValidator(_no_credentials_inside)


def _cpu(value: str) -> str:
    try:
        cpu_millis(value)
    except ValueError:
        raise ValueError(f"must be {CPU_ALLOWED}") from None
    return value


def _memory(value: str) -> str:
    try:
        memory_bytes(value)
    except ValueError:
        raise ValueError(f"must be {MEMORY_ALLOWED}") from None
    return value


def _cron_schedule(schedule: str) -> str:
    if not valid_schedule(schedule):
        raise ValueError(f"must be {SCHEDULE_ALLOWED}")
    return schedule


def _time_zone(time_zone: str) -> str:
    if not valid_time_zone(time_zone):
        raise ValueError("must be an IANA time zone name such as UTC or Europe/Amsterdam")
    return time_zone


CronSchedule = Annotated[str, AfterValidator(_cron_schedule)]
TimeZone = Annotated[str, AfterValidator(_time_zone)]
DnsLabel = Annotated[str, Checked(DNS_LABEL), Field(description="A DNS label (a-z, 0-9, '-').")]
DnsName = Annotated[
    str, Checked(DNS_SUBDOMAIN), Field(description="A DNS name such as redis.data.svc.cluster.local or redis.")
]
# Namespaces a stack must never own: the cluster's own and Argo CD's. A stack's Application prunes what it renders
# (and kairoflow renders its Namespace under the resources finalizer), so deleting the Application would delete
# what runs there.
RESERVED_NAMESPACES = ("argocd", "default", "kube-node-lease", "kube-public", "kube-system")


def _not_reserved(namespace: str) -> str:
    if namespace in RESERVED_NAMESPACES:
        raise ValueError(
            f"must be a namespace of the stack's own, not one of {', '.join(RESERVED_NAMESPACES)} (the cluster's "
            "and Argo CD's): deleting the stack's Application would delete what it renders there"
        )
    return namespace


StackNamespace = Annotated[
    str,
    Checked(DNS_LABEL),
    AfterValidator(_not_reserved),
    Field(description="A DNS label (a-z, 0-9, '-'), not a namespace of the cluster's or Argo CD's."),
]
HostName = Annotated[str, Checked(HOST_NAME), Field(description="A lowercase DNS host name.")]
LabelKey = Annotated[str, Checked(LABEL_KEY)]
LabelValue = Annotated[str, Checked(LABEL_VALUE)]
Labels = dict[LabelKey, LabelValue]
SecretKeyName = Annotated[str, Checked(SECRET_KEY)]
RefreshInterval = Annotated[str, Checked(REFRESH_INTERVAL)]
Cidr = Annotated[str, Checked(CIDR)]
HttpUrl = Annotated[
    str,
    matching(r"^https?://\S+$", "an http:// or https:// URL without spaces", max_length=2048),
    AfterValidator(_no_credentials),
]
HttpsUrl = Annotated[
    str,
    matching(r"^https://\S+$", "an https:// URL without spaces", max_length=2048),
    AfterValidator(_no_credentials),
]
GitRepositoryUrl = Annotated[
    str,
    matching(
        r"^(https://|ssh://|git@)\S+$",
        "a git repository URL: https://host/path, ssh://git@host/path or git@host:path, without spaces",
        max_length=2048,
    ),
    AfterValidator(_no_credentials),
]
Origin = Annotated[
    str,
    matching(
        r"^(\*|https?://[^\s/?#@]+)$",
        "a browser origin: http:// or https:// and a host with an optional :port, no path (or * for any origin)",
        max_length=2048,
    ),
]
# CORS lists end up in ingress annotations joined by ", ": a comma, space or line break inside one would change
# what the controller is told.
HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
HeaderName = Annotated[
    str,
    matching(
        r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$",
        "an HTTP header name: letters, digits and !#$%&'*+.^_`|~- (no spaces or commas)",
        max_length=256,
    ),
]
# Flag names become variables FEATURE_<NAME>, config keys variables of their own: ASCII only (isalnum() would take
# any Unicode letter, which no shell or env file carries).
FeatureFlagName = Annotated[
    str,
    matching(
        r"^[A-Za-z][A-Za-z0-9_]*$",
        "a flag name: ASCII letters, digits and '_', starting with a letter (it becomes the variable FEATURE_<NAME>)",
        max_length=128,
    ),
]
EnvironmentVariableName = Annotated[
    str,
    matching(
        r"^[A-Z][A-Z0-9_]*$",
        "an UPPER_CASE variable name: ASCII capital letters, digits and '_', starting with a letter",
        max_length=256,
    ),
]
AbsolutePath = Annotated[str, matching(r"^/\S*$", "an absolute path: starting with '/', without spaces", 4096)]
Port = Annotated[int, Field(ge=1, le=65535)]
CpuQuantity = Annotated[str, AfterValidator(_cpu), Field(examples=["250m", "1"])]
MemoryQuantity = Annotated[str, AfterValidator(_memory), Field(examples=["256Mi", "1Gi"])]
Duration = Annotated[
    str,
    matching(r"^[0-9]+(ms|s|m|h)$", "a duration: a whole number then ms, s, m or h, such as 30s", 32),
    Field(description="A Prometheus duration such as 30s."),
]
PullPolicy = Literal["Always", "IfNotPresent", "Never"]


def _immutable_tag(tag: str) -> str:
    problem = mutable_tag_problem(tag)
    if problem:
        raise ValueError(problem)
    return tag


class ImageSettings(StrictModel):
    """A container image: repository, tag and pull policy. CI bumps `tag` in the environment's file."""

    repository: Annotated[
        str,
        matching(
            r"^[a-z0-9.\-_/:]+[a-z0-9]$",
            "an image name without tag: lowercase letters, digits, '.', '-', '_', '/' and ':' (a registry's port), "
            "ending with a letter or digit",
            max_length=255,
        ),
    ] = Field(description="Image name without tag.")
    tag: Annotated[str, Checked(IMAGE_TAG), AfterValidator(_immutable_tag)] = Field(
        description="Image tag, one that always names the same build (mutable tags such as latest are refused); "
        "the app version label."
    )
    pull_policy: PullPolicy = Field("IfNotPresent", description="Kubernetes imagePullPolicy.")


class ResourceAmounts(StrictModel):
    """CPU and memory of one side (requests or limits)."""

    cpu: CpuQuantity
    memory: MemoryQuantity


class ResourceSettings(StrictModel):
    """Container requests and limits; requests may not exceed limits."""

    requests: ResourceAmounts
    limits: ResourceAmounts

    @classmethod
    def of(cls, cpu_request: str, memory_request: str, cpu_limit: str, memory_limit: str) -> ResourceSettings:
        """A default written the way the seeds state it: requests, then limits."""
        return cls(
            requests=ResourceAmounts(cpu=cpu_request, memory=memory_request),
            limits=ResourceAmounts(cpu=cpu_limit, memory=memory_limit),
        )

    @field_validator("limits")
    @classmethod
    def _limits_cover_requests(cls, limits: ResourceAmounts, info: ValidationInfo) -> ResourceAmounts:
        requests = info.data.get("requests")
        if requests is None:
            return limits
        if cpu_millis(limits.cpu) < cpu_millis(requests.cpu):
            raise ValueError(f"cpu limit {limits.cpu} is below the cpu request {requests.cpu}")
        if memory_bytes(limits.memory) < memory_bytes(requests.memory):
            raise ValueError(f"memory limit {limits.memory} is below the memory request {requests.memory}")
        return limits


class AutoscalingSettings(StrictModel):
    """HorizontalPodAutoscaler. When enabled, the Deployment has no fixed replica count."""

    enabled: bool = Field(False, description="Render an HPA.")
    min_replicas: int = Field(2, ge=1, le=100, description="HPA floor.")
    max_replicas: int = Field(10, ge=1, le=500, description="HPA ceiling; at least min_replicas.")
    target_cpu_utilization_percentage: int = Field(80, ge=1, le=100, description="Average CPU target.")
    target_memory_utilization_percentage: int = Field(80, ge=1, le=100, description="Average memory target.")

    @field_validator("max_replicas")
    @classmethod
    def _max_not_below_min(cls, max_replicas: int, info: ValidationInfo) -> int:
        min_replicas = info.data.get("min_replicas")
        if min_replicas is not None and max_replicas < min_replicas:
            raise ValueError(f"must be >= min_replicas ({min_replicas})")
        return max_replicas


def no_fixed_replicas_with_hpa(replicas: int | None, info: ValidationInfo) -> int | None:
    """Field validator for a `replicas` declared after an `autoscaling: AutoscalingSettings` field: the HPA owns
    the replica count, so a fixed one is refused."""
    autoscaling = info.data.get("autoscaling")
    if replicas is not None and autoscaling is not None and autoscaling.enabled:
        raise ValueError(
            f"must be unset when autoscaling.enabled is true (the HPA's min_replicas, {autoscaling.min_replicas},"
            " is the floor)"
        )
    return replicas


class SecretKey(StrictModel):
    """A key of an existing Kubernetes Secret (the value itself is never in this repository)."""

    secret: DnsLabel = Field(description="Name of the existing Secret.")
    key: SecretKeyName = Field(description="Key inside the Secret.")


class InClusterRedisSettings(StrictModel):
    """A Redis StatefulSet in the stack's namespace, with a persistent volume and a password from a Secret."""

    mode: Literal["in_cluster"] = Field("in_cluster", description="Selects this block.")
    image: ImageSettings = Field(
        ImageSettings(repository="redis", tag="7.2.5-alpine"), description="The official Redis image."
    )
    password: SecretKey = Field(description="Existing Secret key holding the password (requirepass).")
    storage_size: MemoryQuantity = Field("1Gi", description="Size of the data volume (append-only file).")
    storage_class: DnsLabel | None = Field(None, description="StorageClass of the volume; default: the cluster's.")
    resources: ResourceSettings = Field(
        ResourceSettings.of("50m", "64Mi", "250m", "256Mi"), description="Redis container requests and limits."
    )


class ExternalRedisSettings(StrictModel):
    """An existing Redis outside the stack."""

    mode: Literal["external"] = Field(description="Selects this block.")
    host: DnsName = Field(description="Host name, e.g. redis.data.svc.cluster.local.")
    port: Port = Field(6379, description="Port.")
    password: SecretKey = Field(description="Existing Secret key holding the password.")


RedisSettings = Annotated[
    Union[InClusterRedisSettings, ExternalRedisSettings],  # noqa: UP007 - pydantic's discriminated union form
    Field(discriminator="mode", description="Redis: `mode: in_cluster` (a StatefulSet here) or `mode: external`."),
]


class HttpProbeSettings(StrictModel):
    """An HTTP probe's path and timings."""

    path: AbsolutePath = Field(description="URL path.")
    initial_delay_seconds: int = Field(0, ge=0, le=600)
    period_seconds: int = Field(10, ge=1, le=300)
    timeout_seconds: int = Field(1, ge=1, le=60)
    failure_threshold: int = Field(3, ge=1, le=100)
