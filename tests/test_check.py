"""``fleetql check``: validate a configuration, ping each provider once, print a table."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.datapacket import app as datapacket_emulator
from emulators.kit.server import EmulatorServer
from gateway.cli import main
from tests.servers import serving


@pytest.fixture
def broken_upstream() -> Iterator[EmulatorServer]:
    """A DataPacket emulator answering 503 to everything."""
    app = datapacket_emulator.create_app(size=5, seed=1)
    app.state.emulator.faults.error_rate = 1.0
    with serving(app) as server:
        yield server


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(path: Path, providers: dict[str, str]) -> Path:
    """A fleet.toml with one DataPacket provider per ``id -> base_url``."""
    tables = "".join(
        f'[[providers]]\nid = "{provider_id}"\nkind = "datapacket"\n'
        f'base_url = "{base_url}"\ntoken = "dp-emulator-full"\n\n'
        for provider_id, base_url in providers.items()
    )
    tokens = '[[tokens]]\nname = "ops"\nscope = "read-only"\ntoken = "check-token"\n'
    path.write_text(tables + tokens, encoding="utf-8")
    return path


def rows(output: str) -> dict[str, list[str]]:
    """The table's rows by provider id (columns: id, kind, result, time, detail)."""
    lines = output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("provider"))
    return {line.split()[0]: line.split() for line in lines[header + 1 :]}


def test_check_reports_a_broken_provider_and_fails(
    tmp_path, capsys, datapacket_upstream, broken_upstream
):
    config = write_config(
        tmp_path / "fleet.toml",
        {
            "healthy": f"{datapacket_upstream.url}/v0/graphql",
            "failing": f"{broken_upstream.url}/v0/graphql",
            "absent": f"http://127.0.0.1:{closed_port()}/v0/graphql",
        },
    )
    assert main(["check", "--config", str(config)]) == 1
    output = capsys.readouterr().out
    assert "configuration valid (3 providers, 1 tokens)" in output
    table = rows(output)
    assert table["healthy"][1:3] == ["datapacket", "ok"]
    assert table["failing"][2] == "FAILED"
    assert table["absent"][2] == "FAILED"
    assert "could not connect" in output
    # Pinged once: no retries, no cache.
    assert broken_upstream.app.state.emulator.request_log.count(path="/v0/graphql") == 1
    assert "dp-emulator-full" not in output and "check-token" not in output


def test_check_passes_when_every_provider_answers(tmp_path, capsys, datapacket_upstream):
    config = write_config(tmp_path / "fleet.toml", {"dp": f"{datapacket_upstream.url}/v0/graphql"})
    assert main(["check", "--config", str(config)]) == 0
    assert rows(capsys.readouterr().out)["dp"][2] == "ok"


def test_check_rejects_an_invalid_configuration(tmp_path, capsys):
    config = tmp_path / "fleet.toml"
    config.write_text('[[providers]]\nid = "dp"\nkind = "nimbus"\n', encoding="utf-8")
    assert main(["check", "--config", str(config)]) == 2
    assert "providers[0].kind: unknown kind 'nimbus'" in capsys.readouterr().err
