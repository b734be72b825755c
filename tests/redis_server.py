"""A real ``redis-server`` on a loopback port, for the tests of state shared by replicas.

``redis_server`` (a fixture) starts one per test, without persistence, and yields a
``RedisServer``: its ``url``, ``stop()`` and ``start()`` again on the same port (the tests of
Redis going down and coming back), ``pause()`` and ``resume()`` (a Redis that accepts
connections and answers nothing: a slow one). Without ``redis-server`` installed the tests
using it are skipped with the reason, unless ``FLEETQL_REQUIRE_REDIS=1`` (CI: ``.ci/run``
installs it), where its absence fails them.

Example:
    def test_shared(redis_server):
        gateway = start_gateway(..., cluster={"redis_url": redis_server.url})
        redis_server.stop()
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

__all__ = ["RedisServer", "redis_server"]

_READY_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(port: int) -> bool:
    """Whether a server on ``port`` answers PING (a raw RESP exchange, no client needed)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process on a loopback port; restartable on the same port."""

    def __init__(self, executable: str, directory: str) -> None:
        self.executable = executable
        self.directory = directory
        self.port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The URL a ``[cluster] redis_url`` takes (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start the server and return once it answers PING."""
        command = [
            self.executable,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self.directory,
        ]
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + _READY_TIMEOUT
        while not _answers(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): connections open, no command answered."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused process answer again (SIGCONT)."""
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop the server (its data goes with it); safe to call twice, and when paused."""
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGCONT)
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    """A private ``redis-server`` for one test (see the module's docstring)."""
    executable = shutil.which("redis-server")
    if executable is None:
        reason = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("FLEETQL_REQUIRE_REDIS") == "1":
            pytest.fail(reason + "; FLEETQL_REQUIRE_REDIS=1 requires it")
        pytest.skip(reason)
    server = RedisServer(executable, str(tmp_path)).start()
    try:
        yield server
    finally:
        server.stop()
