"""Live server status across replicas: one poller per provider account, changes over pub/sub.

With ``[cluster]``, a replica whose subscribers follow a provider asks ``role`` before each
poll. The replica holding the provider's lease (a Redis key with its replica id, taken with
``SET NX PX`` and renewed by each poll it makes) is the ``lead``: it polls and publishes what
it saw on the provider's channel. Every other replica with subscribers ``follow``s: it does
not poll, and hears the lead's messages:

- ``changes``: the names of the servers that changed. The replica reads those servers with
  its own subscribers' selections (through the read cache, which the lead's poll filled) and
  hands them to its watches.
- ``error``: the lead's poll failed; every watch gets the error event.
- ``action``: a power action was sent through some replica; the lead polls fast.

A lead with no subscribers left releases the lease, so another replica takes it at its next
poll; a lead that stops answering loses it when it expires (``LEASE_POLLS`` poll intervals plus
the poll deadline). The lead keeps its last poll's statuses in Redis for as long
(``live-state``), and a replica that followed and takes over compares its first poll with
them, so a change between the two polls reaches every subscriber. While Redis cannot be
reached, or this replica cannot listen to its channel, each replica polls ``alone``, as
without ``[cluster]``, and publishes nothing.
Power actions are also recorded for ``ACTION_POLLS`` fast polls under their server's digest,
so ``powerActionProgress`` on any replica knows an action sent through another.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from errors import ProviderUnavailable
from providers.cluster import SharedStore, StoreUnavailable
from resolvers.live import ACTION_POLLS, ProviderPoller, State

if TYPE_CHECKING:
    from redis.asyncio.client import PubSub

    from errors import GatewayError
    from providers.base import Provider

__all__ = ["SharedPolling"]

log = logging.getLogger("fleetql.subscriptions")

#: Poll intervals a lease outlives its holder's last poll by (plus the poll deadline).
LEASE_POLLS = 3
#: Seconds between attempts to listen again after the channel's connection failed.
RELISTEN_SECONDS = 1.0

#: Renew the lease if it is ours, else take it if it is free: 1 when held by ARGV[1] after.
_TAKE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
#: Delete the lease only if it is ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class SharedPolling:
    """This replica's side of the shared pollers: its lease attempts and its channel."""

    def __init__(
        self, store: SharedStore, interval: float, action_interval: float, deadline: float
    ):
        self.store = store
        self.replica = uuid.uuid4().hex
        self.lease_ms = int((LEASE_POLLS * interval + deadline) * 1000)
        self.action_ms = max(1, int(ACTION_POLLS * action_interval * 1000))
        self._take = store.register_script(_TAKE)
        self._release = store.register_script(_RELEASE)
        #: Provider id -> this replica's poller, while it runs.
        self.pollers: dict[str, ProviderPoller] = {}
        self._pubsub: PubSub | None = None
        self._channels: set[str] = set()
        self._reader: asyncio.Task[None] | None = None
        self._listening = False
        self._tasks: set[asyncio.Task[Any]] = set()
        #: Provider id -> the last poll this replica wrote as its lead (``remember``).
        self._written: dict[str, dict[str, list[Any]]] = {}

    def channel(self, provider_id: str) -> str:
        """The pub/sub channel of one provider's changes."""
        return self.store.key("live", provider_id)

    async def role(self, poller: ProviderPoller) -> str:
        """``lead`` (poll and publish), ``follow`` (listen) or ``alone`` (poll, Redis away)."""
        provider_id = poller.provider.id
        self.pollers[provider_id] = poller
        if not await self._listen(provider_id):
            return "alone"
        lease = self.store.key("live-lease", provider_id)
        try:
            held = await self.store.attempt(
                "poll_lease",
                lambda redis: self._take(keys=[lease], args=[self.replica, self.lease_ms]),
            )
        except StoreUnavailable:
            return "alone"
        return "lead" if held == 1 else "follow"

    async def left(self, poller: ProviderPoller) -> None:
        """The poller stopped (no subscriber left here): release its lease and channel."""
        provider_id = poller.provider.id
        if self.pollers.get(provider_id) is poller:
            del self.pollers[provider_id]
        lease = self.store.key("live-lease", provider_id)
        try:
            await self.store.attempt(
                "poll_lease", lambda redis: self._release(keys=[lease], args=[self.replica])
            )
        except StoreUnavailable:
            pass  # it expires
        channel = self.channel(provider_id)
        if channel in self._channels and provider_id not in self.pollers:
            self._channels.discard(channel)
            if self._pubsub is not None and self._listening:
                try:
                    await self.store.attempt(
                        "poll_channel", lambda redis: self._pubsub.unsubscribe(channel)
                    )
                except StoreUnavailable:
                    self._broken()

    def remember(self, poller: ProviderPoller, states: dict[str, State]) -> None:
        """Keep the lead's last poll in Redis for the lease's time, for whoever takes over.

        Written when it differs from the last one written, its expiry renewed otherwise.
        """
        provider_id = poller.provider.id
        key = self.store.key("live-state", provider_id)
        pairs = {name: [state[0], state[1]] for name, state in states.items()}
        if self._written.get(provider_id) == pairs:
            self._spawn(
                self._quietly("poll_state", lambda redis: redis.pexpire(key, self.lease_ms))
            )
            return
        self._written[provider_id] = pairs
        body = json.dumps(pairs, separators=(",", ":"))
        self._spawn(
            self._quietly("poll_state", lambda redis: redis.set(key, body, px=self.lease_ms))
        )

    async def remembered(self, poller: ProviderPoller) -> dict[str, State] | None:
        """The last lead's last poll of the provider, if Redis still has it."""
        key = self.store.key("live-state", poller.provider.id)
        try:
            raw = await self.store.attempt("poll_state", lambda redis: redis.get(key))
            pairs = json.loads(raw) if raw is not None else None
        except (StoreUnavailable, ValueError):
            return None
        if not isinstance(pairs, dict):
            return None
        return {
            name: (pair[0], pair[1], None)
            for name, pair in pairs.items()
            if isinstance(pair, list) and len(pair) == 2
        }

    def publish_changes(self, poller: ProviderPoller, names: list[str]) -> None:
        """Tell the other replicas which servers changed."""
        self._publish(poller.provider.id, {"kind": "changes", "names": names})

    def publish_error(self, poller: ProviderPoller, error: GatewayError) -> None:
        """Tell the other replicas that the provider's poll failed."""
        self._publish(poller.provider.id, {"kind": "error", "message": error.message})

    def action_sent(self, provider: Provider, name: str) -> None:
        """Record a power action for every replica and hurry the provider's lead."""
        key = self._action_key(provider, name)
        self._spawn(
            self._quietly("poll_action", lambda redis: redis.set(key, 1, px=self.action_ms))
        )
        self._publish(provider.id, {"kind": "action", "name": name})

    async def action_recent(self, provider: Provider, name: str) -> bool:
        """Whether any replica sent a power action to ``name`` within the fast polls."""
        key = self._action_key(provider, name)
        try:
            return bool(await self.store.attempt("poll_action", lambda redis: redis.exists(key)))
        except StoreUnavailable:
            return False

    async def close(self) -> None:
        """Stop listening and wait for pending publications."""
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None

    # --- the channel ----------------------------------------------------------------------

    def _action_key(self, provider: Provider, name: str) -> str:
        digest = hashlib.sha256(name.encode()).hexdigest()[:32]
        return self.store.key("live-action", provider.id, digest)

    async def _listen(self, provider_id: str) -> bool:
        """Subscribe to the provider's channel if not yet; whether this replica listens."""
        channel = self.channel(provider_id)
        if self._listening and channel in self._channels:
            return True
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name="live channel")
        if self._pubsub is None:
            self._pubsub = self.store.pubsub()
        try:
            await self.store.attempt("poll_channel", lambda redis: self._pubsub.subscribe(channel))
        except StoreUnavailable:
            self._broken()
            return False
        self._channels.add(channel)
        self._listening = True
        return True

    def _broken(self) -> None:
        """The channel's connection failed: poll alone until it is listened to again."""
        self._listening = False
        self._channels.clear()
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            self._spawn(pubsub.aclose())

    async def _read(self) -> None:
        while True:
            pubsub = self._pubsub
            if pubsub is None or not self._listening:
                await asyncio.sleep(RELISTEN_SECONDS)
                continue
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # redis-py's connection errors, whichever class
                log.warning("live channel lost: %s", type(error).__name__)
                self._broken()
                continue
            if message is not None and message.get("type") == "message":
                self._heard(message["channel"], message["data"])

    def _heard(self, channel: bytes | str, data: bytes | str) -> None:
        try:
            body = json.loads(data)
        except ValueError:
            return
        if not isinstance(body, dict) or body.get("from") == self.replica:
            return
        provider_id = body.get("provider")
        poller = self.pollers.get(provider_id) if isinstance(provider_id, str) else None
        if poller is None or not poller.watches:
            return
        kind = body.get("kind")
        if kind == "action" and isinstance(body.get("name"), str):
            poller.action_sent(body["name"])
        elif kind == "error" and isinstance(body.get("message"), str):
            poller.tell(ProviderUnavailable(body["message"], provider=provider_id))
        elif kind == "changes" and isinstance(body.get("names"), list):
            names = [name for name in body["names"] if isinstance(name, str)]
            self._spawn(self._changed(poller, names))

    async def _changed(self, poller: ProviderPoller, names: list[str]) -> None:
        """Read the servers the lead saw change and hand them to this replica's watches."""
        try:
            found = await poller.provider.servers_by_name(names, poller.selection())
            servers = list(found.values())
            poller.deliver(servers, servers, await poller.progress(servers))
        except ProviderUnavailable as error:
            poller.tell(error)
        except Exception:
            log.exception("reading the changed servers of %s failed", poller.provider.id)

    def _publish(self, provider_id: str, body: dict[str, Any]) -> None:
        message = json.dumps({**body, "from": self.replica, "provider": provider_id})
        channel = self.channel(provider_id)
        self._spawn(self._quietly("poll_publish", lambda redis: redis.publish(channel, message)))

    async def _quietly(self, operation: str, run: Any) -> None:
        try:
            await self.store.attempt(operation, run)
        except StoreUnavailable:
            pass  # counted by the store; the other replicas poll alone meanwhile

    def _spawn(self, awaitable: Any) -> None:
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
