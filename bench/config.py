"""The gateway's TOML configuration for a benchmark run.

Three departures from the defaults, so that the gateway, not a politeness setting, is what
gets measured: the client token's rate limit is lifted (a load test sends far more than 600
queries a minute), each provider's outbound budget (``rate_per_second`` 50,
``max_concurrency`` 16) is raised (at 50 calls a second, cache-off Q1, dozens of calls, would
be capped near one request a second by the budget alone; S2's 16 requests of 50 status calls
each want 800 calls at once, and at 64 the budget held FleetQL to 0.79x Hive Gateway's
throughput, which has no such budget), and the gateway logs warnings only
(one access-log line per request is the log pipeline's cost, not the gateway's).
``max_aliases`` admits the 50 aliased lookups of the loader baseline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.processes import Emulator

__all__ = ["BENCH_TOKEN", "write_config"]

BENCH_TOKEN = "bench-read-only"
OUTBOUND = {"rate_per_second": 100000, "max_concurrency": 1024}


def write_config(
    path: Path,
    emulators: list[Emulator],
    *,
    port: int,
    cache: bool,
    cache_responses: bool = True,
    server: dict[str, Any] | None = None,
    provider_options: dict[str, dict[str, Any]] | None = None,
    cluster: dict[str, Any] | None = None,
) -> Path:
    """Write a configuration with one provider per emulator; ``cache`` switches [cache], and
    ``cache_responses`` false keeps its read cache without the whole-response cache.

    ``server`` adds keys to the ``[server]`` table; ``provider_options[kind]``, when given,
    replaces the options the emulator of that kind suggests (such as Packet's project ids);
    ``cluster``, when given, is the ``[cluster]`` table (``redis_url``: replicas share Redis).
    """
    tables: list[tuple[str, dict[str, Any]]] = [
        ("server", {"host": "127.0.0.1", "port": port, "graphiql": False, **(server or {})}),
        ("limits", {"queries_per_minute": 10**9, "max_aliases": 64}),
        ("cache", {"enabled": cache, **({} if cache_responses else {"responses": False})}),
        ("observability", {"log_level": "warning"}),
    ]
    if cluster is not None:
        tables.append(("cluster", cluster))
    for emulator in emulators:
        provider = {
            "id": emulator.kind,
            "kind": emulator.kind,
            "base_url": emulator.base_url,
            "prefix": emulator.prefix,
            **emulator.credentials,
            **(provider_options or {}).get(emulator.kind, emulator.options),
            **OUTBOUND,
        }
        tables.append(("[providers]", provider))
    tables.append(("[tokens]", {"name": "bench", "scope": "read-only", "token": BENCH_TOKEN}))
    path.write_text("\n".join(_table(name, values) for name, values in tables))
    return path


def _table(name: str, values: dict[str, Any]) -> str:
    lines = [f"[{name}]"] + [f"{key} = {_value(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")
