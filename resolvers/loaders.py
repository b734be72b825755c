"""Per-request dataloaders: batch and de-duplicate server lookups per provider.

One loader exists per (provider, selection): twenty ``server(input: {name})`` fields in one
document that select the same fields become one ``servers_by_name`` call per provider.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from aiodataloader import DataLoader

from providers.base import Provider
from providers.selection import Selection

__all__ = ["BatchObserver", "Loaders"]

#: Wraps one batch: called with the provider id and the number of keys (metrics, a span).
BatchObserver = Callable[[str, int], AbstractContextManager[object]]


def _unobserved(_provider: str, _size: int) -> AbstractContextManager[object]:
    return nullcontext()


class Loaders:
    """The loaders of one GraphQL request (never shared between requests or tokens)."""

    def __init__(self, observe_batch: BatchObserver = _unobserved) -> None:
        self._servers_by_name: dict[tuple[str, str], DataLoader] = {}
        self._observe_batch = observe_batch

    def servers_by_name(self, provider: Provider, selection: Selection) -> DataLoader:
        """A loader of ``name -> server dict | None`` for one provider and selection."""
        key = (provider.id, selection.key)
        loader = self._servers_by_name.get(key)
        if loader is None:

            async def batch(names: list[str]) -> list[dict | None]:
                with self._observe_batch(provider.id, len(names)):
                    found = await provider.servers_by_name(list(names), selection)
                return [found.get(name) for name in names]

            loader = self._servers_by_name[key] = DataLoader(batch, max_batch_size=500)
        return loader
