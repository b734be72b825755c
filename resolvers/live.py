"""Live server status: one poller per provider instance, its changes fanned out to subscribers.

``serverStatusChanged`` subscribers register with the ``StatusFeed``; the first on a provider
starts its ``ProviderPoller``, the last one leaving stops it. Each poll lists the provider's
servers through the adapter (the read cache, the circuit breaker and the rate limits, as any
query), with the union of the subscribers' selections, and compares every server's
``powerStatus`` and ``statusV2`` with the previous poll: a server whose pair changed is put on
the queue of each subscriber whose names and filter it matches. The first poll only records.
While a power action the gateway sent is in progress (until its server's status changes, at
most ``ACTION_POLLS`` polls), the provider is polled every ``action_interval`` seconds (when
shorter) instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from errors import BadRequest, GatewayError
from providers.base import Capability, Provider, ServerFilter
from providers.filtering import filter_selection, server_matches
from providers.selection import Selection
from resolvers.inputs import server_filter
from resolvers.servers import with_provider

if TYPE_CHECKING:
    from resolvers.context import RequestContext

__all__ = ["StatusFeed", "Watch", "server_status_changes"]

log = logging.getLogger("fleetql.subscriptions")

#: What a poll must read of every server to see a change.
STATUS_SELECTION = Selection.of({"name": {}, "powerStatus": {}, "statusV2": {}})
#: Fast polls at most after a power action, should its server's status never change.
ACTION_POLLS = 30
#: Servers asked for per list call while polling: DataPacket's largest page, so that each is
#: one upstream call there (an adapter asked for more pages through them all).
POLL_PAGE = 50


#: Changes kept for a subscriber that has not read them yet; past it the oldest go first (a
#: server's newest status is the one that matters), so a stalled client holds bounded memory.
MAX_PENDING = 100


@dataclass(eq=False)
class Watch:
    """One subscriber: which servers it follows and the queue its changed servers arrive on."""

    names: frozenset[str] | None
    filter: ServerFilter
    selection: Selection
    changes: asyncio.Queue[dict] = field(default_factory=lambda: asyncio.Queue(MAX_PENDING))

    def offer(self, server: dict) -> None:
        """Queue a changed server; when the queue is full, its oldest change goes."""
        if self.changes.full():
            self.changes.get_nowait()
        self.changes.put_nowait(server)

    def wants(self, server: dict) -> bool:
        """Whether a changed server is one this subscriber follows."""
        if self.names is not None and server["name"] not in self.names:
            return False
        return server_matches(server, self.filter)


class ProviderPoller:
    """Reads one provider's servers every ``interval`` seconds while it has watches."""

    def __init__(self, provider: Provider, interval: float, action_interval: float) -> None:
        self.provider = provider
        self.interval = interval
        self.action_interval = action_interval
        self.watches: set[Watch] = set()
        #: Polls completed since the poller was made.
        self.polls = 0
        #: Servers with a power action in progress: the fast polls each may still take.
        self.actions: dict[str, int] = {}
        self._statuses: dict[str, tuple[str | None, str | None]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._hurry = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def add(self, watch: Watch) -> None:
        self.watches.add(watch)
        if not self.running:
            self._statuses = None
            self._task = asyncio.create_task(self._run(), name=f"poll {self.provider.id}")

    def action_sent(self, name: str) -> None:
        """Poll fast until server ``name``'s status changes (a power action was sent)."""
        self.actions[name] = ACTION_POLLS
        self._hurry.set()

    def remove(self, watch: Watch) -> None:
        self.watches.discard(watch)
        if not self.watches and self._task is not None:
            self._task.cancel()
            self._task = None

    async def stop(self) -> None:
        """Cancel the polling task and wait for it (the app's shutdown)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while self.watches:
            try:
                await self.poll()
            except GatewayError as error:
                log.warning("polling %s failed: %s", self.provider.id, error.message)
            except Exception:
                # Keep polling: the subscribers would otherwise wait for changes forever.
                log.exception("polling %s failed unexpectedly", self.provider.id)
            self._hurry.clear()
            if self.actions:
                self.actions = {name: left - 1 for name, left in self.actions.items() if left > 1}
            interval = min(self.action_interval, self.interval) if self.actions else self.interval
            # An action sent meanwhile cuts the wait short.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hurry.wait(), interval)

    async def poll(self) -> None:
        """List every server once, record the statuses and queue the changed servers."""
        selection = STATUS_SELECTION
        for watch in self.watches:
            selection = selection.merge(watch.selection).merge(filter_selection(watch.filter))
        servers = await self._list(selection)
        self.polls += 1
        statuses = {s["name"]: (s.get("powerStatus"), s.get("statusV2")) for s in servers}
        previous, self._statuses = self._statuses, statuses
        if previous is None:
            return
        for server in servers:
            if previous.get(server["name"], statuses[server["name"]]) == statuses[server["name"]]:
                continue
            self.actions.pop(server["name"], None)
            tagged = with_provider(server, self.provider)
            for watch in self.watches:
                if watch.wants(tagged):
                    watch.offer(tagged)

    async def _list(self, selection: Selection) -> list[dict]:
        servers: list[dict] = []
        while True:
            page = await self.provider.list_servers(
                ServerFilter(), len(servers), POLL_PAGE, selection
            )
            entries = await page.head(POLL_PAGE)
            servers += entries
            if not entries or len(servers) >= page.total:
                return servers


class StatusFeed:
    """The process's pollers, one per provider instance, made on first subscription."""

    def __init__(self, interval: float, action_interval: float) -> None:
        self.interval = interval
        self.action_interval = action_interval
        self.pollers: dict[str, ProviderPoller] = {}

    def action_sent(self, provider: Provider, name: str) -> None:
        """A power action was sent to server ``name``: its poller, if any, polls fast."""
        poller = self.pollers.get(provider.id)
        if poller is not None and poller.running:
            poller.action_sent(name)

    async def follow(self, providers: list[Provider], watch: Watch) -> AsyncIterator[dict]:
        """The changed servers of ``providers`` that ``watch`` follows, until closed."""
        pollers = [self._poller(provider) for provider in providers]
        for poller in pollers:
            poller.add(watch)
        try:
            while True:
                yield await watch.changes.get()
        finally:
            for poller in pollers:
                poller.remove(watch)

    def _poller(self, provider: Provider) -> ProviderPoller:
        poller = self.pollers.get(provider.id)
        if poller is None:
            poller = ProviderPoller(provider, self.interval, self.action_interval)
            self.pollers[provider.id] = poller
        return poller

    async def close(self) -> None:
        """Stop every poller."""
        await asyncio.gather(*(poller.stop() for poller in self.pollers.values()))


async def server_status_changes(
    context: RequestContext, values: dict[str, Any] | None, selection: Selection
) -> AsyncIterator[dict]:
    """``serverStatusChanged``: the changes of the servers the token may see, as they come."""
    if context.status_feed is None:
        raise BadRequest("Subscriptions are served over WebSocket (graphql-transport-ws).")
    values = values or {}
    filter_values = values.get("filter") or {}
    names = values.get("names")
    watch = Watch(
        names=frozenset(names) if names is not None else None,
        filter=server_filter(filter_values),
        selection=selection,
    )
    providers = context.providers.capable(
        Capability.LIST_SERVERS, only=filter_values.get("provider_in")
    )
    if names is not None:
        providers = [p for p in providers if any(p.owns(name) for name in names)]
    async for server in context.status_feed.follow(providers, watch):
        yield server
