"""Synthetic 5-minute traffic samples and the statistics of DataPacket's ``traffic`` query.

Samples are never stored: each server's rate at time ``t`` is a daily sine wave around its own
base rate, ``base * (1 + amplitude * sin(2*pi*t/86400 + phase))``, and the summed series of the
selected servers is multiplied by a deterministic noise factor ``1 + 0.15 * g(seed, t)``. Because
the sine terms add up to ``A + B*sin(wt) + C*cos(wt)``, aggregating any number of servers costs one
pass over the servers plus one pass over the timestamps, so benchmarks with thousands of servers
and 30-day windows stay fast.

Statistics over the samples ``v`` (bits per second) at ``t = k * 300`` with ``from <= t < to``,
limited to the retention window (the last 30 days up to now):
  * ``sum``     = sum(v) * 300 (bits), ``average`` = mean(v), ``maximum`` = max(v) (bits/s;
                  the schema says "in bits", but a peak of a rate is a rate), ``last`` = v at the
                  latest sample;
  * ``p95``     = nearest-rank 95th percentile of the combined series (sort ascending, take the
                  value at rank ceil(0.95 * n)), i.e. the burstable-billing convention: the top 5 %
                  of 5-minute samples of the servers' summed traffic are discarded.
All are rounded to whole numbers; a window without samples yields zeros.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass

SAMPLE_SECONDS = 300
RETENTION_SECONDS = 30 * 86400
_OMEGA = 2 * math.pi / 86400
_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class TrafficProfile:
    """One server's traffic shape: base rates in bits/s, daily swing and its phase."""

    base_in: float
    base_out: float
    amplitude: float
    phase: float

    @classmethod
    def random(cls, rng: random.Random, active: bool) -> TrafficProfile:
        """A plausible profile (30 Mbit/s to 3 Gbit/s outbound); silent when not ``active``."""
        base_out = 10 ** rng.uniform(7.5, 9.5) if active else 0.0
        return cls(
            base_in=base_out * rng.uniform(0.05, 0.3),
            base_out=base_out,
            amplitude=rng.uniform(0.2, 0.6),
            phase=rng.uniform(0, 2 * math.pi),
        )


def aggregate(
    profiles: Iterable[TrafficProfile], start: float, end: float, now: float, seed: int
) -> dict[str, dict[str, float]]:
    """``AggregatedTraffic`` for the summed profiles over epoch seconds ``[start, end)``."""
    profiles = list(profiles)
    lo = max(start, now - RETENTION_SECONDS)
    hi = min(end, now + 1)
    first = math.ceil(lo / SAMPLE_SECONDS)
    stamps = [k * SAMPLE_SECONDS for k in range(first, math.ceil(hi / SAMPLE_SECONDS))]
    result = {}
    for direction, attr in (("statisticsIn", "base_in"), ("statisticsOut", "base_out")):
        a = sum(getattr(p, attr) for p in profiles)
        b = sum(getattr(p, attr) * p.amplitude * math.cos(p.phase) for p in profiles)
        c = sum(getattr(p, attr) * p.amplitude * math.sin(p.phase) for p in profiles)
        salt = seed * 2 + (direction == "statisticsOut")
        values = [
            (1 + 0.15 * _noise(salt, t)) * (a + b * math.sin(_OMEGA * t) + c * math.cos(_OMEGA * t))
            for t in stamps
        ]
        result[direction] = _statistics(values)
    return result


def _statistics(values: list[float]) -> dict[str, float]:
    if not values:
        return dict.fromkeys(("sum", "average", "maximum", "last", "p95"), 0.0)
    ranked = sorted(values)
    return {
        "sum": float(round(sum(values) * SAMPLE_SECONDS)),
        "average": float(round(sum(values) / len(values))),
        "maximum": float(round(ranked[-1])),
        "last": float(round(values[-1])),
        "p95": float(round(ranked[math.ceil(0.95 * len(ranked)) - 1])),
    }


def _noise(salt: int, t: int) -> float:
    """Deterministic value in [-1, 1) for (salt, t): a splitmix64 hash, cheap and seedable."""
    z = (salt * 0x9E3779B97F4A7C15 + t // SAMPLE_SECONDS + 0x632BE59BD9B4E019) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    z ^= z >> 31
    return z / (1 << 63) - 1.0
