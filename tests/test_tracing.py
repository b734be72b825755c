"""Optional OpenTelemetry tracing: off by default at no cost, a clear error without the extra."""

from __future__ import annotations

import sys

import pytest

from gateway.app import create_app
from gateway.cli import main
from gateway.settings import ConfigError, settings_from_dict
from gateway.tracing import NO_TRACING, OpenTelemetryTracing
from tests.conftest import TOKENS, GatewayClient, datapacket_config
from tests.servers import InProcessGateway

SDK_MODULES = ("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http.trace_exporter")


def settings_for(upstream, **observability):
    return settings_from_dict(
        {
            "providers": [datapacket_config(upstream)],
            "tokens": TOKENS,
            "observability": observability,
        },
        source="fleet.toml",
    )


def test_tracing_is_off_unless_configured_and_imports_nothing(datapacket_upstream):
    already_imported = any(name in sys.modules for name in SDK_MODULES)
    app = create_app(settings_for(datapacket_upstream))
    assert app.state.gateway.observability.tracing is NO_TRACING
    with InProcessGateway(app) as server:
        GatewayClient(server).data("query account { account { name } }")
    if not already_imported:
        assert not any(name in sys.modules for name in SDK_MODULES)


def test_tracing_without_its_packages_is_a_clear_config_error(
    datapacket_upstream, monkeypatch, tmp_path, capsys
):
    for name in SDK_MODULES:
        monkeypatch.setitem(sys.modules, name, None)  # makes the import fail
    settings = settings_for(datapacket_upstream, otlp_endpoint="http://127.0.0.1:4318/v1/traces")
    with pytest.raises(ConfigError) as raised:
        create_app(settings)
    assert str(raised.value) == (
        "fleet.toml: observability.otlp_endpoint: tracing needs the OpenTelemetry packages; "
        "install them with: pip install 'fleetql[tracing]'"
    )
    config = tmp_path / "fleet.toml"
    config.write_text(
        '[observability]\notlp_endpoint = "http://127.0.0.1:4318/v1/traces"\n\n'
        '[[providers]]\nid = "dp"\nkind = "datapacket"\ntoken = "t"\n\n'
        '[[tokens]]\nname = "ops"\nscope = "read-only"\ntoken = "check-token"\n',
        encoding="utf-8",
    )
    assert main(["check", "--config", str(config)]) == 2
    assert "pip install 'fleetql[tracing]'" in capsys.readouterr().err


def test_spans_for_the_request_its_loader_batch_and_its_upstream_calls(datapacket_upstream):
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(settings_for(datapacket_upstream), tracing=OpenTelemetryTracing(provider))
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with InProcessGateway(app) as server:
        GatewayClient(server).http.post(
            "/graphql",
            json={
                "query": 'query lookup { a: server(input: {name: "DP-12345"}) { name } '
                'b: server(input: {name: "DP-10276"}) { name } }'
            },
            headers={
                "Authorization": f"Bearer {TOKENS[0]['token']}",
                "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
            },
        )
    spans = exporter.get_finished_spans()
    [request] = [span for span in spans if span.kind == SpanKind.SERVER]
    assert request.name == "graphql lookup"
    assert request.attributes["graphql.operation.name"] == "lookup"
    [batch] = [span for span in spans if span.name == "loader servers_by_name"]
    assert batch.attributes["fleetql.batch_size"] == 2
    calls = [span for span in spans if span.kind == SpanKind.CLIENT]
    assert calls and all(span.name == "POST /v0/graphql" for span in calls)
    assert {span.attributes["fleetql.provider"] for span in calls} == {"dp"}
    assert {span.attributes["http.response.status_code"] for span in calls} == {200}
    assert {format(span.context.trace_id, "032x") for span in spans} == {trace_id}
