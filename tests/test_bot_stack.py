"""BotStack and Redis: credentials by reference only, leader-election RBAC, Redis, egress, disruption budget."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from constructs_lib import (
    BotEgress,
    BotStack,
    BotStackProps,
    EgressRule,
    LeaderElection,
    PropsError,
    RecommendedLabels,
    Redis,
    RedisEndpoint,
    RedisProps,
    SecretKeyRef,
)
from delivery.checks import find_problems
from tests.construct_helpers import IMAGE, PROBE, RESOURCES, only, synth

TOKEN = SecretKeyRef(env_name="BOT_TOKEN", secret_name="bot-token", key="BOT_TOKEN")


def props(**overrides: Any) -> BotStackProps:
    base = BotStackProps(
        name="bot",
        image=IMAGE,
        resources=RESOURCES,
        port=8080,
        liveness_probe=PROBE,
        readiness_probe=PROBE,
        credentials=[TOKEN],
    )
    return dataclasses.replace(base, **overrides)


def render(bot_props: BotStackProps) -> list[dict[str, Any]]:
    return synth(lambda chart: BotStack(chart, "Bot", bot_props))


def of_kind(manifests: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in manifests if m["kind"] == kind]


def bot_container(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = next(m for m in of_kind(manifests, "Deployment") if m["metadata"]["name"] == "bot")
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def test_minimal_bot_is_one_hardened_replica_without_service_or_api_access() -> None:
    manifests = render(props())
    assert sorted(m["kind"] for m in manifests) == ["Deployment", "ServiceAccount"]
    pod = only(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "bot"
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "BOT_TOKEN", "valueFrom": {"secretKeyRef": {"name": "bot-token", "key": "BOT_TOKEN"}}} in container[
        "env"
    ]
    assert list(find_problems(manifests)) == []


def test_literal_token_is_refused() -> None:
    with pytest.raises(PropsError) as caught:
        render(props(env={"BOT_TOKEN": "MTk4"}))
    assert caught.value.prop == "env.BOT_TOKEN"
    assert "reference a Secret" in caught.value.allowed


def test_service_only_when_a_port_is_exposed() -> None:
    service = only(render(props(service_port=80)), "Service")
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]


def test_leader_election_rbac_is_exactly_what_a_lease_lock_needs() -> None:
    manifests = render(props(replicas=3, leader_election=LeaderElection(lease_name="bot-leader")))
    role = only(manifests, "Role")
    assert role["metadata"]["name"] == "bot-leader-election"
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["bot-leader"],
            "verbs": ["get", "update"],
        },
    ]
    binding = only(manifests, "RoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "bot-leader-election",
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "bot"}]
    pod = only(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "bot"
    assert pod["automountServiceAccountToken"] is True
    assert only(manifests, "ServiceAccount")["automountServiceAccountToken"] is True
    assert {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}} in pod[
        "containers"
    ][0]["env"]
    assert list(find_problems(manifests)) == []


def test_disruption_budget_only_with_more_than_one_replica() -> None:
    assert not of_kind(render(props()), "PodDisruptionBudget")
    budget = only(render(props(replicas=3)), "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert only(render(props(replicas=3)), "Deployment")["spec"]["replicas"] == 3


def test_in_cluster_redis_is_persistent_password_protected_and_fenced() -> None:
    manifests = render(props(redis=RedisProps(name="bot-redis", part_of="bot", password_secret="redis-auth")))
    statefulset = only(manifests, "StatefulSet")
    pod = statefulset["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert statefulset["spec"]["serviceName"] == "bot-redis"
    assert statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert {"mountPath": "/data", "name": "data"} in container["volumeMounts"]
    assert container["securityContext"]["runAsUser"] == 999
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "$(REDIS_PASSWORD)" in container["args"]
    # The password is never a literal, and the probes authenticate without putting it on a command line.
    assert all("value" not in e for e in container["env"] if "PASSWORD" in e["name"] or "AUTH" in e["name"])
    assert "REDISCLI_AUTH" in {e["name"] for e in container["env"]}
    headless = next(s for s in of_kind(manifests, "Service") if s["metadata"]["name"] == "bot-redis")
    assert headless["spec"]["clusterIP"] == "None"
    policy = next(p for p in of_kind(manifests, "NetworkPolicy") if p["metadata"]["name"] == "bot-redis")
    assert policy["spec"]["ingress"][0]["from"] == [{"podSelector": {"matchLabels": only_bot_selector()}}]
    env = {e["name"]: e for e in bot_container(manifests)["env"]}
    assert env["REDIS_HOST"]["value"] == "bot-redis"
    assert env["REDIS_PORT"]["value"] == "6379"
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "redis-auth", "key": "redis-password"}
    assert list(find_problems(manifests)) == []


def only_bot_selector() -> dict[str, str]:
    return {"app.kubernetes.io/name": "bot", "app.kubernetes.io/instance": "bot", "app.kubernetes.io/component": "bot"}


def test_external_redis_is_only_an_endpoint() -> None:
    manifests = render(props(redis=RedisEndpoint(host="redis.data.svc", port=6380, password_secret="ext")))
    assert not of_kind(manifests, "StatefulSet")
    env = {e["name"]: e for e in bot_container(manifests)["env"]}
    assert env["REDIS_HOST"]["value"] == "redis.data.svc"
    assert env["REDIS_PORT"]["value"] == "6380"


def test_egress_policy_adds_redis_and_api_server() -> None:
    manifests = render(
        props(
            redis=RedisProps(name="bot-redis", part_of="bot", password_secret="redis-auth"),
            leader_election=LeaderElection(lease_name="l"),
            egress=BotEgress(rules=[EgressRule(ports=[443])]),
        )
    )
    policy = next(p for p in of_kind(manifests, "NetworkPolicy") if p["metadata"]["name"] == "bot")
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in spec, "nothing may connect to the bot"
    ports = [[p["port"] for p in rule["ports"]] for rule in spec["egress"]]
    assert ports == [[53, 53], [443], [6379], [443, 6443]]
    redis_rule = spec["egress"][2]
    assert redis_rule["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "bot-redis"
    assert list(find_problems(manifests)) == []


def test_redis_allow_from_adds_a_client() -> None:
    client = RecommendedLabels(name="bot", component="retention", version="1")

    class Retention:
        labels = client
        selector_labels = client.selector

    def build(chart: Any) -> None:
        redis = Redis(chart, "Redis", RedisProps(name="r", part_of="p", password_secret="s"))
        redis.allow_from(Retention())

    policies = {m["metadata"]["name"]: m for m in synth(build) if m["kind"] == "NetworkPolicy"}
    assert sorted(policies) == ["r", "r-from-retention"]
    (rule,) = policies["r-from-retention"]["spec"]["ingress"]
    assert rule == {
        "from": [{"podSelector": {"matchLabels": client.selector}}],
        "ports": [{"port": 6379, "protocol": "TCP"}],
    }


@pytest.mark.parametrize(
    ("overrides", "prop", "allowed"),
    [
        ({"name": "Bot"}, "name", "DNS label"),
        ({"replicas": 0}, "replicas", ">= 1"),
        ({"replicas": 3, "max_unavailable": 3}, "max_unavailable", "1..2"),
        ({"leader_election": LeaderElection(lease_name="Lease!")}, "leader_election.lease_name", "DNS label"),
        ({"credentials": [TOKEN, TOKEN]}, "credentials", "distinct"),
        ({"redis": RedisEndpoint(host="", password_secret="s")}, "redis.host", "DNS name"),
    ],
)
def test_bot_validation_errors(overrides: dict[str, Any], prop: str, allowed: str) -> None:
    with pytest.raises(PropsError) as caught:
        render(props(**overrides))
    assert caught.value.prop == prop
    assert allowed in caught.value.allowed


@pytest.mark.parametrize(
    ("overrides", "prop", "allowed"),
    [
        ({"storage_size": "lots"}, "storage_size", "Mi"),
        ({"max_memory_policy": "yolo"}, "max_memory_policy", "noeviction"),
        ({"password_secret": "Not_A_Name"}, "password_secret", "DNS label"),
        ({"port": 70000}, "port", "1..65535"),
    ],
)
def test_redis_validation_errors(overrides: dict[str, Any], prop: str, allowed: str) -> None:
    redis_props = dataclasses.replace(RedisProps(name="r", part_of="p", password_secret="s"), **overrides)
    with pytest.raises(PropsError) as caught:
        synth(lambda chart: Redis(chart, "Redis", redis_props))
    assert caught.value.construct == "Redis"
    assert caught.value.prop == prop
    assert allowed in caught.value.allowed
