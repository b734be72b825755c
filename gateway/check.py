"""``fleetql check``: validate a configuration, then ping each provider once (and Redis).

Each provider makes its cheapest authenticated call (the one ``/readyz`` uses) once, without
retries or the cache. The result is a table, drawn with ``rich`` on a terminal when it is
installed, plain text otherwise. With ``[cluster] redis_url``, one line after the table says
whether Redis answered a PING within ``[cluster] timeout``. Exit status: 0 every provider
(and Redis) answered, 1 some did not, 2 the configuration is invalid.

Example:
    $ fleetql check --config fleet.toml
    provider  kind        result  time    detail
    dp        datapacket  ok      84 ms
    pk        packet      FAILED  3 ms    Provider 'pk' could not connect.
    redis: FAILED: redis ping failed: could not connect (ConnectionError)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from typing import IO

from errors import GatewayError
from gateway.settings import ConfigError, Settings, load_settings
from gateway.tracing import tracing_from_settings
from providers.base import Provider, ProviderConfig
from providers.cluster import SharedStore, StoreUnavailable
from providers.registry import create_provider

__all__ = ["ProviderCheck", "check_providers", "check_redis", "run_check"]

HEADERS = ("provider", "kind", "result", "time", "detail")


@dataclass(frozen=True)
class ProviderCheck:
    """How one provider answered its ping."""

    id: str
    kind: str
    ok: bool
    milliseconds: float
    detail: str = ""

    def row(self) -> tuple[str, ...]:
        """The table row: id, kind, result, time, detail."""
        result = "ok" if self.ok else "FAILED"
        return self.id, self.kind, result, f"{self.milliseconds:.0f} ms", self.detail


def run_check(path: str, out: IO[str], err: IO[str]) -> int:
    """Validate the file at ``path``, ping its providers and print the table to ``out``."""
    try:
        settings = load_settings(path)
        tracing_from_settings(settings).shutdown()
    except ConfigError as error:
        print(f"fleetql: configuration error: {error}", file=err)
        return 2
    providers, tokens = len(settings.providers), len(settings.tokens)
    print(f"{path}: configuration valid ({providers} providers, {tokens} tokens)", file=out)
    checks = asyncio.run(check_providers(settings))
    _print_table(checks, out)
    redis_ok = True
    if settings.cluster is not None:
        redis_ok, line = asyncio.run(check_redis(settings))
        print(line, file=out)
    return 0 if redis_ok and all(check.ok for check in checks) else 1


async def check_redis(settings: Settings) -> tuple[bool, str]:
    """PING the ``[cluster]`` Redis once: whether it answered, and one line saying so."""
    assert settings.cluster is not None
    store = SharedStore(settings.cluster)
    try:
        seconds = await store.ping()
    except StoreUnavailable as unavailable:
        return False, f"redis: FAILED: {unavailable.reason}"
    finally:
        await store.close()
    return True, f"redis: ok ({seconds * 1000:.0f} ms)"


async def check_providers(settings: Settings, timeout: float = 10.0) -> list[ProviderCheck]:
    """Ping every configured provider once, concurrently, each within ``timeout`` seconds."""
    providers = [create_provider(_single_attempt(config)) for config in settings.providers]
    await asyncio.gather(*(provider.start() for provider in providers))
    try:
        return list(await asyncio.gather(*(_ping(provider, timeout) for provider in providers)))
    finally:
        await asyncio.gather(*(provider.close() for provider in providers))


def _single_attempt(config: ProviderConfig) -> ProviderConfig:
    """The configuration without retries or cache: a check must see the upstream as it is."""
    return replace(config, cache_ttls={}, resilience=replace(config.resilience, retries=0))


async def _ping(provider: Provider, timeout: float) -> ProviderCheck:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(provider.ping(), timeout)
        ok, detail = True, ""
    except GatewayError as error:
        ok, detail = False, error.message  # already names the provider, never a credential
    except TimeoutError:
        ok, detail = False, f"no answer within {timeout:g} s"
    except Exception as error:  # noqa: BLE001 - any failure is a failed check, reported by type
        ok, detail = False, type(error).__name__
    elapsed = (time.perf_counter() - started) * 1000
    return ProviderCheck(provider.id, provider.kind, ok, elapsed, detail)


def _print_table(checks: list[ProviderCheck], out: IO[str]) -> None:
    rows = [check.row() for check in checks]
    if out.isatty():
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:
            pass
        else:
            table = Table(*HEADERS)
            for check, row in zip(checks, rows, strict=True):
                table.add_row(*row, style=None if check.ok else "red")
            Console(file=out).print(table)
            return
    widths = [max(len(row[i]) for row in [HEADERS, *rows]) for i in range(len(HEADERS))]
    for row in [HEADERS, *rows]:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip(), file=out)
