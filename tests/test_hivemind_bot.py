"""hivemind-bot against its seed (hivemind-bot-k8s.md). Expected values are transcribed from the seed."""

from __future__ import annotations

import json
import re
from typing import Any, get_args

import cdk8s  # as a module: pytest would collect cdk8s.Testing as a test class
import pytest

from delivery.checks import pod_templates
from delivery.pod_templates import selects
from delivery.sync_waves import WAVE_ANNOTATION
from engine import Manifest, RenderedEnvironment
from environment_model.paths import ROOT
from environment_model.settings import SettingsError, load_environment, parse_environment
from stacks.hivemind_bot.chart import HivemindBotChart
from stacks.hivemind_bot.settings import SECRET_KEYS, HivemindSecretKey
from tests.conftest import find
from tests.test_rendered_output import crd_validator

ENVS = ["dev", "staging", "prod"]
# Seed "Create Secrets": the Secret and its keys; "Environment Variables": which variable reads which key.
SEED_SECRET = "hivemind-bot-secrets"
SEED_SECRET_ENV = {
    "DISCORD_BOT_TOKEN": "discord-token",
    "DISCORD_APPLICATION_ID": "application-id",
    "BACKEND_SERVICE_TOKEN": "service-token",
}
# Seed "Environment Variables" table (example values for the backend).
SEED_PLAIN_ENV = {"BACKEND_GRPC_HOST": "hivemind-server", "BACKEND_GRPC_PORT": "50051"}
SEED_WEB_BASE_URL = {
    "dev": "https://hivemind.dev.example.com",
    "staging": "https://hivemind.staging.example.com",
    "prod": "https://hivemind.example.com",
}


def stack(rendered: dict[str, RenderedEnvironment], env: str) -> list[Manifest]:
    return rendered[env]["hivemind-bot"]


