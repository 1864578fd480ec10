"""The hivemind-bot stack: the bot's replicas with leader election (seed: hivemind-bot-k8s.md)."""

from __future__ import annotations

from cdk8s import Chart
from constructs import Construct

from constructs_lib import BotEgress, BotStack, BotStackProps, EgressRule, LeaderElection, SecretKeyRef
from stacks.dashboard_model import add_dashboard
from stacks.hivemind_bot.alerts import system_alerts, system_workloads
from stacks.hivemind_bot.settings import HivemindBotSettings
from stacks.observability import add_alert_rules
from stacks.settings_to_props import http_probe

NAME = "hivemind-bot"
HTTPS_PORT = 443
# The seed's Secret keys (`kubectl create secret generic hivemind-bot-secrets --from-literal=...`).
SECRET_KEYS = {
    "DISCORD_BOT_TOKEN": "discord-token",
    "DISCORD_APPLICATION_ID": "application-id",
    "BACKEND_SERVICE_TOKEN": "service-token",
}


class HivemindBotChart(Chart):
    """The bot Deployment, its leader-election RBAC, PodDisruptionBudget and NetworkPolicy."""

    def __init__(self, scope: Construct, id: str, settings: HivemindBotSettings) -> None:
        super().__init__(scope, id, namespace=settings.namespace, disable_resource_name_hashes=True)
        add_alert_rules(self, NAME, settings.image.tag, settings.alerts, system_alerts(settings))
        add_dashboard(self, NAME, settings.image.tag, settings.dashboard, system_workloads(settings))
        policy = settings.network_policy
        election = settings.leader_election
        self.bot = BotStack(
            self,
            "Bot",
            BotStackProps(
                name=NAME,
                image=settings.image,
                resources=settings.resources,
                port=settings.health_port,
                liveness_probe=http_probe(settings.liveness_probe),
                readiness_probe=http_probe(settings.readiness_probe),
                credentials=[
                    SecretKeyRef(env_name=env_name, secret_name=settings.secret_name, key=key)
                    for env_name, key in SECRET_KEYS.items()
                ],
                env={
                    "BACKEND_GRPC_HOST": settings.backend_grpc_host,
                    "BACKEND_GRPC_PORT": str(settings.backend_grpc_port),
                    "WEB_BASE_URL": settings.web_base_url,
                    "LOG_LEVEL": settings.log_level,
                    "LOG_FORMAT": settings.log_format,
                },
                # The seed's own commands (`kubectl get pods -l app=hivemind-bot`, `kubectl logs -l ...`) find the
                # pods by this label; it is on the pods only, so adding it changed no selector.
                pod_labels={"app": NAME},
                replicas=settings.replicas,
                max_unavailable=settings.max_unavailable,
                leader_election=LeaderElection(lease_name=election.lease_name) if election.enabled else None,
                egress=BotEgress(
                    rules=[
                        EgressRule(ports=[settings.backend_grpc_port]),
                        EgressRule(ports=[HTTPS_PORT], cidrs=policy.https_egress_cidrs),
                    ]
                )
                if policy.enabled
                else None,
            ),
        )
