"""The hivemind-bot stack: the bot's replicas with leader election (seed: hivemind-bot-k8s.md)."""

from __future__ import annotations

from constructs import Construct

from constructs_lib import (
    BotEgress,
    BotStack,
    BotStackProps,
    EgressRule,
    LeaderElection,
    RecommendedLabels,
    RemoteKey,
    SecretKeyRef,
    SyncedSecret,
    SyncedSecretProps,
)
from stacks.hivemind_bot import alerts
from stacks.hivemind_bot.settings import SECRET_KEYS, HivemindBotSettings
from stacks.settings_to_props import http_probe
from stacks.system_chart import SystemChart

NAME = "hivemind-bot"
HTTPS_PORT = 443


class HivemindBotChart(SystemChart):
    """The bot Deployment, its leader-election RBAC, PodDisruptionBudget and NetworkPolicy; with the secrets-manager
    source, the ExternalSecret creating the bot's Secret."""

    def __init__(self, scope: Construct, id: str, settings: HivemindBotSettings) -> None:
        super().__init__(scope, id, system=NAME, version=settings.image.tag, settings=settings, observed=alerts)
        policy = settings.network_policy
        election = settings.leader_election
        #: The ExternalSecret creating the bot's Secret (secrets.source external_secrets), else None.
        self.synced_secret = self._synced_secret(settings)
        secret_name = self.synced_secret.secret_name if self.synced_secret is not None else settings.secret_name
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
                    SecretKeyRef(env_name=env_name, secret_name=secret_name, key=key)
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

    def _synced_secret(self, settings: HivemindBotSettings) -> SyncedSecret | None:
        """With source external_secrets, the ExternalSecret creating `secret_name` with every key the bot reads:
        each from `remote_keys`, or by default from `<remote_prefix>/<secret_name>` with the key as property (the
        layout every stack reads its store with)."""
        external = settings.secrets.synced_from
        if external is None:
            return None
        default_key = f"{external.remote_prefix}/{settings.secret_name}"
        overrides = settings.secrets.remote_keys
        data: dict[str, RemoteKey] = {
            key: RemoteKey(key=remote.key, property=remote.property)
            if (remote := overrides.get(key)) is not None
            else RemoteKey(key=default_key, property=key)
            for key in SECRET_KEYS.values()
        }
        return SyncedSecret(
            self,
            "Secret",
            SyncedSecretProps(
                name=settings.secret_name,
                labels=RecommendedLabels(name=NAME, component="secrets", version=settings.image.tag).all,
                store=external.store,
                store_kind=external.store_kind,
                refresh_interval=external.refresh_interval,
                data=data,
            ),
        )
