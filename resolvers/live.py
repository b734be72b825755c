"""Live server status: one poller per provider instance, its changes fanned out to subscribers.

Subscribers (``serverStatusChanged``, ``powerActionProgress``) register a ``Watch`` with the
``StatusFeed``; the first on a provider starts its ``ProviderPoller``, the last one leaving
stops it. Each poll lists the provider's servers through the adapter (the read cache, the
circuit breaker and the rate limits, as any query), with the union of the subscribers'
selections, within ``deadline`` seconds, and compares every server's ``powerStatus``,
``statusV2`` and, while the gateway follows a power action on it, that action's progress with
the previous poll: a server whose state changed is put on the queue of each watch whose names
and filter it matches. The first poll only records. While a power action the gateway sent is
in progress (until its server's state changes, at most ``ACTION_POLLS`` polls), the provider is
polled every ``action_interval`` seconds (when shorter) instead. A poll that fails puts one
error event, naming the provider, on every watch's queue; the watches of other providers go on.

With ``[cluster]``, replicas share the polling (``resolvers/live_shared.py``): one replica
holds a provider's lease and polls; the others hear its changes over Redis pub/sub.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from errors import BadRequest, GatewayError, InternalServerError, ProviderUnavailable
from providers.base import Capability, Provider, ServerFilter
from providers.filtering import filter_selection, server_matches
from providers.http import request_deadline
from providers.selection import Selection
from resolvers.inputs import server_filter
from resolvers.servers import resolve_server, with_provider

if TYPE_CHECKING:
    from resolvers.context import RequestContext
    from resolvers.live_shared import SharedPolling

__all__ = [
    "ProviderPoller",
    "StatusFeed",
    "Watch",
    "power_action_progress",
    "server_status_changes",
]

log = logging.getLogger("fleetql.subscriptions")

#: What a poll must read of every server to see a change.
STATUS_SELECTION = Selection.of({"name": {}, "powerStatus": {}, "statusV2": {}})
#: Fast polls at most after a power action, should its server's state never change.
ACTION_POLLS = 30
#: Servers asked for per list call while polling: DataPacket's largest page, so that each is
#: one upstream call there (an adapter asked for more pages through them all).
POLL_PAGE = 50
#: Changes kept for a subscriber that has not read them yet; past it the oldest go first (a
#: server's newest state is the one that matters), so a stalled client holds bounded memory.
MAX_PENDING = 100
#: Power actions remembered for ``powerActionProgress`` (server -> when it was sent).
MAX_RECENT_ACTIONS = 10_000

#: A server's state as a poll compares it: power status, status, and the followed action's
#: (status, completedAt) where the provider tracks it.
State = tuple[Any, Any, Any]


class _End:
    """Put on a watch's queue when the action it follows has ended."""


END = _End()


def server_state(server: dict, progress: dict | None = None) -> State:
    """What a change of ``server`` is judged on."""
    action = (progress["status"], progress["completedAt"]) if progress else None
    return (server.get("powerStatus"), server.get("statusV2"), action)


def moved(before: State | None, after: State) -> bool:
    """Whether a server changed between two polls (a server new since the last one did not).

    Action progress counts only while both polls read it: it is read while the gateway
    follows an action, and starting or stopping to read it is no change of the server.
    """
    if before is None:
        return False
    if before[:2] != after[:2]:
        return True
    return before[2] is not None and after[2] is not None and before[2] != after[2]


@dataclass(eq=False)
class Watch:
    """One subscriber: which servers it follows and the queue its events arrive on.

    An event is a changed server (a dict), a ``GatewayError`` naming a provider whose poll
    failed, or ``END`` (``follows_action`` watches only).
    """

    names: frozenset[str] | None
    filter: ServerFilter
    selection: Selection
    changes: asyncio.Queue[Any] = field(default_factory=lambda: asyncio.Queue(MAX_PENDING))
    #: ``powerActionProgress``: follow one server until its action ends, from ``last``.
    follows_action: bool = False
    last: State | None = None

    def offer(self, event: Any) -> None:
        """Queue an event; when the queue is full, its oldest event goes."""
        if self.changes.full():
            self.changes.get_nowait()
        self.changes.put_nowait(event)

    def wants(self, server: dict) -> bool:
        """Whether a changed server is one this subscriber follows."""
        if self.names is not None and server["name"] not in self.names:
            return False
        return server_matches(server, self.filter)


