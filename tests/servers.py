"""Serving in tests: a gateway in process, and stopping servers without waiting one by one.

``InProcessGateway`` runs the app's lifespan (provider clients, health monitor) on an event
loop in a background thread, as a uvicorn server would, and ``client()`` hands each request
of a sync ``httpx.Client`` to that loop through ``httpx.ASGITransport``: the app sees the same
ASGI messages, middleware and exception handlers as behind uvicorn. What it skips is
uvicorn's HTTP/1.1 protocol, so tests about connections, the bytes on the wire or the
gateway's protocol class keep a real server (``EmulatorServer`` with
``gateway.cli.connection_options``).

Why: a uvicorn server notices ``should_exit`` on its 0.1 s tick and then sleeps another
0.1 s before closing, about 0.16 s a stop; the suite's 500 servers (190 of them gateways) spent
80 s stopping. An in-process gateway stops in milliseconds.

``stop_all`` stops several servers (in-process gateways or ``EmulatorServer``s) at once, so
they wait out uvicorn's shutdown together rather than one after another. ``stop_soon`` is for
a fixture's teardown: its emulators, which no later test can reach (each has a port of its
own), finish stopping in the background while the next test runs; ``wait_until_stopped``, at
the end of the session, joins them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Protocol, TypeVar

import httpx
from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp

from emulators.kit.server import EmulatorServer

__all__ = [
    "BASE_URL",
    "InProcessGateway",
    "serving",
    "stop_all",
    "stop_soon",
    "wait_until_stopped",
]

#: The URL the in-process clients send to (host and port only reach the ASGI scope).
BASE_URL = "http://gateway.test"
_START_TIMEOUT = 10.0
T = TypeVar("T")


class Stoppable(Protocol):
    def stop(self) -> None: ...


class InProcessGateway:
    """An ASGI app whose lifespan runs on a background loop; ``start()`` returns once started.

    Same ``start``/``stop``/``app``/context-manager surface as ``EmulatorServer``; instead of
    a ``url`` it has ``client()`` and ``async_client()``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._started = threading.Event()
        self._failure: BaseException | None = None

    def start(self) -> InProcessGateway:
        """Run the app's lifespan startup on a new loop thread; raise what startup raised."""
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(),), daemon=True, name="gateway"
        )
        self._thread.start()
        if not self._started.wait(_START_TIMEOUT):
            raise RuntimeError("the in-process gateway did not start")
        if self._failure is not None:
            self._thread.join()
            raise self._failure
        return self

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        try:
            # Entered and left in this one task, as the lifespan's own context managers need.
            async with LifespanManager(self.app):
                self._started.set()
                await self._stopping.wait()
        except BaseException as failure:
            if self._started.is_set():
                raise
            self._failure = failure
            self._started.set()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule ``coroutine`` on the gateway's loop (from any other thread)."""
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("the in-process gateway is not started")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coroutine`` on the gateway's loop and return its result (call from another
        thread); on ``timeout`` the coroutine is cancelled and ``TimeoutError`` raised."""
        future = self.submit(coroutine)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise TimeoutError(f"no answer from the in-process gateway in {timeout} s") from None

    def client(self, **options: Any) -> httpx.Client:
        """A sync client whose requests the app answers on the gateway's loop."""
        return httpx.Client(transport=_HandOff(self), base_url=BASE_URL, **options)

    def async_client(self, **options: Any) -> httpx.AsyncClient:
        """An async client for a test's own loop; the app still answers on the gateway's."""
        return httpx.AsyncClient(transport=_AsyncHandOff(self), base_url=BASE_URL, **options)

    def stop(self) -> None:
        """Run the lifespan shutdown and end the loop thread; safe to call twice."""
        loop, stopping, thread = self._loop, self._stopping, self._thread
        if loop is None or stopping is None or thread is None:
            return
        self._loop = None
        loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout=_START_TIMEOUT)

    def __enter__(self) -> InProcessGateway:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def _answer(asgi: httpx.ASGITransport, request: httpx.Request) -> httpx.Response:
    """The app's response to ``request``, its body read as sent (still encoded)."""
    response = await asgi.handle_async_request(request)
    body = b"".join([part async for part in response.aiter_raw()])
    return httpx.Response(response.status_code, headers=response.headers, content=body)


def _read_timeout(request: httpx.Request) -> float | None:
    return request.extensions.get("timeout", {}).get("read")


def _transport(gateway: InProcessGateway) -> httpx.ASGITransport:
    # An exception escaping the app is answered 500, as uvicorn answers it, rather than raised
    # into the test; the gateway's own handlers have logged it with its request id.
    return httpx.ASGITransport(gateway.app, raise_app_exceptions=False)


class _HandOff(httpx.BaseTransport):
    """Runs each request of a sync client on the gateway's loop and waits for the answer."""

    def __init__(self, gateway: InProcessGateway) -> None:
        self._gateway = gateway
        self._asgi = _transport(gateway)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # the body as bytes, readable from the other thread
        try:
            return self._gateway.run(_answer(self._asgi, request), _read_timeout(request))
        except TimeoutError as timeout:
            raise httpx.ReadTimeout(str(timeout), request=request) from None


class _AsyncHandOff(httpx.AsyncBaseTransport):
    """Like ``_HandOff`` for an async client on another loop (cancelling it cancels the
    request on the gateway's loop)."""

    def __init__(self, gateway: InProcessGateway) -> None:
        self._gateway = gateway
        self._asgi = _transport(gateway)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        future = self._gateway.submit(_answer(self._asgi, request))
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), _read_timeout(request))
        except TimeoutError:
            message = "no answer from the in-process gateway"
            raise httpx.ReadTimeout(message, request=request) from None


def stop_all(servers: Iterable[Stoppable]) -> None:
    """Stop every server at once; return when all have stopped (raising the first failure)."""
    servers = list(servers)
    if len(servers) <= 1:
        for server in servers:
            server.stop()
        return
    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        for stopped in [pool.submit(server.stop) for server in servers]:
            stopped.result()


_stopping: list[threading.Thread] = []


def stop_soon(servers: Iterable[Stoppable]) -> None:
    """Begin stopping every server and return at once (see ``wait_until_stopped``)."""
    _stopping[:] = [thread for thread in _stopping if thread.is_alive()]
    for server in servers:
        thread = threading.Thread(target=server.stop, daemon=True, name="stopping")
        thread.start()
        _stopping.append(thread)


@contextmanager
def serving(app: ASGIApp, **options: Any) -> Iterator[EmulatorServer]:
    """An ``EmulatorServer`` serving ``app`` for the ``with`` block, then ``stop_soon``."""
    server = EmulatorServer(app, **options).start()
    try:
        yield server
    finally:
        stop_soon([server])


def wait_until_stopped() -> None:
    """Return once every server given to ``stop_soon`` has stopped."""
    while _stopping:
        _stopping.pop().join()
