"""DateTime values the gateway sends upstream and answers are RFC 3339: a four-digit year.

``strftime("%Y")`` writes year 36 as ``36`` on glibc, which no RFC 3339 parser reads; years
0001-0999 are valid input, so they must reach DataPacket and Mammoth zero-padded.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from emulators.datapacket import app as datapacket_emulator
from emulators.kit.server import EmulatorServer
from emulators.mammoth import app as mammoth_emulator
from providers.datetimes import format_datetime
from tests.conftest import GatewayClient, datapacket_config, error_codes, start_gateway
from tests.providers.mammoth.conftest import provider_table
from tests.servers import stop_soon

TRAFFIC = """query($input: TrafficInput!) {
  traffic(input: $input) { aggregated { statisticsIn { sum } statisticsOut { sum } } }
}"""


@pytest.fixture
def upstreams() -> Iterator[tuple[EmulatorServer, EmulatorServer]]:
    datapacket = EmulatorServer(datapacket_emulator.create_app(size=10, seed=1)).start()
    mammoth = EmulatorServer(mammoth_emulator.create_app(size=5, seed=1)).start()
    yield datapacket, mammoth
    stop_soon([datapacket, mammoth])


def gateway(*tables: dict) -> tuple[GatewayClient, EmulatorServer]:
    server = start_gateway(list(tables))
    return GatewayClient(server), server


def bodies(upstream: EmulatorServer) -> list:
    return [entry.body for entry in upstream.app.state.emulator.request_log.entries()]


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(36, 1, 1, tzinfo=UTC), "0036-01-01T00:00:00.000Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.000Z"),
        (datetime(2025, 1, 14, 17, 7, 11, 144999, tzinfo=UTC), "2025-01-14T17:07:11.144Z"),
    ],
)
def test_datetimes_are_rendered_with_a_four_digit_year(moment: datetime, text: str) -> None:
    assert format_datetime(moment) == text


def test_a_traffic_period_in_year_36_reaches_datapacket_zero_padded(upstreams) -> None:
    datapacket, _ = upstreams
    client, server = gateway(datapacket_config(datapacket))
    try:
        period = {"from": "0036-01-01T00:00:00Z", "to": "0036-01-02T00:00:00Z"}
        client.data(TRAFFIC, {"input": period})
    finally:
        server.stop()
    [sent] = bodies(datapacket)
    assert sent["variables"]["input"]["from"] == "0036-01-01T00:00:00.000Z"
    assert sent["variables"]["input"]["to"] == "0036-01-02T00:00:00.000Z"


def test_a_combined_traffic_period_in_year_36_reaches_every_provider_zero_padded(
    upstreams,
) -> None:
    datapacket, mammoth = upstreams
    client, server = gateway(datapacket_config(datapacket), provider_table(mammoth))
    try:
        period = {"from": "0036-01-01T00:00:00Z", "to": "0036-01-01T01:00:00Z"}
        client.data(TRAFFIC, {"input": period})
    finally:
        server.stop()
    [document] = [body["query"] for body in bodies(datapacket)]
    assert 'from: "0036-01-01T00:00:00.000Z"' in document
    assert 'to: "0036-01-01T01:00:00.000Z"' in document
    samples = [
        entry.query
        for entry in mammoth.app.state.emulator.request_log.entries()
        if entry.path.startswith("/v2/samplesets/")
    ]
    assert samples
    assert {(q["start"], q["end"]) for q in samples} == {
        ("0036-01-01T00:00:00Z", "0036-01-01T01:00:00Z")
    }


def test_a_combined_traffic_period_ending_in_year_9999_is_answered(upstreams) -> None:
    # The last bucket ends at ``to``; a bucket boundary past it would be year 10000.
    datapacket, mammoth = upstreams
    client, server = gateway(datapacket_config(datapacket), provider_table(mammoth))
    try:
        period = {"from": "9999-12-31T00:00:00Z", "to": "9999-12-31T23:59:59Z"}
        traffic = client.data(TRAFFIC, {"input": period})["traffic"]
    finally:
        server.stop()
    assert traffic["aggregated"]["statisticsIn"] == {"sum": 0}


def test_a_moment_before_year_1_at_utc_is_refused_cleanly(upstreams) -> None:
    datapacket, _ = upstreams
    client, server = gateway(datapacket_config(datapacket))
    try:
        period = {"from": "0001-01-01T00:30:00+01:00", "to": "0001-01-02T00:00:00Z"}
        body = client.query(TRAFFIC, {"input": period}, status=400)
    finally:
        server.stop()
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "outside years 0001 to 9999" in body["errors"][0]["message"]
    assert bodies(datapacket) == []


def test_an_upstream_date_in_year_36_is_answered_in_rfc_3339(upstreams) -> None:
    _, mammoth = upstreams
    mammoth.app.state.fleet.invoices[0]["created"] = "0036-01-01T00:00:00Z"
    number = mammoth.app.state.fleet.invoices[0]["invoice_number"]
    client, server = gateway(provider_table(mammoth))
    try:
        invoice = client.data(
            "query($n: String!) { invoice(input: {invoiceNumber: $n}) { createdAt } }",
            {"n": number},
        )["invoice"]
    finally:
        server.stop()
    assert invoice == {"createdAt": "0036-01-01T00:00:00.000Z"}
