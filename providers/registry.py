"""The provider kinds FleetQL knows, and the set of configured provider instances."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from errors import NotSupported
from providers.base import Capability, Provider, ProviderConfig
from providers.cluster import SharedStore
from providers.dashserv.adapter import DashservProvider
from providers.datapacket.adapter import DataPacketProvider
from providers.dcimanager.adapter import DciManagerProvider
from providers.mammoth.adapter import MammothProvider
from providers.packet.adapter import PacketProvider

__all__ = ["PROVIDER_KINDS", "ProviderSet", "create_provider"]

#: kind name -> adapter class. A new backend is one line here plus its package.
PROVIDER_KINDS: dict[str, type[Provider]] = {
    DataPacketProvider.kind: DataPacketProvider,
    PacketProvider.kind: PacketProvider,
    MammothProvider.kind: MammothProvider,
    DashservProvider.kind: DashservProvider,
    DciManagerProvider.kind: DciManagerProvider,
}


def create_provider(config: ProviderConfig) -> Provider:
    """Instantiate the adapter for one configured provider."""
    return PROVIDER_KINDS[config.kind](config)


class ProviderSet:
    """The configured provider instances, in configuration order (the global order)."""

    def __init__(self, providers: Iterable[Provider]) -> None:
        self.all: list[Provider] = list(providers)
        self.by_id: dict[str, Provider] = {provider.id: provider for provider in self.all}

    def visible_to(self, allowed: frozenset[str] | None) -> ProviderSet:
        """The providers a token scoped to ``allowed`` ids may use (all when ``None``)."""
        if allowed is None:
            return self
        return ProviderSet(provider for provider in self.all if provider.id in allowed)

    def capable(self, capability: Capability, only: Iterable[str] | None = None) -> list[Provider]:
        """Providers implementing ``capability``, optionally limited to some ids."""
        wanted = set(only) if only is not None else None
        return [
            provider
            for provider in self.all
            if provider.supports(capability) and (wanted is None or provider.id in wanted)
        ]

    def offering(self, capability: Capability, operation: str | None = None) -> list[Provider]:
        """Providers implementing ``capability``; ``NOT_SUPPORTED`` for ``operation`` (the
        GraphQL field, by default the capability's own) listing them all if none do.

        A merged answer from the providers that can give one is not an error; no provider at
        all able to answer is.
        """
        capable = self.capable(capability)
        if not capable:
            raise NotSupported.by_none([p.id for p in self.all], operation or capability.value)
        return capable

    def owners_of(self, server_name: str) -> list[Provider]:
        """The providers whose naming scheme covers ``server_name`` (usually exactly one)."""
        return [provider for provider in self.all if provider.owns(server_name)]

    def share(self, store: SharedStore) -> None:
        """Share every provider's read cache and account state with the other replicas
        through ``store`` (``Provider.share``)."""
        for provider in self.all:
            provider.share(store)

    async def start(self) -> None:
        """Open every provider's upstream connections."""
        await asyncio.gather(*(provider.start() for provider in self.all))

    async def close(self) -> None:
        """Close every provider's upstream connections."""
        await asyncio.gather(*(provider.close() for provider in self.all))


def capability_matrix() -> str:
    """The README's provider capability matrix (Markdown), from the declared capabilities."""
    kinds = list(PROVIDER_KINDS.values())
    lines = [
        "| Operation | " + " | ".join(kind.kind for kind in kinds) + " |",
        "|---|" + "---|" * len(kinds),
    ]
    for capability in Capability:
        cells = ["yes" if capability in kind.capabilities else "NOT_SUPPORTED" for kind in kinds]
        lines.append(f"| `{capability.value}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
