"""The adapter's translation of every documented dashserv answer form, and its options."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from emulators.dashserv.app import create_app
from emulators.kit import EmulatorServer
from errors import (
    NotAuthorized,
    NotFound,
    ProviderUnavailable,
    ValidationFailed,
)
from providers.base import ProviderConfig
from providers.dashserv.adapter import DashservProvider, _RateLimited
from providers.http import request_deadline
from providers.resilience import ResiliencePolicy
from tests.providers.dashserv.examples import example
from tests.servers import serving

CONFIG = ProviderConfig(
    id="ds",
    kind="dashserv",
    base_url="https://api.dashserv.io/v1",
    prefix="DS",
    credentials={"token": "secret-token"},
)


def answer(status: int, body: object) -> httpx.Response:
    request = httpx.Request("GET", "https://api.dashserv.io/v1/product/vserver")
    if isinstance(body, bytes):
        return httpx.Response(status, content=body, request=request)
    return httpx.Response(status, json=body, request=request)


@pytest.fixture
def provider() -> DashservProvider:
    return DashservProvider(CONFIG)


@pytest.mark.parametrize(
    ("status", "body", "error", "field"),
    [
        # Seed "Errors": both spellings of not-found.
        (404, example("errors"), NotFound, None),
        (404, {"success": False, "data": "resource_not_found"}, NotFound, None),
        (200, {"success": False, "data": "ressource_not_found"}, NotFound, None),
        (403, {"success": False, "data": "forbidden"}, NotAuthorized, None),
        (403, {"success": False, "data": "invalid_token"}, NotAuthorized, None),
        (403, b"<html>Forbidden</html>", NotAuthorized, None),
        (422, {"success": False, "data": "empty_field:hostname"}, ValidationFailed, "hostname"),
        # Seed "Place order": the validation object.
        (422, example("order-place-order-validation-error"), ValidationFailed, "bandwidth"),
        (412, {"success": False, "data": "product_not_available"}, ValidationFailed, None),
        # Seed "Change resources": errors answered with success: true.
        (200, {"success": True, "data": "cannot_downgrade_disk"}, ValidationFailed, None),
        (200, {"success": True, "data": "upgrade_resources_exceeds_limit"}, ValidationFailed, None),
        # 404 without a not-found code is "Invalid API route": a wrong base_url.
        (404, {"success": False, "data": "route_not_found"}, ProviderUnavailable, None),
        (405, {"success": False, "data": "method_not_allowed"}, ProviderUnavailable, None),
        (500, {"success": False, "data": "internal_server_error"}, ProviderUnavailable, None),
        (200, b'{"success": tr', ProviderUnavailable, None),
        (200, {"data": []}, ProviderUnavailable, None),
        (200, ["not", "an", "envelope"], ProviderUnavailable, None),
    ],
)
@pytest.mark.parametrize("write", [True, False])
def test_error_forms_become_gateway_errors(provider, status, body, error, field, write):
    if error is ValidationFailed and not write:
        # A read is built by the gateway: its refusal is the provider's failure.
        error, field = ProviderUnavailable, None
    with pytest.raises(error) as raised:
        provider._unwrap(answer(status, body), write=write)
    extensions = raised.value.extensions
    assert extensions["provider"] == "ds"
    assert extensions.get("field") == field
    assert "secret-token" not in raised.value.message
    assert "dashserv.io" not in raised.value.message


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (503, {"success": False, "data": "ratelimit_exceeded"}),
        (503, b"Service Unavailable"),
        (200, {"success": False, "data": "ratelimit_exceeded"}),
        (429, {"success": False, "data": "ratelimit_exceeded"}),
    ],
)
def test_rate_limit_forms_mean_back_off(provider, status, body):
    with pytest.raises(_RateLimited):
        provider._unwrap(answer(status, body), write=False)


def test_a_failed_write_has_an_unknown_outcome(provider):
    with pytest.raises(ProviderUnavailable) as raised:
        provider._unwrap(answer(500, {"success": False, "data": "x"}), write=True)
    assert raised.value.extensions["outcome"] == "unknown"


def test_successful_envelopes_answer_their_data(provider):
    assert provider._unwrap(answer(200, example("dedicated-server-start-server")), write=True) == (
        "action_executed_successfully"
    )
    assert (
        provider._unwrap(answer(200, example("vserver-force-shutdown-server")), write=True)
        == "gAbgA"
    )
    assert provider._unwrap(answer(200, example("dedicated-server-get-status")), write=False) == {
        "status": "online"
    }


@pytest.mark.parametrize("name", ["DS-", "DS-models", "DS-a/b", "XX-abcde", "DS-" + "a" * 40])
async def test_names_that_cannot_be_products_are_not_found_without_a_call(provider, name):
    with pytest.raises(NotFound):
        await provider._record(name)
    await provider.close()


# --- rate-limit retries through the transport's one retry loop --------------------------------


@pytest.fixture
def limited() -> Iterator[EmulatorServer]:
    """An emulator answering every API request 503 ``ratelimit_exceeded``."""
    with serving(create_app(size=4, seed=1)) as server:
        server.app.state.emulator.faults.update({"error_rate": 1.0, "error_status": 503})
        yield server


def over(server: EmulatorServer, **policy: float) -> DashservProvider:
    return DashservProvider(
        replace(CONFIG, base_url=f"{server.url}/v1", resilience=ResiliencePolicy(**policy))
    )


def tries(server: EmulatorServer) -> int:
    return server.app.state.emulator.request_log.count(path="/v1/product/dedicated-server")


async def test_rate_limited_reads_take_the_general_retries(limited):
    provider = over(limited, retries=1, retry_backoff=0.001)
    with pytest.raises(ProviderUnavailable) as raised:
        await provider._get("product/dedicated-server")
    await provider.close()
    assert "rate limiting" in raised.value.message
    assert tries(limited) == 2


async def test_rate_limited_retries_draw_on_the_retry_budget(limited):
    # The breaker stays out of it: it would end the second read after one try, budget or not.
    provider = over(limited, retries=10, retry_backoff=0.001, breaker_failures=100)
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            await provider._get("product/dedicated-server")
    await provider.close()
    # The budget allows three retries in ten seconds (at least; 20 % of the calls beyond):
    # the first read spends them (1 + 3 tries), the second is tried once.
    assert tries(limited) == 5


async def test_rate_limited_retries_end_by_the_request_deadline(limited):
    # A backoff of 2-4 s per retry cannot fit in a deadline 1 s away: no retry starts.
    provider = over(limited, retries=3, retry_backoff=4.0)
    token = request_deadline.set(asyncio.get_running_loop().time() + 1.0)
    try:
        with pytest.raises(ProviderUnavailable):
            await provider._get("product/dedicated-server")
    finally:
        request_deadline.reset(token)
        await provider.close()
    assert tries(limited) == 1


async def test_a_rate_limited_write_is_never_retried(limited):
    provider = over(limited, retries=3, retry_backoff=0.001)
    with pytest.raises(ProviderUnavailable) as raised:
        await provider._post("product/vserver/x/actions/start")
    await provider.close()
    assert "nothing was changed" in raised.value.message
    assert limited.app.state.emulator.request_log.count(method="POST") == 1
