"""PostgresBackupJob: a PreSync hook Job that dumps a PostgreSQL database (`pg_dump`) before the sync changes
anything, to an existing claim or to an S3-compatible object store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from cdk8s_plus_27 import k8s
from constructs import Construct

from constructs_lib.container import ContainerSpec, PodSecurity, SecretKeyRef, VolumeMount
from constructs_lib.errors import PropsError
from constructs_lib.existing_objects import EXISTING_CLAIMS_ANNOTATION
from constructs_lib.labels import RecommendedLabels
from constructs_lib.network_policy import EgressRule
from constructs_lib.sync_hook_job import HookJobConstruct, SyncHookJobProps
from value_types.images import ImageSettings
from value_types.names import DNS_LABEL
from value_types.quantities import ResourceSettings

# Argo CD runs the hooks of one phase wave by wave: the dump runs (and must succeed) before the PreSync hooks
# without a wave (wave 0), such as a database migration.
BEFORE_OTHER_HOOKS = {"argocd.argoproj.io/sync-wave": "-1"}
DUMP_FOLDER = "/backup"

# pg_dump reads PGHOST, PGPORT, PGDATABASE, PGUSER and PGPASSWORD; a dump is renamed into place only when complete.
_DUMP_SCRIPT = """set -eu
file="$DUMP_FOLDER/$DUMP_PREFIX-$(date -u +%Y%m%dT%H%M%SZ).dump"
if pg_dump --format=custom --no-password --file="$file.partial"; then
  mv "$file.partial" "$file"
  echo "dump written: $file"
  basename "$file" > "$DUMP_FOLDER/.done"
else
  rm -f "$file.partial"
  touch "$DUMP_FOLDER/.failed"
  exit 1
fi
if [ "$KEEP" -gt 0 ]; then
  ls -1t "$DUMP_FOLDER/$DUMP_PREFIX"-*.dump | tail -n +"$((KEEP + 1))" | xargs -r rm -f --
