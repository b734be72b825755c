"""Run an ASGI app under uvicorn in a background thread, on a loopback port chosen by the OS.

Example:
    with EmulatorServer(create_app()) as server:
        httpx.post(f"{server.url}/v0/graphql", json={"query": "{ account { name } }"})

Keyword options go to ``uvicorn.Config``: a gateway under test runs with the connection
handling it has in production (``EmulatorServer(app, **gateway.cli.connection_options(s))``).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn
from starlette.types import ASGIApp

_START_TIMEOUT = 10.0
# Long enough for in-flight requests to finish, short enough that a hung one cannot stall stop().
_GRACEFUL_SHUTDOWN_SECONDS = 2


class EmulatorServer:
    """A uvicorn server for one emulator; ``start()`` returns once it accepts connections."""

    def __init__(
        self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0, **options: Any
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"emulators bind to loopback only, not {host}")
        self.app = app
        self.host = host
        self.port = port
        self.options = options
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL such as ``http://127.0.0.1:54321``; known once started."""
        if self._server is None:
            raise RuntimeError("EmulatorServer is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> EmulatorServer:
        """Bind the socket, start serving in a daemon thread, and wait until ready."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # An explicit IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted connections; with proto 0
        # it skips that and every response waits ~40 ms for Nagle and delayed ACKs.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
            **self.options,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="emulator"
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"emulator failed to start on {self.host}:{self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for the thread; safe to call twice."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=_GRACEFUL_SHUTDOWN_SECONDS + 5)
        self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


__all__ = ["EmulatorServer"]
