"""A provider refusing a request as invalid: the client's fault on a write, the provider's on
a read; the provider's own reason is passed on sanitised and bounded, never its raw body."""

from __future__ import annotations

import pytest

from errors import (
    MAX_REASON,
    ProviderUnavailable,
    ValidationFailed,
    refused_as_invalid,
    upstream_reason,
)
from providers.base import ProviderConfig
from providers.datapacket.adapter import DataPacketProvider


@pytest.mark.parametrize(
    ("body", "paths", "reason"),
    [
        (b'{"errors": ["Device is on"]}', ("errors.0", "error"), "Device is on"),
        (b'{"error": "Device is locked"}', ("errors.0", "error"), "Device is locked"),
        (b'{"error": {"code": 3, "msg": "Bad value"}}', ("error.msg",), "Bad value"),
        (b'{"title": "Bad", "detail": "Name taken"}', ("detail", "title"), "Name taken"),
        (b'{"title": "Bad", "detail": ""}', ("detail", "title"), "Bad"),
        (b'{"x": 1}', ("detail",), None),
        (b"<html><body><h1>Rejected</h1></body></html>", (), "Rejected"),
        (b'{"truncated": ', ("detail",), None),
        (b'{"errors": ["two\\n\\tlines\\u0000 <script>x</script>"]}', ("errors.0",), "two lines x"),
        (b"", ("detail",), None),
    ],
)
def test_upstream_reason(body, paths, reason):
    assert upstream_reason(body, *paths) == reason


def test_an_upstream_reason_is_bounded_at_a_word():
    reason = upstream_reason(("word " * 100).encode())
    assert len(reason) <= MAX_REASON and reason.endswith("word…")


def test_a_refusal_blames_the_client_only_for_a_write():
    write = refused_as_invalid("pk", write=True, status=422, reason="Too big", field="alias")
    assert isinstance(write, ValidationFailed)
    assert write.message == 'Provider "pk" rejected the request: Too big'
    assert write.extensions == {"code": "VALIDATION_FAILED", "provider": "pk", "field": "alias"}
    read = refused_as_invalid("pk", write=False, status=422, reason="Too big", field="alias")
    assert isinstance(read, ProviderUnavailable)
    assert read.extensions == {"code": "PROVIDER_UNAVAILABLE", "provider": "pk"}
    assert "Too big" not in read.message


@pytest.mark.parametrize("write", [True, False])
def test_datapacket_validation_errors_by_direction(write):
    provider = DataPacketProvider(
        ProviderConfig("dp", "datapacket", "http://127.0.0.1:9/v0/graphql", "DP", {"token": "t"})
    )
    upstream = {"message": "IP <b>is</b> not assigned", "extensions": {"code": "VALIDATION_FAILED"}}
    error = provider._translate(upstream, write)
    if write:
        # DataPacket's own wording, as a DataPacket client expects it.
        assert isinstance(error, ValidationFailed) and error.message == "IP is not assigned"
    else:
        assert isinstance(error, ProviderUnavailable) and error.provider == "dp"
