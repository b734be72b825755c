"""The benchmark's machinery end to end, for a fraction of a second with tiny fleets.

Counts only (phases, requests, upstream calls), never timings: the benchmark itself is run
by hand (docs/performance.md), not by ``make test``. These smoke runs (about 17 s, about 20 s
more for the replicas run when redis-server is installed, and about 25 s more for the
side-by-side run when node and the anchors are installed) are ``slow``:
``make test-slow`` runs them, after ``make test`` in CI.
"""

from __future__ import annotations

import json
import shutil

import pytest

from bench.anchors import Options as AnchorOptions
from bench.anchors import anchors_installed, node_available, run_anchors
from bench.hostile import Options as HostileOptions
from bench.hostile import run_hostile
from bench.memory_profile import profile_memory
from bench.replicas import Options as ReplicaOptions
from bench.replicas import run_replicas
from bench.run import KINDS, Options, run_benchmark

pytestmark = pytest.mark.slow

OPTIONS = Options(
    duration=0.2,
    concurrency=2,
    size=3,
    memory_servers=0,
    workers=(1,),
    queries=("Q1", "Q3"),
    warmup=0.1,
)


def phase(results: dict, **labels: object) -> dict:
    matches = [p for p in results["phases"] if all(p.get(k) == v for k, v in labels.items())]
    assert len(matches) == 1, labels
    return matches[0]


def test_a_tiny_run_produces_a_well_formed_result():
    results = json.loads(json.dumps(run_benchmark(OPTIONS)))  # JSON-ready as written to disk

    assert results["machine"]["nproc"] >= 1 and results["machine"]["python"]
    # Per query: the floor at 1 and 2 in flight; the gateway at both, cache off and on;
    # the naive baseline once and the aliased lookups at both concurrencies.
    assert len(results["phases"]) == 2 * 2 + 2 * 2 * 2 + 1 + 2
    for measured in results["phases"]:
        assert measured["units"] >= 1 and measured["failures"] == 0, measured
        assert set(measured["upstream_calls_by_provider"]) == set(KINDS)
    q1_off = phase(results, query="Q1", path="gateway", cache="off", concurrency=1)
    q1_floor = phase(results, query="Q1", path="floor", concurrency=1)
    # Q1 asks every provider, and the floor replays exactly the gateway's upstream calls.
    assert all(calls >= 1 for calls in q1_off["upstream_calls_by_provider"].values())
    assert q1_floor["upstream_calls_per_unit"] == q1_off["upstream_calls_per_unit"]
    assert (
        q1_off["gateway_cpu_ms_per_unit"] is not None
        and q1_floor["gateway_cpu_ms_per_unit"] is None
    )
    # The naive baseline makes one lookup per server of the page: 3 servers x 5 providers.
    naive = phase(results, path="naive")
    assert naive["upstream_calls_by_provider"]["datapacket"] == 3
    assert {target["met"] for target in results["targets"]} <= {True, False}
    assert len(results["targets"]) == 4  # the memory target needs the memory run


def test_a_tiny_memory_profile_follows_the_query_mix():
    results = profile_memory(15)
    assert [step["after"] for step in results["steps"]] == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    assert all(0 < step["held_mb"] <= step["peak_mb"] for step in results["steps"])
    assert sum(results["servers_by_provider"].values()) == 15
    # The lines holding memory are named, the gateway's own among them.
    lines = [row["line"] for row in results["held_by_line"]]
    assert lines and any(line.startswith(("providers/", "gateway/", "schema/")) for line in lines)


def test_a_tiny_hostile_run_is_refused_and_closed():
    options = HostileOptions(
        runs=1, chunked_mib=64, declared_mib=64, slow=3, header_timeout=0.5, size=3
    )
    results = json.loads(json.dumps(run_hostile(options)))
    [run] = results["runs"]
    for attack in ("chunked", "declared"):
        assert (run[attack]["status"], run[attack]["code"]) == (413, "BAD_REQUEST"), run[attack]
        assert run[attack]["connection"] == "close"
        assert run[attack]["sent_mib"] < run[attack]["planned_mib"]  # cut off, never read whole
    assert (run["nested"]["status"], run["nested"]["code"]) == (400, "BAD_REQUEST")
    slow = run["slow_headers"]
    assert slow["closed_by_gateway"] == 3 and slow["answered_with_bytes"] == 0
    assert slow["ordinary_query_status"] == 200
    assert run["log"]["tracebacks"] == 0 and run["boot_rss_mib"] > 0
    assert set(results["summary"]) == {"chunked", "declared", "nested", "slow_headers"}


