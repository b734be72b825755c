"""Traffic across providers: statistics of the summed series, never averaged averages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from emulators.datapacket import app as emulator
from emulators.kit.server import EmulatorServer
from emulators.mammoth import app as mammoth_emulator
from emulators.packet import app as packet_emulator
from providers.base import ServerFilter, TrafficQuery, TrafficSeries
from providers.traffic import traffic_statistics as statistics
from resolvers.traffic import combine, grid_step
from tests.conftest import GatewayClient, datapacket_config, start_gateway
from tests.providers.mammoth.conftest import provider_table as mammoth_table
from tests.providers.packet.conftest import packet_table
from tests.servers import stop_soon

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def query(minutes: int) -> TrafficQuery:
    return TrafficQuery(start=T0, end=T0 + timedelta(minutes=minutes), filter=ServerFilter())


def test_statistics_of_a_known_series():
    values = [float(v) for v in range(1, 21)]  # 20 five-minute buckets: 1..20 bit/s
    assert statistics(values, 300) == {
        "sum": 210 * 300,
        "average": 10,  # 10.5 rounded half to even
        "maximum": 20,
        "last": 20,
        "p95": 19,  # nearest rank: ceil(0.95 * 20) = 19th smallest
    }


def test_p95_of_the_sum_is_not_the_sum_of_p95s():
    # Two providers peak at different times: the combined peak is lower than the peaks added.
    a = TrafficSeries(T0, 300, inbound=[10.0] * 19 + [100.0], outbound=[0.0] * 20)
    b = TrafficSeries(T0, 300, inbound=[100.0] + [10.0] * 19, outbound=[0.0] * 20)
    inbound, _, step = combine([a, b], query(100))
    assert inbound == [110.0] + [20.0] * 18 + [110.0]
    stats = statistics(inbound, step)
    assert stats["maximum"] == 110 and stats["p95"] == 110 and stats["average"] == 29
    assert statistics([10.0] * 19 + [100.0], 300)["p95"] == 10


def test_series_of_different_steps_meet_on_the_coarser_grid():
    fine = TrafficSeries(T0, 300, inbound=[1.0, 3.0, 5.0, 7.0], outbound=[0.0] * 4)
    coarse = TrafficSeries(T0, 600, inbound=[10.0, 20.0], outbound=[1.0, 1.0])
    inbound, outbound, step = combine([fine, coarse], query(20))
    assert step == 600
    assert inbound == [12.0, 26.0]  # means of (1, 3) and (5, 7), plus 10 and 20
    assert outbound == [1.0, 1.0]


def test_grid_step_keeps_buckets_bounded():
    assert grid_step(86400) == 300
    assert grid_step(30 * 86400) == 300 * 18  # 30 days in at most 500 buckets


@pytest.fixture
def accounts():
    first = EmulatorServer(emulator.create_app(size=12, seed=1)).start()
    second = EmulatorServer(emulator.create_app(size=9, seed=2, examples=False)).start()
    yield first, second
    stop_soon([first, second])


def traffic_of(providers: list[dict], start: datetime, end: datetime) -> dict:
    gateway = start_gateway(providers)
    try:
        return GatewayClient(gateway).data(
            "query T($input: TrafficInput!) { traffic(input: $input) { aggregated { "
            "statisticsIn { sum average maximum last p95 } "
            "statisticsOut { sum average maximum last p95 } } } }",
            {"input": {"from": start.isoformat(), "to": end.isoformat()}},
        )["traffic"]["aggregated"]
    finally:
        gateway.stop()


def test_two_accounts_combine_into_the_statistics_of_the_summed_series(accounts):
    first, second = accounts
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    end -= timedelta(minutes=end.minute % 5)
    start = end - timedelta(hours=6)
    alone_first = traffic_of([datapacket_config(first)], start, end)
    alone_second = traffic_of([datapacket_config(second, id="dp2")], start, end)
    for server in accounts:
        server.app.state.emulator.request_log.clear()
    both = traffic_of([datapacket_config(first), datapacket_config(second, id="dp2")], start, end)
    for direction in ("statisticsIn", "statisticsOut"):
        one, two, combined = alone_first[direction], alone_second[direction], both[direction]
        assert combined["sum"] == pytest.approx(one["sum"] + two["sum"], rel=1e-6)
        assert combined["average"] == pytest.approx(one["average"] + two["average"], abs=1)
        assert combined["maximum"] <= one["maximum"] + two["maximum"] + 1
        # Same grid, every rate positive: the sum dominates each series bucket by bucket.
        assert max(one["p95"], two["p95"]) - 1 <= combined["p95"] <= combined["maximum"]
    assert [server.app.state.emulator.request_log.count() for server in accounts] == [1, 1]


@pytest.fixture
def with_packet() -> Iterator[tuple[GatewayClient, dict[str, EmulatorServer]]]:
    """DataPacket, Mammoth (both with traffic) and Packet (without) behind one gateway."""
    upstreams = {
        "dp": EmulatorServer(emulator.create_app(size=10, seed=1)).start(),
        "mc": EmulatorServer(mammoth_emulator.create_app(size=5, seed=1)).start(),
        "pk": EmulatorServer(packet_emulator.create_app(size=6, seed=1)).start(),
    }
    gateway = start_gateway(
        [
            datapacket_config(upstreams["dp"]),
            mammoth_table(upstreams["mc"]),
            packet_table(upstreams["pk"]),
        ]
    )
    yield GatewayClient(gateway), upstreams
    gateway.stop()
    stop_soon(upstreams.values())


def names_of(upstreams: dict[str, EmulatorServer]) -> dict[str, str]:
    """One server name of each provider."""
    return {
        "dp": upstreams["dp"].app.state.fleet.servers[0]["name"],
        "mc": f"MC-{next(iter(upstreams['mc'].app.state.fleet.servers))}",
        "pk": f"PK-{next(iter(upstreams['pk'].app.state.fleet.devices))}",
    }


def traffic_named(client: GatewayClient, names: list[str], end: datetime) -> dict:
    return client.query(
        "query($input: TrafficInput!) { traffic(input: $input) "
        "{ aggregated { statisticsOut { sum } } } }",
        {
            "input": {
                "from": (end - timedelta(hours=2)).isoformat(),
                "to": end.isoformat(),
                "filter": {"name_in": names},
            }
        },
    )


def calls(upstreams: dict[str, EmulatorServer]) -> dict[str, int]:
    return {key: server.app.state.emulator.request_log.count() for key, server in upstreams.items()}


def test_traffic_of_a_server_of_a_provider_without_traffic_is_not_supported(with_packet):
    client, upstreams = with_packet
    body = traffic_named(client, [names_of(upstreams)["pk"]], T0)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "NOT_SUPPORTED"
    assert error["extensions"]["provider"] == "pk"
    assert error["path"] == ["traffic"]
    assert calls(upstreams) == {"dp": 0, "mc": 0, "pk": 0}


@pytest.mark.parametrize("capable", [["dp"], ["dp", "mc"]])
def test_a_mix_answers_the_capable_providers_and_names_the_others(with_packet, capable):
    client, upstreams = with_packet
    names = names_of(upstreams)
    # One period for both queries (the emulators' samples end at the time of the request).
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    alone = traffic_named(client, [names[key] for key in capable], end)
    assert "errors" not in alone
    mixed = traffic_named(client, [names[key] for key in capable] + [names["pk"]], end)
    assert mixed["data"] == alone["data"]
    assert alone["data"]["traffic"]["aggregated"]["statisticsOut"]["sum"] > 0
    [error] = mixed["errors"]
    assert error["extensions"] == {
        "code": "NOT_SUPPORTED",
        "provider": "pk",
        "operation": "traffic",
    }
    assert error["path"] == ["traffic"]
    assert calls(upstreams)["pk"] == 0
    # A provider that owns none of the names is not asked.
    if capable == ["dp"]:
        assert calls(upstreams)["mc"] == 0


def test_unnamed_traffic_counts_the_providers_that_report_it(with_packet):
    client, upstreams = with_packet
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    body = client.query(
        "query($input: TrafficInput!) { traffic(input: $input) "
        "{ aggregated { statisticsOut { sum } } } }",
        {"input": {"from": (end - timedelta(hours=2)).isoformat(), "to": end.isoformat()}},
    )
    assert "errors" not in body
    assert calls(upstreams)["pk"] == 0
