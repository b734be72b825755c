"""Per-request dataloaders: batch and de-duplicate server lookups per provider.

One loader exists per (provider, selection): twenty ``server(input: {name})`` fields in one
document that select the same fields become one ``servers_by_name`` call per provider.
"""

from __future__ import annotations

from aiodataloader import DataLoader

from providers.base import Provider
from providers.selection import Selection

__all__ = ["Loaders"]


class Loaders:
    """The loaders of one GraphQL request (never shared between requests or tokens)."""

    def __init__(self) -> None:
        self._servers_by_name: dict[tuple[str, str], DataLoader] = {}

    def servers_by_name(self, provider: Provider, selection: Selection) -> DataLoader:
        """A loader of ``name -> server dict | None`` for one provider and selection."""
        key = (provider.id, selection.key)
        loader = self._servers_by_name.get(key)
        if loader is None:

            async def batch(names: list[str]) -> list[dict | None]:
                found = await provider.servers_by_name(list(names), selection)
                return [found.get(name) for name in names]

            loader = self._servers_by_name[key] = DataLoader(batch, max_batch_size=500)
        return loader
