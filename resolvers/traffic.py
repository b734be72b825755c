"""``traffic``: one provider's own aggregate, or statistics over the providers' summed series.

Combining providers must not average averages: each provider returns its summed rate series,
the series are laid on one grid (the coarsest step among them, a bucket's rate being the mean
of the samples in it), added bucket by bucket, and the statistics are computed on the result
with DataPacket's definitions: ``sum`` in bits (rate × step, summed), ``average``, ``maximum``
and ``last`` in bits per second, ``p95`` the nearest-rank 95th percentile of the buckets.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING, Any

from providers.base import Capability, TrafficQuery, TrafficSeries
from providers.selection import Selection
from providers.traffic import traffic_statistics
from resolvers.fanout import Tolerance
from resolvers.inputs import server_filter
from schema.errors import ValidationFailed

if TYPE_CHECKING:
    from gateway.context import RequestContext

__all__ = ["MAX_BUCKETS", "combine", "traffic"]

#: The finest grid used when combining providers: 5 minutes, or coarser for long periods.
BASE_STEP = 300
MAX_BUCKETS = 500


async def traffic(
    context: RequestContext, values: dict[str, Any], selection: Selection, path: list
) -> dict:
    """Aggregated traffic of the selected servers of every provider over a period."""
    start, end = values["from"], values["to"]  # already datetimes: the DateTime scalar parsed them
    if end <= start:
        raise ValidationFailed("TrafficInput.to must be after TrafficInput.from.", field="to")
    query = TrafficQuery(start=start, end=end, filter=server_filter(values.get("filter") or {}))
    providers = context.providers.offering(Capability.TRAFFIC)
    if len(providers) == 1:
        return await providers[0].traffic(query, selection)
    step = grid_step((end - start).total_seconds())
    tolerance = Tolerance(context, path, providers)
    fetch = tolerance.fetch(lambda provider: provider.traffic_series(query, step), None)
    series = [s for s in await asyncio.gather(*(fetch(p) for p in providers)) if s is not None]
    tolerance.settle()
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