def test_a_tiny_side_by_side_run_checks_the_data_of_the_three_gateways():
    # The anchors are installed by hand (`npm ci` in bench/anchors), never by the tests.
    if not node_available():
        pytest.skip("node and npm are not on the PATH: the anchors cannot run")
    if not anchors_installed():
        pytest.skip("the anchors are not installed (python -m bench.anchors installs them)")
    options = AnchorOptions(duration=0.3, rounds=1, warmup=0.1, concurrency=2, install=False)
    results = json.loads(json.dumps(run_anchors(options)))

    assert results["gateways"] == ["fleetql", "hive", "tailcall"]
    assert results["machine"]["anchors"]["@graphql-hive/gateway"] == "2.15.1"
    assert (
        results["machine"]["anchors"]["@tailcallhq/core-linux-x64-gnu"] == "v1.0.0"
    )  # as its manifest spells it
    # Per scenario: the same 50 servers from each gateway, then one phase per gateway.
    expected_calls = {"S1": 1, "S2": 52}
    for scenario, outcome in results["scenarios"].items():
        assert outcome["check"] == {"rows": 50, "identical": True}, scenario
        assert sorted(p["gateway"] for p in outcome["phases"]) == ["fleetql", "hive", "tailcall"]
        cpu = 0.0
        for gateway, figures in outcome["by_gateway"].items():
            assert figures["throughput_per_s"]["median"] > 0, (scenario, gateway)
            cpu += figures["gateway_cpu_ms_per_request"]["median"]
            calls = figures["upstream_calls_per_request"]["median"]
            if scenario in expected_calls:
                assert round(calls) == expected_calls[scenario], (scenario, gateway)
            else:
                assert calls < 1, (scenario, gateway)  # S3: served from each gateway's cache
        assert cpu > 0, scenario  # read from /proc for each gateway's process tree
        assert set(outcome["ratios"]) == {"fleetql/hive", "fleetql/tailcall"}
    assert {target["met"] for target in results["targets"]} <= {True, False}
    assert len(results["targets"]) == 4


def test_a_tiny_replicas_run_counts_the_shared_cache_and_its_redis_commands():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    options = ReplicaOptions(
        duration=0.3, concurrency=2, size=3, queries=("Q1", "Q3"), warmup=0.1, pings=20
    )
    results = json.loads(json.dumps(run_replicas(options)))  # JSON-ready as written to disk

    assert results["machine"]["redis_server"] and results["machine"]["packages"]["redis"]
    assert results["redis_ping"]["count"] == 20
    # A, A+R and B, each with and without the whole-response cache, per query.
    assert sorted((p["responses"], p["configuration"], p["query"]) for p in results["phases"]) == [
        (responses, configuration, query)
        for responses in ("off", "on")
        for configuration in ("A", "A+R", "B")
        for query in ("Q1", "Q3")
    ]
    for measured in results["phases"]:
        assert measured["units"] >= 1 and measured["failures"] == 0, measured
        assert set(measured["upstream_calls_by_provider"]) == set(KINDS)
        assert measured["replicas"] == (2 if measured["configuration"] == "B" else 1)
        assert measured["gateway_cpu_ms_per_unit"] is not None
        if measured["configuration"] == "A":
            # One replica with the in-process cache sends Redis nothing.
            assert measured["redis_commands_per_unit"] == 0, measured
            assert measured["redis_wait_ms_per_unit"] == 0
            assert measured["cluster_fallbacks_per_unit"] == 0
        else:
            # Every request to a replica with [cluster] spends its token's shared budget
            # (a script) at least: one round trip or more.
            assert measured["redis_round_trips_per_unit"] >= 1, measured
        if measured["responses"] == "off":
            # Every request reads through the read cache, which counts each read.
            assert measured["cache_reads_per_unit"] > 0, measured
            assert 0 <= measured["cache_hit_ratio"] <= 1
