"""Where Secrets come from when an External Secrets Operator store holds them: one type for every stack."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from value_types.model import StrictModel
from value_types.names import DnsLabel
from value_types.rules import matching
from value_types.schedules import RefreshInterval


class ExternalSecretsSettings(StrictModel):
    store: DnsLabel = Field(description="The ClusterSecretStore (or SecretStore) holding the system's secrets.")
    store_kind: Literal["ClusterSecretStore", "SecretStore"] = Field("ClusterSecretStore")
    remote_prefix: Annotated[
        str, matching(r"^[A-Za-z0-9/_.-]+$", "a remote key prefix: letters, digits, '/', '_', '.' and '-'", 253)
    ] = Field(description="Remote key prefix; each Secret reads <prefix>/<secret> with one property per variable.")
    refresh_interval: RefreshInterval = Field("1h")
