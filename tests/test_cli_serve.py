"""``fleetql serve`` and ``fleetql emulate`` as a user starts them: in a subprocess, on real ports.

A port another process holds stops start-up with one line on stderr and exit status 3, before
anything says it is running; a start that succeeds says so only once the port answers.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.cli import EXIT_CANNOT_LISTEN, main
from gateway.demo import DEMO_BACKENDS

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0
#: The variables examples/fleet.toml names, set to the emulated accounts' credentials.
EXAMPLE_ENVIRONMENT = {
    "DATAPACKET_TOKEN": "dp-emulator-full",
    "PACKET_TOKEN": "packet-emulator-token",
    "MAMMOTH_TOKEN": "mammoth-emulator-token",
    "DASHSERV_TOKEN": "dashserv-emulator-write",
    "DCIMANAGER_PASSWORD": "dci-emulator-password",
}
CONFIG = """
[[providers]]
id = "dp"
kind = "datapacket"
base_url = "http://127.0.0.1:9/v0/graphql"
token = "dp-token"

[[tokens]]
name = "full"
scope = "full-access"
token = "client-token"
"""


def fleetql(*args: str) -> list[str]:
    """The command line of ``fleetql`` run by this interpreter."""
    return [sys.executable, "-m", "gateway.cli", *args]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``fleetql`` to its end (a start-up that fails) and capture what it printed."""
    return subprocess.run(
        fleetql(*args), cwd=ROOT, capture_output=True, text=True, timeout=START_TIMEOUT
    )


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port another socket is listening on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive loopback ports that are free now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65536:
            continue
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no {count} consecutive free ports")


class Running:
    """A ``fleetql`` process that keeps running, whose stdout is read line by line."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            fleetql(*args),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def read_until(self, pattern: str) -> list[str]:
        """The lines printed up to and including the first that matches ``pattern``."""
        deadline = time.monotonic() + START_TIMEOUT
        seen = []
        while True:
            line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            assert line is not None, f"exited with {self.process.wait()} after {seen}"
            seen.append(line)
            if re.search(pattern, line):
                return seen

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Send ``sig`` and wait for the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            for stream in (self.process.stdout, self.process.stderr):
                assert stream is not None
                stream.close()


def test_a_taken_port_stops_the_demo_with_one_line_and_status_3(held_port):
    result = run("serve", "--port", str(held_port))
    assert result.returncode == EXIT_CANNOT_LISTEN == 3
    assert result.stderr.splitlines() == [
        f"fleetql: port {held_port} on 127.0.0.1 is in use; try `make run PORT={held_port + 1}`"
    ]
    assert result.stdout == ""  # neither the banner nor a log line of the emulators


def test_a_taken_port_stops_a_configured_gateway_without_the_make_hint(held_port, tmp_path):
    config = tmp_path / "fleet.toml"
    config.write_text(f"[server]\nport = {held_port}\n{CONFIG}")
    result = run("serve", "--config", str(config))
    assert result.returncode == 3
    assert result.stderr.splitlines() == [f"fleetql: port {held_port} on 127.0.0.1 is in use"]
    assert result.stdout == ""


def test_an_address_of_another_machine_is_one_line_too(tmp_path):
    config = tmp_path / "fleet.toml"
    config.write_text(CONFIG)
    # TEST-NET-1 (RFC 5737): an address no interface of this machine has; bind sends nothing.
    result = run("serve", "--config", str(config), "--host", "192.0.2.1")
    assert result.returncode == 3
    assert result.stderr.splitlines() == [
        "fleetql: cannot listen on 192.0.2.1: not an address of this machine"
    ]
    assert result.stdout == ""


def test_the_demo_banner_comes_once_the_port_answers():
    port = free_ports(1)
    demo = Running("serve", "--port", str(port))
    try:
        printed = demo.read_until(r"GraphiQL:")
        # One request, no retry: whoever reads the banner can use the URL at once.
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
    finally:
        status = demo.stop()
    assert f"GraphiQL:  http://127.0.0.1:{port}/graphql" in printed[-1]
    assert health.status_code == 200
    assert status == 0


def test_check_answers_for_every_provider_of_the_example_against_emulate_all(
    tmp_path, monkeypatch, capsys
):
    base = free_ports(len(DEMO_BACKENDS))
    emulators = Running("emulate", "all", "--port-base", str(base), "--size", "10")
    try:
        listening = emulators.read_until(r"Emulators ready")[:-1]
        example = (ROOT / "examples" / "fleet.toml").read_text()
        # The example's ports 9100-9104 become this run's.
        moved = re.sub(
            r"127\.0\.0\.1:91(0[0-4])", lambda m: f"127.0.0.1:{base + int(m[1])}", example
        )
        config = tmp_path / "fleet.toml"
        config.write_text(moved)
        for name, value in EXAMPLE_ENVIRONMENT.items():
            monkeypatch.setenv(name, value)
        status = main(["check", "--config", str(config)])
        table = capsys.readouterr().out.splitlines()
    finally:
        stopped = emulators.stop(signal.SIGTERM)
    assert [line.split()[:2] for line in listening] == [
        [backend.kind, f"http://127.0.0.1:{base + i}{backend.path}"]
        for i, backend in enumerate(DEMO_BACKENDS)
    ]
    assert status == 0, table
    rows = [line.split() for line in table[2:]]
    assert [(row[1], row[2]) for row in rows] == [(backend.kind, "ok") for backend in DEMO_BACKENDS]
    assert stopped == 0


def test_emulate_all_on_a_taken_port_starts_none_of_them(capsys):
    base = free_ports(len(DEMO_BACKENDS))
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", base + 2))  # the third emulator's port
        holder.listen()
        status = main(["emulate", "all", "--port-base", str(base)])
        captured = capsys.readouterr()
        for port in (base, base + 1):  # the two bound before it were let go
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", port))
    assert status == 3
    assert captured.err.splitlines() == [f"fleetql: port {base + 2} on 127.0.0.1 is in use"]
    assert captured.out == ""


@pytest.mark.parametrize("command", [[], ["serve"], ["check"], ["emulate"]])
def test_help_is_plain_text(command, capsys):
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "usage: fleetql" in text and "``" not in text


def _spawned_workers(pid: int) -> list[int]:
    """The worker processes uvicorn's supervisor spawned under ``pid``."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [
        int(child)
        for child in children
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def test_workers_share_the_port_and_stop_together(tmp_path):
    config = tmp_path / "fleet.toml"
    config.write_text(CONFIG)
    served = Running("serve", "--config", str(config), "--port", "0", "--workers", "2")
    try:
        announced = served.read_until(r"listening on .* with 2 workers")[-1]
        port = re.search(r"127\.0\.0\.1:(\d+)", announced)[1]
        headers = {"Authorization": "Bearer client-token"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_until_answers = time.monotonic() + START_TIMEOUT
            while True:  # the workers import and start after the announcement
                try:
                    body = client.post(
                        "/graphql", json={"query": "{ providers { id } }"}, headers=headers
                    ).json()
                    break
                except httpx.TransportError:
                    assert time.monotonic() < wait_until_answers
                    time.sleep(0.1)
        workers = _spawned_workers(served.process.pid)
    finally:
        status = served.stop(signal.SIGTERM)
    assert body["data"] == {"providers": [{"id": "dp"}]}
    assert len(workers) == 2
    assert status == 0
    assert not [worker for worker in workers if Path(f"/proc/{worker}").exists()]


def test_workers_need_a_configuration(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--workers", "2"])
    assert exited.value.code == 2
    assert "--workers needs --config" in capsys.readouterr().err
