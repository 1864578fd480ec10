"""hivemind-bot against its seed (hivemind-bot-k8s.md). Expected values are transcribed from the seed."""

from __future__ import annotations

from typing import Any

import pytest

from delivery.checks import pod_templates, selects
from engine import Manifest, RenderedEnvironment
from tests.conftest import find

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