fi
"""

# The uploader waits for the dump in the shared scratch volume, then copies it to the bucket.
_UPLOAD_SCRIPT = """set -eu
until [ -e "$DUMP_FOLDER/.done" ] || [ -e "$DUMP_FOLDER/.failed" ]; do sleep 2; done
[ -e "$DUMP_FOLDER/.done" ] || { echo "pg_dump failed: nothing uploaded" >&2; exit 1; }
name=$(cat "$DUMP_FOLDER/.done")
aws --endpoint-url "$S3_ENDPOINT" s3 cp "$DUMP_FOLDER/$name" "s3://$S3_BUCKET/$S3_PREFIX/$name"
echo "uploaded: s3://$S3_BUCKET/$S3_PREFIX/$name"
"""


@dataclass(frozen=True, kw_only=True)
class DatabaseConnection:
    """Where the database is, and its credentials by Secret reference (never values).

    Attributes:
        host: the server's host name.
        port: its port.
        database: the database dumped.
        user: the Secret key holding the user name.
        password: the Secret key holding the password.
    """

    host: str
    port: int
    database: str
    user: SecretKeyRef
    password: SecretKeyRef


@dataclass(frozen=True, kw_only=True)
class ClaimTarget:
    """Dumps kept on an existing PersistentVolumeClaim in the Job's namespace.

    Attributes:
        claim: the claim's name (it must exist before the first sync: a PreSync hook runs before the sync creates
            anything).
        keep: how many dumps stay on the claim (older ones are deleted after a successful dump). 0: all. Default 7.
    """

    claim: str
    keep: int = 7


@dataclass(frozen=True, kw_only=True)
class ObjectStoreTarget:
    """Dumps uploaded to an S3-compatible bucket.

    Attributes:
        endpoint: the store's URL (https).
        bucket: the bucket.
        prefix: the key prefix of the dumps.
        region: the signing region. Default `us-east-1` (MinIO's default).
        access_key_id: the Secret key holding the access key id.
        secret_access_key: the Secret key holding the secret key.
        uploader_image: a pinned image with the `aws` CLI and /bin/sh.
    """

    endpoint: str
    bucket: str
    prefix: str
    access_key_id: SecretKeyRef
    secret_access_key: SecretKeyRef
    uploader_image: ImageSettings
    region: str = "us-east-1"


@dataclass(frozen=True, kw_only=True)
class PostgresBackupJobProps:
    """Props of `PostgresBackupJob`.

    Attributes:
        name: the Job's name; also the dumps' file name prefix.
        labels: its recommended labels (component `backup`).
        image: a pinned PostgreSQL image whose `pg_dump` is at least the server's major version.
        database: the connection, credentials by Secret reference.
        target: where the dump goes: a `ClaimTarget` or an `ObjectStoreTarget`.
        resources: every container's. Default 50m/64Mi requests, 500m/256Mi limits.
        backoff_limit: new pods after a failed dump before the sync fails. Default 1.
        active_deadline_seconds: the longest the backup may take. Default 1800.
        security: UID/GID (and fsGroup, which makes the claim writable). Default 65532.
        isolated: render a NetworkPolicy for its pods: no ingress, egress to DNS, the database port and (object
            store) the store's port. Default True.
    """

    name: str
    labels: RecommendedLabels
    image: ImageSettings
    database: DatabaseConnection
    target: ClaimTarget | ObjectStoreTarget
    resources: ResourceSettings = field(default_factory=lambda: ResourceSettings.of("50m", "64Mi", "500m", "256Mi"))
    backoff_limit: int = 1
    active_deadline_seconds: int = 1800
    security: PodSecurity = field(default_factory=PodSecurity)
    isolated: bool = True


class PostgresBackupJob(HookJobConstruct):
    """`pg_dump --format=custom` of one database as a PreSync hook Job, run before the other PreSync hooks; a
    failed dump fails the sync, so nothing is migrated without a backup."""

    def __init__(self, scope: Construct, id: str, props: PostgresBackupJobProps) -> None:
        super().__init__(scope, id)
        _validate(props)
        database = props.database
        target = props.target
        keep = target.keep if isinstance(target, ClaimTarget) else 1
        dump = _shell_container(
            "pg-dump",
            props.image,
            props.resources,
            _DUMP_SCRIPT,
            env={
                "PGHOST": database.host,
                "PGPORT": str(database.port),
                "PGDATABASE": database.database,
                "DUMP_FOLDER": DUMP_FOLDER,
                "DUMP_PREFIX": props.name,
                "KEEP": str(keep),
            },
            secret_env=[replace(database.user, env_name="PGUSER"), replace(database.password, env_name="PGPASSWORD")],
            volume_mounts=[VolumeMount(volume="dumps", mount_path=DUMP_FOLDER)],
        )
        egress_ports: list[int] = [database.port]
        sidecars: Sequence[ContainerSpec] = ()
        if isinstance(target, ClaimTarget):
            volume = k8s.Volume(
                name="dumps", persistent_volume_claim=k8s.PersistentVolumeClaimVolumeSource(claim_name=target.claim)
            )
            main = dump
        else:
            volume = k8s.Volume(name="dumps", empty_dir=k8s.EmptyDirVolumeSource())
            endpoint = urlsplit(target.endpoint)
            egress_ports.append(endpoint.port or 443)
            # The uploader is the main container (its /tmp is HOME for the aws CLI); the dump runs beside it.
            main = _shell_container(
                "upload",
                target.uploader_image,
                props.resources,
                _UPLOAD_SCRIPT,
                env={
                    "DUMP_FOLDER": DUMP_FOLDER,
                    "S3_ENDPOINT": target.endpoint,
                    "S3_BUCKET": target.bucket,
                    "S3_PREFIX": target.prefix,
                    "AWS_DEFAULT_REGION": target.region,
                    "HOME": "/tmp",
                },
                secret_env=[
                    replace(target.access_key_id, env_name="AWS_ACCESS_KEY_ID"),
                    replace(target.secret_access_key, env_name="AWS_SECRET_ACCESS_KEY"),
                ],
                volume_mounts=[VolumeMount(volume="dumps", mount_path=DUMP_FOLDER, read_only=True)],
            )
            sidecars = (dump,)
        self._add_job(
            SyncHookJobProps(
                name=props.name,
                labels=props.labels,
                container=main,
                sidecars=sidecars,
                volumes=[volume],
                phase="PreSync",
                backoff_limit=props.backoff_limit,
                active_deadline_seconds=props.active_deadline_seconds,
                security=props.security,
                # A claim the job does not render: said in the output, for readers and the whole-output check.
                annotations={**BEFORE_OTHER_HOOKS, EXISTING_CLAIMS_ANNOTATION: target.claim}
                if isinstance(target, ClaimTarget)
                else BEFORE_OTHER_HOOKS,
            ),
            [EgressRule(ports=sorted(set(egress_ports)))] if props.isolated else None,
        )


def _shell_container(
    name: str,
    image: ImageSettings,
    resources: ResourceSettings,
    script: str,
    *,
    env: dict[str, str],
    secret_env: list[SecretKeyRef],
    volume_mounts: list[VolumeMount],
) -> ContainerSpec:
    """A container running `script` with /bin/sh."""
    return ContainerSpec(
        name=name,
        image=image,
        resources=resources,
        command=["/bin/sh", "-c", script],
        env=env,
        secret_env=secret_env,
        volume_mounts=volume_mounts,
    )


def _validate(props: PostgresBackupJobProps) -> None:
    construct = "PostgresBackupJob"
    target = props.target
    if isinstance(target, ClaimTarget):
        DNS_LABEL.require(construct, "target.claim", target.claim)
        if target.keep < 0:
            raise PropsError(construct, "target.keep", target.keep, "an integer >= 0 (0 keeps every dump)")
    elif urlsplit(target.endpoint).scheme != "https":
        raise PropsError(construct, "target.endpoint", target.endpoint, "an https:// URL")
