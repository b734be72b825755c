"""``traffic``: one provider's own aggregate, or statistics over the providers' summed series.

Combining providers must not average averages: each provider returns its summed rate series,
the series are laid on one grid (the coarsest step among them, a bucket's rate being the mean
of the samples in it), added bucket by bucket, and the statistics are computed on the result
with DataPacket's definitions: ``sum`` in bits (rate × step, summed), ``average``, ``maximum``
and ``last`` in bits per second, ``p95`` the nearest-rank 95th percentile of the buckets.

Servers named in ``name_in`` that belong to a provider without traffic (Packet, DCImanager)
are ``NOT_SUPPORTED`` rather than zeros: see ``traffic``.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from errors import NotSupported, ValidationFailed
from providers.base import Capability, Provider, TrafficQuery, TrafficSeries
from providers.selection import Selection
from providers.traffic import traffic_statistics
from resolvers.fanout import ProviderFailures
from resolvers.inputs import server_filter

if TYPE_CHECKING:
    from resolvers.context import RequestContext

__all__ = ["MAX_BUCKETS", "combine", "traffic"]

#: The finest grid used when combining providers: 5 minutes, or coarser for long periods.
BASE_STEP = 300
MAX_BUCKETS = 500


async def traffic(
    context: RequestContext, values: dict[str, Any], selection: Selection, path: list
) -> dict:
    """Aggregated traffic of the selected servers of every provider over a period.

    A ``name_in`` filter routes each name to the provider that owns it: a provider that owns
    none of them is not asked, and one without the TRAFFIC capability answers
    ``NOT_SUPPORTED`` (the field's error when no asked provider is left, else an error beside
    the others' data). Without ``name_in``, every provider with the capability is asked.
    """
    start, end = values["from"], values["to"]  # already datetimes: the DateTime scalar parsed them
    if end <= start:
        raise ValidationFailed("TrafficInput.to must be after TrafficInput.from.", field="to")
    query = TrafficQuery(start=start, end=end, filter=server_filter(values.get("filter") or {}))
    asked, unsupported = _routed(context, query)
    if not asked:
        if unsupported is not None:
            raise unsupported
        zeros = traffic_statistics([], BASE_STEP)
        return {"aggregated": {"statisticsIn": zeros, "statisticsOut": dict(zeros)}}
    if len(asked) == 1:
        provider, own = asked[0]
        result = await provider.traffic(own, selection)
    else:
        result = await _combined(context, path, asked, query)
    if unsupported is not None:
        # Not ``report_partial``: a provider without the operation has not failed, so its
        # health is not touched.
        context.partial_errors.append((unsupported, path))
    return result


def _routed(
    context: RequestContext, query: TrafficQuery
) -> tuple[list[tuple[Provider, TrafficQuery]], NotSupported | None]:
    """The providers to ask, each with its own query, and the error naming those that cannot.

    Only a ``name_in`` filter says which providers' servers are meant without asking them:
    each provider is asked about the names it owns.
    """
    names = query.filter.name_in
    if names is None:
        return [(p, query) for p in context.providers.offering(Capability.TRAFFIC)], None
    asked, incapable = [], []
    for provider in context.providers.all:
        owned = tuple(name for name in names if provider.owns(name))
        if not owned:
            continue
        if provider.supports(Capability.TRAFFIC):
            asked.append((provider, replace(query, filter=replace(query.filter, name_in=owned))))
        else:
            incapable.append(provider.id)
    unsupported = None
    if incapable:
        unsupported = NotSupported(
            ", ".join(incapable), Capability.TRAFFIC.value, "it reports no traffic of its servers"
        )
    return asked, unsupported


async def _combined(
    context: RequestContext,
    path: list,
    asked: list[tuple[Provider, TrafficQuery]],
    query: TrafficQuery,
) -> dict:
    """Statistics of the providers' summed series; a failing provider is reported beside it."""
    step = grid_step((query.end - query.start).total_seconds())
    queries = {provider.id: own for provider, own in asked}
    providers = [provider for provider, _ in asked]
    failing = ProviderFailures(context, path, providers)
    fetch = failing.fetch(lambda p: p.traffic_series(queries[p.id], step), None)
    series = [s for s in await asyncio.gather(*(fetch(p) for p in providers)) if s is not None]
    failing.settle()
    inbound, outbound, bucket = combine(series, query)
    return {
        "aggregated": {
            "statisticsIn": traffic_statistics(inbound, bucket),
            "statisticsOut": traffic_statistics(outbound, bucket),
        }
    }


def grid_step(seconds: float) -> int:
    """The step asked of providers: 5 minutes, coarser (in 5-minute units) for long periods."""
    return BASE_STEP * max(1, math.ceil(seconds / (BASE_STEP * MAX_BUCKETS)))


def combine(series: list[TrafficSeries], query: TrafficQuery) -> tuple[list, list, int]:
    """Sum the series on a common grid: (inbound, outbound, step seconds)."""
    step = max([s.step for s in series], default=BASE_STEP)
    count = math.ceil((query.end - query.start).total_seconds() / step)
    inbound, outbound = [0.0] * count, [0.0] * count
    for one in series:
        for total, values in ((inbound, one.inbound), (outbound, one.outbound)):
            buckets: dict[int, list[float]] = {}
            for i, value in enumerate(values):
                offset = (one.start - query.start).total_seconds() + i * one.step
                index = math.floor(offset / step)
                if 0 <= index < count:
                    buckets.setdefault(index, []).append(value)
            for index, samples in buckets.items():
                total[index] += sum(samples) / len(samples)
    return inbound, outbound, step
