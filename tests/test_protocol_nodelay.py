"""Every gateway connection has Nagle's algorithm off, however its listening socket was made.

uvicorn's own bind (its ``--workers`` mode) creates the socket without ``IPPROTO_TCP``, so
asyncio leaves ``TCP_NODELAY`` off and a keep-alive response written in two parts waits for
the client's delayed ACK. ``GatewayProtocol`` sets it on each connection.
"""

from __future__ import annotations

import asyncio
import socket

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from gateway.protocol import GatewayProtocol


async def app(scope, receive, send) -> None:  # never called: no request is sent
    raise AssertionError


@pytest.mark.parametrize("proto", [0, socket.IPPROTO_TCP])
async def test_a_connection_has_nagle_off(proto):
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    config = Config(app)
    config.load()
    made: list[GatewayProtocol] = []

    def protocol() -> GatewayProtocol:
        made.append(GatewayProtocol(config, ServerState(), {}, header_timeout=5))
        return made[-1]

    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol, sock=listening)
    try:
        _, writer = await asyncio.open_connection(*listening.getsockname())
        while not made:
            await asyncio.sleep(0.01)
        accepted = made[0].transport.get_extra_info("socket")
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