class ProviderPoller:
    """Reads one provider's servers every ``interval`` seconds while it has watches."""

    def __init__(
        self,
        provider: Provider,
        interval: float,
        action_interval: float,
        deadline: float,
        shared: SharedPolling | None = None,
    ) -> None:
        self.provider = provider
        self.interval = interval
        self.action_interval = action_interval
        self.deadline = deadline
        self.shared = shared
        self.watches: set[Watch] = set()
        #: Polls completed since the poller was made (on this replica).
        self.polls = 0
        #: Servers with a power action in progress: the fast polls each may still take.
        self.actions: dict[str, int] = {}
        self._states: dict[str, State] | None = None
        self._failing = False
        self._task: asyncio.Task[None] | None = None
        self._hurry = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def add(self, watch: Watch) -> None:
        self.watches.add(watch)
        if not self.running:
            self._states = None
            self._task = asyncio.create_task(self._run(), name=f"poll {self.provider.id}")

    def action_sent(self, name: str) -> None:
        """Poll fast until server ``name``'s state changes (a power action was sent)."""
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
        followed = False
        try:
            while self.watches:
                role = "alone" if self.shared is None else await self.shared.role(self)
                if role == "follow":
                    self._states, followed = None, True  # the lease holder compares
                else:
                    if role == "lead" and followed:
                        # Taking over: compare with what the last holder saw, so that a change
                        # between its last poll and this one is not lost.
                        self._states, followed = await self.shared.remembered(self), False
                    await self._poll_once(publish=role == "lead")
                self._hurry.clear()
                if self.actions:
                    self._count_down()
                fast = self.actions and self.action_interval < self.interval
                # An action sent meanwhile cuts the wait short.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._hurry.wait(), self.action_interval if fast else self.interval
                    )
        finally:
            if self.shared is not None:
                await self.shared.left(self)

    def _count_down(self) -> None:
        """One fast poll less for every followed action; watches of the expired ones end."""
        expired = {name for name, left in self.actions.items() if left <= 1}
        self.actions = {name: left - 1 for name, left in self.actions.items() if left > 1}
        for watch in self.watches:
            if watch.follows_action and watch.names and watch.names <= expired:
                watch.offer(END)

    async def _poll_once(self, *, publish: bool) -> None:
        """One poll; a failure is one error event for every watch, then polling goes on."""
        try:
            changed = await self.poll()
        except (GatewayError, TimeoutError) as error:
            if isinstance(error, TimeoutError):
                error = ProviderUnavailable.failed(
                    self.provider.id, f"did not answer a poll within {self.deadline:g} s"
                )
            log.warning("polling %s failed: %s", self.provider.id, error.message)
            self._failed(error, publish)
        except Exception:
            # Keep polling: the subscribers would otherwise wait for changes forever.
            log.exception("polling %s failed unexpectedly", self.provider.id)
            error = InternalServerError(f"Polling provider {self.provider.id!r} failed.")
            self._failed(error, publish)
        else:
            self._failing = False
            if publish:
                self.shared.remember(self, self._states or {})
                if changed:
                    self.shared.publish_changes(self, changed)

    def _failed(self, error: GatewayError, publish: bool) -> None:
        """Tell every watch, once per outage, that this provider's poll failed."""
        if self._failing:
            return
        self._failing = True
        self.tell(error)
        if publish:
            self.shared.publish_error(self, error)

    def tell(self, error: GatewayError) -> None:
        """Put an error event on every watch's queue."""
        for watch in self.watches:
            watch.offer(error)

    async def poll(self) -> list[str]:
        """List every server once, within the deadline, and queue the changed servers.

        Returns the names of the servers that changed.
        """
        selection = self.selection()
        deadline = asyncio.get_running_loop().time() + self.deadline
        token = request_deadline.set(deadline)
        try:
            async with asyncio.timeout_at(deadline):
                servers = await self._list(selection)
                progress = await self.progress(servers)
        finally:
            request_deadline.reset(token)
        self.polls += 1
        states = {s["name"]: server_state(s, progress.get(s["name"])) for s in servers}
        previous, self._states = self._states, states
        changed = []
        if previous is not None:
            changed = [s for s in servers if moved(previous.get(s["name"]), states[s["name"]])]
        self.deliver(changed, servers, progress)
        return [server["name"] for server in changed]

    def selection(self) -> Selection:
        """What a poll reads: the status fields and every watch's selection and filter."""
        selection = STATUS_SELECTION
        for watch in self.watches:
            selection = selection.merge(watch.selection).merge(filter_selection(watch.filter))
        return selection

    async def progress(self, servers: Iterable[dict]) -> dict[str, dict]:
        """The progress of the followed actions on ``servers``, where the provider tracks it."""
        names = [s["name"] for s in servers if s["name"] in self.actions]
        found = await asyncio.gather(*(self.provider.power_action_progress(n) for n in names))
        return {
            name: progress
            for name, progress in zip(names, found, strict=True)
            if progress is not None
        }

    def deliver(self, changed: list[dict], servers: list[dict], progress: dict[str, dict]) -> None:
        """Queue the changed servers for the watches that want them; end finished actions."""
        for server in changed:
            tracked = progress.get(server["name"])
            if tracked is None or tracked["completedAt"] is not None:
                self.actions.pop(server["name"], None)
            tagged = with_provider(server, self.provider)
            for watch in self.watches:
                if not watch.follows_action and watch.wants(tagged):
                    watch.offer(tagged)
        followers = [watch for watch in self.watches if watch.follows_action]
        if not followers:
            return
        by_name = {server["name"]: server for server in servers}
        for watch in followers:
            (name,) = watch.names or ()
            server = by_name.get(name)
            if server is None:
                continue
            tracked = progress.get(name)
            state = server_state(server, tracked)
            moved = state != watch.last
            if moved:
                watch.last = state
                watch.offer(with_provider(server, self.provider))
            if tracked is not None:
                done = tracked["completedAt"] is not None
            else:
                done = moved or name not in self.actions
            if done:
                watch.offer(END)

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

    def __init__(
        self,
        interval: float,
        action_interval: float,
        deadline: float = 30.0,
        shared: SharedPolling | None = None,
    ) -> None:
        self.interval = interval
        self.action_interval = action_interval
        self.deadline = deadline
        self.shared = shared
        self.pollers: dict[str, ProviderPoller] = {}
        #: (provider id, server name) -> loop time a power action was sent through here.
        self._recent: OrderedDict[tuple[str, str], float] = OrderedDict()

    def action_sent(self, provider: Provider, name: str) -> None:
        """A power action was sent to server ``name``: its poller, if any, polls fast."""
        self._recent[(provider.id, name)] = time.monotonic()
        self._recent.move_to_end((provider.id, name))
        while len(self._recent) > MAX_RECENT_ACTIONS:
            self._recent.popitem(last=False)
        poller = self.pollers.get(provider.id)
        if poller is not None and poller.running:
            poller.action_sent(name)
        if self.shared is not None:
            self.shared.action_sent(provider, name)

    async def action_in_progress(self, provider: Provider, name: str) -> bool:
        """Whether a power action sent to ``name`` may still be running."""
        sent = self._recent.get((provider.id, name))
        horizon = ACTION_POLLS * max(self.action_interval, 0.0)
        if sent is not None and time.monotonic() - sent <= horizon:
            return True
        return self.shared is not None and await self.shared.action_recent(provider, name)

    async def follow(self, providers: list[Provider], watch: Watch) -> AsyncIterator[Any]:
        """The events of ``providers`` that ``watch`` follows, until closed or ``END``."""
        pollers = [self._poller(provider) for provider in providers]
        for poller in pollers:
            poller.add(watch)
            if watch.follows_action:
                poller.action_sent(*watch.names or ())
        try:
            while (event := await watch.changes.get()) is not END:
                yield event
        finally:
            for poller in pollers:
                poller.remove(watch)

    def _poller(self, provider: Provider) -> ProviderPoller:
        poller = self.pollers.get(provider.id)
        if poller is None:
            poller = ProviderPoller(
                provider, self.interval, self.action_interval, self.deadline, self.shared
            )
            self.pollers[provider.id] = poller
        return poller

    async def close(self) -> None:
        """Stop every poller."""
        await asyncio.gather(*(poller.stop() for poller in self.pollers.values()))
        if self.shared is not None:
            await self.shared.close()


