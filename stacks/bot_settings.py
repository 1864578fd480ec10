"""Settings the Discord bots share (discord-monitor's bot, hivemind-bot). Light on purpose: settings models import it."""

from __future__ import annotations

from pydantic import Field

from value_types.model import StrictModel
from value_types.names import Cidr


class BotNetworkPolicyBase(StrictModel):
    """A bot's NetworkPolicy: on or off (each bot says what it then allows), and where it may reach Discord."""

    enabled: bool = Field(True, description="Restrict the bot's network access.")
    https_egress_cidrs: list[Cidr] = Field(
        default_factory=list, description="Where the bot may reach on 443 (Discord). Empty: any address."
    )
