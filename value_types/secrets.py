"""Where Secrets come from when an External Secrets Operator store holds them: one type for every stack."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from value_types.model import StrictModel
from value_types.names import DnsLabel
from value_types.rules import matching
from value_types.schedules import RefreshInterval

# A path in the secret manager (a remote secret's name, or the prefix of several).
RemotePath = Annotated[
    str, matching(r"^[A-Za-z0-9/_.-]+$", "a remote key path: letters, digits, '/', '_', '.' and '-'", 253)
]


class ExternalSecretsSettings(StrictModel):
    store: DnsLabel = Field(description="The ClusterSecretStore (or SecretStore) holding the system's secrets.")
    store_kind: Literal["ClusterSecretStore", "SecretStore"] = Field("ClusterSecretStore")
    remote_prefix: RemotePath = Field(
        description="Remote key prefix; each Secret reads <prefix>/<secret> with one property per variable."
    )
    refresh_interval: RefreshInterval = Field("1h")


class SecretSourceSettings(StrictModel):
    """Where a system's Secrets come from: created out of band and referenced by name, or created by ExternalSecrets
    from a secret manager. Values never enter this repository. A stack's own secrets block extends this one."""

    source: Literal["existing", "external_secrets"] = Field(
        "existing", description="Reference Secrets created out of band, or render ExternalSecrets that create them."
    )
    external_secrets: ExternalSecretsSettings | None = Field(
        None,
        validate_default=True,  # an absent block must be refused too, not only an explicit null
        description="The store to read from: required with source external_secrets.",
    )

    @field_validator("external_secrets")
    @classmethod
    def _store_when_external(
        cls, external: ExternalSecretsSettings | None, info: ValidationInfo
    ) -> ExternalSecretsSettings | None:
        if info.data.get("source") == "external_secrets" and external is None:
            raise ValueError("required when source is external_secrets")
        return external

    @property
    def synced_from(self) -> ExternalSecretsSettings | None:
        """The store the ExternalSecrets read, or None when the Secrets exist already (source existing)."""
        return self.external_secrets if self.source == "external_secrets" else None


class RemoteRefSettings(StrictModel):
    """Where one Secret key's value lives in the secret manager."""

    key: RemotePath = Field(description="The remote secret's name or path, e.g. discord/hivemind-bot.")
    property: str | None = Field(
        None, min_length=1, max_length=253, description="A field inside it (JSON secrets). Default: the whole value."
    )
