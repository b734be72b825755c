"""DataPacket's traffic statistics over one summed rate series (bits per second)."""

from __future__ import annotations

import math

__all__ = ["traffic_statistics"]


def traffic_statistics(values: list[float], step: float) -> dict[str, float]:
    """``TrafficStatistics`` of a series with one rate per ``step`` seconds.

    ``sum`` is in bits (rate × step, summed); ``average``, ``maximum`` and ``last`` in bits
    per second; ``p95`` is the nearest-rank 95th percentile (sort, take rank ceil(0.95 n)).
    All are whole numbers; an empty series gives zeros.
    """
    if not values:
        return dict.fromkeys(("sum", "average", "maximum", "last", "p95"), 0.0)
    ranked = sorted(values)
    return {
        "sum": float(round(sum(values) * step)),
        "average": float(round(sum(values) / len(values))),
        "maximum": float(round(ranked[-1])),
        "last": float(round(values[-1])),
        "p95": float(round(ranked[math.ceil(0.95 * len(ranked)) - 1])),
    }