def pod_spec(manifests: list[Manifest]) -> dict[str, Any]:
    spec: dict[str, Any] = find(manifests, "Deployment", "hivemind-bot")["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("env", ENVS)
def test_three_replicas_with_a_disruption_budget(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    manifests = stack(rendered, env)
    deployment = find(manifests, "Deployment", "hivemind-bot")
    assert deployment["spec"]["replicas"] == 3  # seed: "Deployment with 3 replicas"
    budget = find(manifests, "PodDisruptionBudget", "hivemind-bot")
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]
    assert budget["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("env", ENVS)
def test_environment_variables_of_the_seed_table(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    (container,) = pod_spec(stack(rendered, env))["containers"]
    env_vars = {e["name"]: e for e in container["env"]}
    for name, key in SEED_SECRET_ENV.items():
        assert env_vars[name] == {"name": name, "valueFrom": {"secretKeyRef": {"name": SEED_SECRET, "key": key}}}
    for name, value in SEED_PLAIN_ENV.items():
        assert env_vars[name]["value"] == value
    assert env_vars["WEB_BASE_URL"]["value"] == SEED_WEB_BASE_URL[env]
    assert env_vars["LOG_LEVEL"]["value"] in ("debug", "info", "warn", "error")
    assert env_vars["LOG_FORMAT"]["value"] in ("json", "text")
    assert env_vars["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert set(env_vars) == {
        *SEED_SECRET_ENV,
        *SEED_PLAIN_ENV,
        "WEB_BASE_URL",
        "LOG_LEVEL",
        "LOG_FORMAT",
        "POD_NAMESPACE",
    }


@pytest.mark.parametrize("env", ENVS)
def test_leader_election_rbac_of_the_seed(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    manifests = stack(rendered, env)
    # Seed "Deploy RBAC Resources": ServiceAccount hivemind-bot, Role hivemind-bot-leader-election, a RoleBinding.
    account = find(manifests, "ServiceAccount", "hivemind-bot")
    role = find(manifests, "Role", "hivemind-bot-leader-election")
    binding = find(manifests, "RoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"]}]
    # Seed "Least privilege RBAC: only leases"; the troubleshooting section checks create and update.
    verbs = {verb for rule in role["rules"] for verb in rule["verbs"]}
    assert verbs == {"create", "get", "update"}
    assert all(
        rule["resources"] == ["leases"] and rule["apiGroups"] == ["coordination.k8s.io"] for rule in role["rules"]
    )
    named = [rule for rule in role["rules"] if "resourceNames" in rule]
    assert named and named[0]["resourceNames"] == ["hivemind-bot-sync-leader"]  # seed: the Lease's name
    pod = pod_spec(manifests)
    # Seed troubleshooting: "Verify serviceAccountName: hivemind-bot is set"; the token must exist in the pod.
    assert pod["serviceAccountName"] == "hivemind-bot"
    assert pod["automountServiceAccountToken"] is True


@pytest.mark.parametrize("env", ENVS)
def test_network_policy_denies_ingress_and_allows_the_backend(
    rendered: dict[str, RenderedEnvironment], env: str
) -> None:
    policy = find(stack(rendered, env), "NetworkPolicy", "hivemind-bot")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in policy
    egress_ports = {port["port"] for rule in policy["egress"] for port in rule["ports"]}
    assert {53, 50051, 443, 6443} <= egress_ports


@pytest.mark.parametrize("env", ENVS)
def test_namespace_of_the_seed(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    assert {m["metadata"]["namespace"] for m in stack(rendered, env)} == {"hivemind"}


@pytest.mark.parametrize("env", ENVS)
def test_the_seeds_label_selector_finds_exactly_the_bot_pods(
    rendered: dict[str, RenderedEnvironment], env: str
) -> None:
    """Seed "Verify Deployment": `kubectl get pods -l app=hivemind-bot` and `kubectl logs -l app=hivemind-bot`. The
    label is on the pods only: the Deployment's selector stays the stable recommended labels (changing it would be
    refused in place)."""
    everything = [m for objs in rendered[env].values() for m in objs]
    matched = [
        t.owner
        for t in pod_templates(everything)
        if t.namespace == "hivemind" and selects({"app": "hivemind-bot"}, t.labels)
    ]
    assert matched == ["Deployment/hivemind-bot"]
    deployment = find(stack(rendered, env), "Deployment", "hivemind-bot")
    assert deployment["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "hivemind-bot",
        "app.kubernetes.io/instance": "hivemind-bot",
        "app.kubernetes.io/component": "bot",
    }


# Seed "Production Recommendations": "Use a secrets manager ... instead of K8s Secrets". With
# hivemind_bot.secrets.source external_secrets an ExternalSecret creates the seed's Secret from the store.
STORE = {"store": "vault-backend", "remote_prefix": "hivemind/prod"}


def _with_secrets(secrets: dict[str, Any], env: str = "prod") -> dict[str, Any]:
    data: dict[str, Any] = load_environment(env).model_dump(mode="json")
    data["hivemind_bot"]["secrets"] = secrets
    return data


def _synth(data: dict[str, Any], env: str = "prod") -> list[Manifest]:
    settings = parse_environment(env, data).hivemind_bot
    return list(cdk8s.Testing.synth(HivemindBotChart(cdk8s.Testing.app(), "hivemind-bot", settings)))


def _secret_refs(manifests: list[Manifest]) -> dict[str, dict[str, str]]:
    """Variable -> the secretKeyRef the bot container reads it from."""
    (container,) = pod_spec(manifests)["containers"]
    return {
        e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})
    }


@pytest.mark.parametrize("env", ENVS)
def test_by_default_the_bot_reads_the_existing_secret(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    """hivemind_bot.secrets.source defaults to existing: the Secret is created out of band (seed "Create Secrets"),
    and nothing in the stack creates it."""
    assert load_environment(env).hivemind_bot.secrets.source == "existing"
    manifests = stack(rendered, env)
    assert not [m for m in manifests if m["kind"] in ("ExternalSecret", "Secret")]
    assert {ref["name"] for ref in _secret_refs(manifests).values()} == {SEED_SECRET}


def test_the_keys_remote_keys_accepts_are_the_keys_the_bot_reads() -> None:
    """`secrets.remote_keys` accepts exactly the Secret keys the Deployment reads (the seed's), each read once."""
    assert SECRET_KEYS == SEED_SECRET_ENV
    assert sorted(get_args(HivemindSecretKey)) == sorted(SECRET_KEYS.values())


def test_the_secrets_manager_source_creates_the_secret_the_bot_reads() -> None:
    manifests = _synth(_with_secrets({"source": "external_secrets", "external_secrets": STORE}))
    (external,) = [m for m in manifests if m["kind"] == "ExternalSecret"]
    assert external["apiVersion"] == "external-secrets.io/v1"
    assert not list(crd_validator(external["apiVersion"], "ExternalSecret").iter_errors(external))
    spec = external["spec"]
    assert spec["secretStoreRef"] == {"name": "vault-backend", "kind": "ClusterSecretStore"}
    assert spec["target"] == {"name": SEED_SECRET, "creationPolicy": "Owner"}
    # The Secret the ExternalSecret creates is the one every credential variable of the Deployment reads...
    refs = _secret_refs(manifests)
    assert {ref["name"] for ref in refs.values()} == {spec["target"]["name"]}
    # ...and it maps every key the bot reads: the remote key <prefix>/<secret>, one property per key.
    assert {ref["key"] for ref in refs.values()} == set(SEED_SECRET_ENV.values())
    assert {item["secretKey"]: item["remoteRef"] for item in spec["data"]} == {
        key: {"key": f"hivemind/prod/{SEED_SECRET}", "property": key} for key in SEED_SECRET_ENV.values()
    }
    assert "annotations" not in external["metadata"]  # an ordinary object: its sync wave comes from the pipeline


def test_the_remote_keys_are_configurable_per_secret_key() -> None:
    secrets = {
        "source": "external_secrets",
        "external_secrets": {**STORE, "store_kind": "SecretStore", "refresh_interval": "15m"},
        "remote_keys": {
            "discord-token": {"key": "discord/hivemind-bot", "property": "token"},
            "service-token": {"key": "hivemind-server/service-token"},
        },
    }
    manifests = _synth(_with_secrets(secrets))
    spec = find(manifests, "ExternalSecret", SEED_SECRET)["spec"]
    assert spec["secretStoreRef"] == {"name": "vault-backend", "kind": "SecretStore"}
    assert spec["refreshInterval"] == "15m"
    assert {item["secretKey"]: item["remoteRef"] for item in spec["data"]} == {
        "application-id": {"key": f"hivemind/prod/{SEED_SECRET}", "property": "application-id"},
        "discord-token": {"key": "discord/hivemind-bot", "property": "token"},
        "service-token": {"key": "hivemind-server/service-token"},
    }


def test_a_renamed_secret_is_created_and_read_under_its_new_name() -> None:
    data = _with_secrets({"source": "external_secrets", "external_secrets": STORE})
    data["hivemind_bot"]["secret_name"] = "hivemind-bot-credentials"
    manifests = _synth(data)
    external = find(manifests, "ExternalSecret", "hivemind-bot-credentials")
    assert external["spec"]["target"]["name"] == "hivemind-bot-credentials"
    assert {ref["name"] for ref in _secret_refs(manifests).values()} == {"hivemind-bot-credentials"}


def test_the_test_environment_syncs_the_secret_before_the_deployment(rendered: dict[str, RenderedEnvironment]) -> None:
    """dist/test (every feature on) renders the ExternalSecret; Argo CD applies it in an earlier sync wave than the
    Deployment whose pods read its Secret."""
    manifests = stack(rendered, "test")
    external = find(manifests, "ExternalSecret", SEED_SECRET)
    deployment = find(manifests, "Deployment", "hivemind-bot")
    assert {ref["name"] for ref in _secret_refs(manifests).values()} == {external["spec"]["target"]["name"]}
    assert _wave(external) < _wave(deployment)


def _wave(manifest: Manifest) -> int:
    return int(manifest["metadata"]["annotations"][WAVE_ANNOTATION])


def test_the_secrets_manager_source_needs_a_store() -> None:
    """One message, naming the field to set."""
    with pytest.raises(SettingsError) as error:
        parse_environment("prod", _with_secrets({"source": "external_secrets"}))
    assert str(error.value) == (
        "prod.hivemind_bot.secrets.external_secrets: required when source is external_secrets (got None)"
    )


def test_a_remote_key_for_a_key_the_bot_does_not_read_is_refused() -> None:
    secrets = {
        "source": "external_secrets",
        "external_secrets": STORE,
        "remote_keys": {"app-id": {"key": "discord/hivemind-bot"}},
    }
    with pytest.raises(SettingsError) as error:
        parse_environment("prod", _with_secrets(secrets))
    (message,) = str(error.value).splitlines()
    assert message.startswith("prod.hivemind_bot.secrets.remote_keys.app-id: the key ")
    assert "should be 'discord-token', 'application-id' or 'service-token'" in message


# --- the runbook's RBAC checks, the leader election alerts and the Lease panel ----------------------------------

_CAN_I = re.compile(
    r"kubectl auth can-i (?P<verb>[a-z]+) (?P<resource>[a-z]+)(?:/(?P<name>[a-z0-9.-]+))? "
    r"--as=system:serviceaccount:(?P<namespace>[a-z0-9-]+):(?P<account>[a-z0-9-]+) -n (?P=namespace)"
)


def _role_allows(role: Manifest, verb: str, resource: str, name: str | None) -> bool:
    """What `kubectl auth can-i` answers for a Role: a rule with resourceNames allows only a request naming one."""
    return any(
        verb in rule["verbs"]
        and resource in rule["resources"]
        and ("resourceNames" not in rule or (name is not None and name in rule["resourceNames"]))
        for rule in role["rules"]
    )


@pytest.mark.parametrize("env", ENVS)
def test_every_can_i_check_of_the_runbook_answers_yes(rendered: dict[str, RenderedEnvironment], env: str) -> None:
    """The runbook's and the alerts' `kubectl auth can-i` commands, asked of the rendered Role: each must answer yes
    (`can-i update leases` without the Lease's name answers no: the Role grants update on the one Lease only)."""
    from stacks.hivemind_bot.alerts import system_alerts

    manifests = stack(rendered, env)
    role = find(manifests, "Role", "hivemind-bot-leader-election")
    runbook = (ROOT / "docs" / "runbooks" / "hivemind-bot.md").read_text()
    checks = [check for alert in system_alerts(load_environment(env).hivemind_bot) for check in alert.checks]
    commands = [match for text in [runbook, *checks] for match in _CAN_I.finditer(text)]
    assert {match["verb"] for match in commands} >= {"create", "update"}
    for match in commands:
        assert match["namespace"] == role["metadata"]["namespace"] and match["account"] == "hivemind-bot"
        assert _role_allows(role, match["verb"], match["resource"], match["name"]), match[0]
    assert not _role_allows(role, "update", "leases", None)  # what the old check asked


def test_leader_changes_alert_with_the_threshold_of_the_settings() -> None:
    from stacks.hivemind_bot.alerts import system_alerts

    data = load_environment("dev").model_dump(mode="json")
    data["hivemind_bot"]["alerts"]["leader_changes_per_hour"] = 9
    settings = parse_environment("dev", data).hivemind_bot
    (changing,) = [alert for alert in system_alerts(settings) if alert.name == "HivemindBotLeaderChanging"]
    assert changing.expr.endswith("[1h:1m]) > 9")
    assert 'kube_lease_owner{namespace="hivemind", lease="hivemind-bot-sync-leader", lease_holder!=""}' in changing.expr
    assert load_environment("prod").hivemind_bot.alerts.leader_changes_per_hour == 5  # the default
    data["hivemind_bot"]["alerts"]["leader_changes_per_hour"] = 0
    with pytest.raises(SettingsError, match=re.escape("hivemind_bot.alerts.leader_changes_per_hour")):
        parse_environment("dev", data)


def test_the_missing_lease_pages_only_where_kube_state_metrics_exports_namespaced_leases() -> None:
    """absent() alone fires forever on kube-state-metrics before 2.9.0 (no namespace on its lease series); the rule
    asks for the node Leases' namespaced series first (tests/promtool/hivemind-bot.yaml feeds both kinds)."""
    from stacks.hivemind_bot.alerts import NAMESPACED_LEASES, system_alerts

    (no_leader,) = [a for a in system_alerts(load_environment("prod").hivemind_bot) if a.name == "HivemindBotNoLeader"]
    assert f"and on () ({NAMESPACED_LEASES})" in no_leader.expr
    assert 'namespace="kube-node-lease"' in NAMESPACED_LEASES


@pytest.mark.parametrize("env", ENVS)
def test_the_dashboard_shows_the_lease_holder_and_its_renewal(
    rendered: dict[str, RenderedEnvironment], env: str
) -> None:
    config_map = find(stack(rendered, env), "ConfigMap", "hivemind-bot-dashboard")
    (model,) = [json.loads(text) for text in config_map["data"].values()]
    (panel,) = [p for p in model["panels"] if p.get("title", "").startswith("Lease")]
    (target,) = panel["targets"]
    assert "kube_lease_renew_time" in target["expr"] and "group_left (lease_holder)" in target["expr"]
    assert "{{lease_holder}}" in target["legendFormat"]
    assert panel["fieldConfig"]["defaults"]["unit"] == "s"
