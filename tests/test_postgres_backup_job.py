"""PostgresBackupJob: a PreSync pg_dump hook ordered before the other PreSync hooks, credentials by reference,
to a claim or an object store; its rendered dump script run for real (with a stand-in pg_dump)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from constructs_lib import (
    ClaimTarget,
    DatabaseConnection,
    ObjectStoreTarget,
    PostgresBackupJob,
    PostgresBackupJobProps,
    PropsError,
    RecommendedLabels,
    SecretKeyRef,
)
from tests.construct_helpers import synth
from value_types.images import ImageSettings

POSTGRES = ImageSettings(repository="postgres", tag="16.4-alpine")
PROPS = PostgresBackupJobProps(
    name="web-backup",
    labels=RecommendedLabels(name="web", component="backup", version="1.2.3"),
    image=POSTGRES,
    database=DatabaseConnection(
        host="postgres.data.svc.cluster.local",
        port=5432,
        database="web",
        user=SecretKeyRef(env_name="POSTGRES_USER", secret_name="web-db", key="user"),
        password=SecretKeyRef(env_name="POSTGRES_PASSWORD", secret_name="web-db", key="password"),
    ),
    target=ClaimTarget(claim="web-backups", keep=2),
)
STORE = ObjectStoreTarget(
    endpoint="https://minio.data.svc.cluster.local:9000",
    bucket="backups",
    prefix="web",
    access_key_id=SecretKeyRef(env_name="AWS_ACCESS_KEY_ID", secret_name="store", key="id"),
    secret_access_key=SecretKeyRef(env_name="AWS_SECRET_ACCESS_KEY", secret_name="store", key="secret"),
    uploader_image=ImageSettings(repository="amazon/aws-cli", tag="2.15.0"),
)


def _objects(**overrides: Any) -> list[dict[str, Any]]:
    return synth(lambda chart: PostgresBackupJob(chart, "Backup", dataclasses.replace(PROPS, **overrides)))


def _job(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    (job,) = [m for m in manifests if m["kind"] == "Job"]
    return job


def test_a_presync_hook_before_the_unordered_hooks_onto_the_claim() -> None:
    job = _job(_objects())
    assert job["metadata"]["annotations"] == {
        "argocd.argoproj.io/hook": "PreSync",
        "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
        "argocd.argoproj.io/sync-wave": "-1",
        # The claim exists before the first sync (the job does not render it): said for readers and the checks.
        "k8s-workloads/existing-claims": "web-backups",
    }
    pod = job["spec"]["template"]["spec"]
    (dump,) = pod["containers"]
    assert dump["image"] == "postgres:16.4-alpine"
    env = {item["name"]: item for item in dump["env"]}
    assert (env["PGHOST"]["value"], env["PGPORT"]["value"], env["PGDATABASE"]["value"]) == (
        "postgres.data.svc.cluster.local",
        "5432",
        "web",
    )
    assert env["PGUSER"]["valueFrom"] == {"secretKeyRef": {"name": "web-db", "key": "user"}}
    assert env["PGPASSWORD"]["valueFrom"] == {"secretKeyRef": {"name": "web-db", "key": "password"}}
    assert env["KEEP"]["value"] == "2"
    assert {"name": "dumps", "persistentVolumeClaim": {"claimName": "web-backups"}} in pod["volumes"]
    assert {"mountPath": "/backup", "name": "dumps"} in dump["volumeMounts"]
    assert dump["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_object_store_uploads_what_the_dump_wrote_with_referenced_credentials() -> None:
    manifests = _objects(target=STORE)
    pod = _job(manifests)["spec"]["template"]["spec"]
    upload, dump = pod["containers"]
    assert (upload["name"], dump["name"]) == ("upload", "pg-dump")
    env = {item["name"]: item for item in upload["env"]}
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"] == {"secretKeyRef": {"name": "store", "key": "id"}}
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"] == {"secretKeyRef": {"name": "store", "key": "secret"}}
    assert {"name": "dumps", "emptyDir": {}} in pod["volumes"]
    (policy,) = [m for m in manifests if m["kind"] == "NetworkPolicy"]
    assert "ingress" not in policy["spec"]
    assert [[port["port"] for port in rule["ports"]] for rule in policy["spec"]["egress"]] == [[53, 53], [5432, 9000]]


@pytest.mark.parametrize(
    ("overrides", "prop"),
    [
        ({"target": ClaimTarget(claim="Bad_Claim")}, "target.claim"),
        ({"target": ClaimTarget(claim="ok", keep=-1)}, "target.keep"),
        ({"target": dataclasses.replace(STORE, endpoint="http://minio:9000")}, "target.endpoint"),
        ({"name": "Web"}, "name"),
    ],
)
def test_bad_props(overrides: dict[str, Any], prop: str) -> None:
    with pytest.raises(PropsError) as caught:
        _objects(**overrides)
    assert caught.value.prop == prop


def _run_dump(tmp_path: Path, pg_dump_body: str, runs: int = 1) -> list[subprocess.CompletedProcess[str]]:
    """The rendered dump script with a stand-in pg_dump on PATH (it writes the file it is asked to)."""
    (dump,) = _job(_objects())["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item["value"] for item in dump["env"] if "value" in item}
    folder = tmp_path / "backup"
    folder.mkdir(exist_ok=True)
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir(exist_ok=True)
    fake = bin_folder / "pg_dump"
    fake.write_text(f"#!/bin/sh\n{pg_dump_body}\n")
    fake.chmod(0o755)
    env.update(DUMP_FOLDER=str(folder), PATH=f"{bin_folder}:{os.environ['PATH']}")
    results = []
    for run in range(runs):
        # Distinct file names: the script names dumps by the second.
        env["TZ"] = "UTC"
        results.append(subprocess.run(dump["command"], env=env, capture_output=True, text=True, timeout=30))
        if run + 1 < runs:
            for path in folder.glob("*.dump"):
                os.utime(path, (run, run))
                path.rename(folder / f"web-backup-0{run}.dump")
    return results


@pytest.mark.slow  # runs the script or main.py as a process
def test_the_dump_script_keeps_the_newest_dumps_and_marks_success(tmp_path: Path) -> None:
    write = 'for arg; do case "$arg" in --file=*) echo dump > "${arg#--file=}";; esac; done'
    results = _run_dump(tmp_path, write, runs=3)
    assert [result.returncode for result in results] == [0, 0, 0]
    dumps = sorted(path.name for path in (tmp_path / "backup").glob("*.dump"))
    assert len(dumps) == 2  # KEEP=2: the oldest is deleted
    assert "web-backup-00.dump" not in dumps
    assert (tmp_path / "backup" / ".done").read_text().strip() in dumps
    assert not list((tmp_path / "backup").glob("*.partial"))


def test_a_failed_dump_fails_the_job_and_leaves_no_partial_dump(tmp_path: Path) -> None:
    write_then_fail = 'for arg; do case "$arg" in --file=*) echo half > "${arg#--file=}";; esac; done; exit 3'
    (result,) = _run_dump(tmp_path, write_then_fail)
    assert result.returncode != 0
    folder = tmp_path / "backup"
    assert (folder / ".failed").exists()
    assert not (folder / ".done").exists()
    assert list(folder.iterdir()) == [folder / ".failed"]
