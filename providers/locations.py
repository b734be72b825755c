"""FleetQL's one location vocabulary: a city's name, region and short code mean the same
thing for every provider, so ``location_in: ["Amsterdam"]`` finds every provider's servers there.

DataPacket's names are the reference. Each adapter keeps its own table from native codes
(facility, metro, region slug, …) to a key of ``CITIES``, next to its mapping code.
"""

from __future__ import annotations

__all__ = ["CITIES", "city", "unknown_location"]

#: key -> the Location dict FleetQL serves (name, region, short).
CITIES: dict[str, dict[str, str]] = {
    key: {"name": name, "region": region, "short": key}
    for key, name, region in [
        ("AMS", "Amsterdam", "Europe"),
        ("ATL", "Atlanta", "North America"),
        ("BNE", "Brisbane", "Oceania"),
        ("CHI", "Chicago", "North America"),
        ("DAL", "Dallas", "North America"),
        ("DUS", "Düsseldorf", "Europe"),
        ("EYG", "Eygelshoven", "Europe"),
        ("FRA", "Frankfurt", "Europe"),
        ("HEL", "Helsinki", "Europe"),
        ("HKG", "Hong Kong", "Asia"),
        ("LAX", "Los Angeles", "North America"),
        ("LON", "London", "Europe"),
        ("MAD", "Madrid", "Europe"),
        ("MEL", "Melbourne", "Oceania"),
        ("MIA", "Miami", "North America"),
        ("MIL", "Milan", "Europe"),
        ("MUC", "Munich", "Europe"),
        ("NYC", "New York", "North America"),
        ("PAR", "Paris", "Europe"),
        ("PER", "Perth", "Oceania"),
        ("PRG", "Prague", "Europe"),
        ("SAO", "São Paulo", "South America"),
        ("SEA", "Seattle", "North America"),
        ("SIN", "Singapore", "Asia"),
        ("SJC", "Silicon Valley", "North America"),
        ("STO", "Stockholm", "Europe"),
        ("SYD", "Sydney", "Oceania"),
        ("TOR", "Toronto", "North America"),
        ("TYO", "Tokyo", "Asia"),
        ("WAW", "Warsaw", "Europe"),
        ("WDC", "Washington", "North America"),
        ("ZRH", "Zurich", "Europe"),
    ]
}


def city(key: str) -> dict[str, str]:
    """A fresh copy of the canonical Location for a ``CITIES`` key."""
    return dict(CITIES[key])


def unknown_location(native: str | None) -> dict[str, str]:
    """A Location for a native code no table knows: shown as given, region ``Unknown``."""
    label = native or "Unknown"
    return {"name": label, "region": "Unknown", "short": label.upper()[:8]}