def _feed(context: RequestContext) -> StatusFeed:
    if context.status_feed is None:
        raise BadRequest("Subscriptions are served over WebSocket (graphql-transport-ws).")
    return context.status_feed


async def server_status_changes(
    context: RequestContext, values: dict[str, Any] | None, selection: Selection
) -> AsyncIterator[Any]:
    """``serverStatusChanged``: the changes of the servers the token may see, as they come."""
    feed = _feed(context)
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
    async for event in feed.follow(providers, watch):
        yield event


async def power_action_progress(
    context: RequestContext, values: dict[str, Any], selection: Selection
) -> AsyncIterator[Any]:
    """``powerActionProgress``: the server now, then each change until its action ends.

    The action ends when the provider reports it completed (providers that track actions:
    Mammoth), otherwise at the server's first change of state, or when the fast polls after
    the action run out. With no action in progress, the server is sent once. A server that
    does not exist is ``NOT_FOUND``, as in the ``server`` query.
    """
    feed = _feed(context)
    server = await resolve_server(
        context, values["server"], selection.merge(STATUS_SELECTION), path=None
    )
    provider, name = context.providers.by_id[server["provider"]["id"]], server["name"]
    tracked = await provider.power_action_progress(name)
    yield server
    running = (
        tracked["completedAt"] is None
        if tracked is not None
        else await feed.action_in_progress(provider, name)
    )
    if not running:
        return
    watch = Watch(
        names=frozenset([name]),
        filter=ServerFilter(),
        selection=selection,
        follows_action=True,
        last=server_state(server, tracked),
    )
    async for event in feed.follow([provider], watch):
        yield event
