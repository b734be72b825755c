"""The ``fleetql`` command: ``serve``, ``check``, ``schema``, ``capabilities`` and ``emulate``.

``serve`` binds its listening socket before anything else starts, and says it is running
only once that socket accepts connections. Exit statuses: ``EXIT_STATUSES`` (also shown by
``fleetql --help``).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.supervisors import Multiprocess

from gateway.app import create_app
from gateway.check import run_check
from gateway.logs import configure_logging, credentials_of
from gateway.protocol import GatewayProtocol
from gateway.settings import ConfigError, Settings, load_settings
from providers.registry import PROVIDER_KINDS, capability_matrix

__all__ = [
    "EXIT_CANNOT_LISTEN",
    "CannotListen",
    "connection_options",
    "listen_socket",
    "main",
    "uvicorn_options",
]

EXIT_CONFIG_ERROR = 2
#: The listening socket could not be bound (uvicorn's own status for a failed start-up).
EXIT_CANNOT_LISTEN = 3
DEFAULT_EMULATOR_PORT = 8100
#: The configuration file when ``--config`` is not given; also how ``fleetql serve --workers``
#: tells its worker processes which file to load.
CONFIG_ENV = "FLEETQL_CONFIG"
DEFAULT_EMULATOR_PORT_BASE = 9100

log = logging.getLogger("fleetql.server")
SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: Largest request head (request line and headers) h11 buffers; beyond it: 400 BAD_REQUEST.
MAX_REQUEST_HEAD_BYTES = 16 * 1024

BANNER = """
FleetQL is running with emulated backends (the embedded demo).

  GraphiQL:  {url}/graphql
  Tokens:    demo-full-access (queries and mutations), demo-read-only (queries)

Try it:

  curl -s {url}/graphql -H 'Authorization: Bearer demo-full-access' \\
    -H 'Content-Type: application/json' \\
    -d '{{"query":"query account {{ account {{ name email }} }}"}}'

  curl -s {url}/graphql -H 'Authorization: Bearer demo-full-access' \\
    -H 'Content-Type: application/json' \\
    -d '{{"query":"{{ servers(input: {{filter: {{location_in: [\\"Amsterdam\\"]}}}}) {{ entriesTotalCount entries {{ name provider {{ kind }} powerStatus }} }} }}"}}'

  curl -s {url}/graphql -H 'Authorization: Bearer demo-full-access' \\
    -H 'Content-Type: application/json' \\
    -d '{{"query":"mutation {{ performServerPowerAction(input: {{server: {{name: \\"DP-12345\\"}}, action: CYCLE}}) {{ server {{ name powerStatus }} }} }}"}}'
"""  # noqa: E501


#: ``fleetql --help``: plain text (the module docstring is written for Python readers).
HELP = "FleetQL: one DataPacket-compatible GraphQL endpoint over many bare-metal providers."
EXIT_STATUSES = """exit status:
  0  stopped by SIGINT or SIGTERM (serve), or done
  1  check found a provider failing
  2  invalid configuration or command line
  3  the address cannot be listened on (port in use, not an address of this machine,
     no permission); one line on stderr says which"""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``fleetql`` console script."""
    parser = argparse.ArgumentParser(
        prog="fleetql",
        description=HELP,
        epilog=EXIT_STATUSES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", help="TOML configuration (default: $FLEETQL_CONFIG, else demo)")
    serve.add_argument("--host", help="listen address (default from config, 127.0.0.1)")
    serve.add_argument(
        "--port", type=port_number, help="listen port (default from config, 8000; 0: any free one)"
    )
    serve.add_argument(
        "--workers",
        type=worker_count,
        default=1,
        help="processes serving the port, each with its own caches and limits unless [cluster] "
        "shares them (needs --config; default 1)",
    )
    check = commands.add_parser(
        "check", help="validate a configuration and ping each provider once"
    )
    check.add_argument("--config", help="TOML configuration (default: $FLEETQL_CONFIG)")
    commands.add_parser("schema", help="print the served GraphQL SDL")
    commands.add_parser("capabilities", help="print the provider capability matrix (Markdown)")
    emulate = commands.add_parser("emulate", help="run provider emulators (one kind, or all)")
    emulate.add_argument("kind", choices=["all", *sorted(PROVIDER_KINDS)])
    emulate.add_argument("--host", default="127.0.0.1")
    emulate.add_argument(
        "--port", type=port_number, help=f"one kind's port (default {DEFAULT_EMULATOR_PORT})"
    )
    emulate.add_argument(
        "--port-base",
        type=port_number,
        help=f"all: the first kind's port, the others on the next ones, in the demo's order "
        f"(default {DEFAULT_EMULATOR_PORT_BASE})",
    )
    emulate.add_argument("--size", type=int, default=120, help="servers in each seeded fleet")
    emulate.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.command == "schema":
        from schema import schema_sdl

        sys.stdout.write(schema_sdl())
        return 0
    if args.command == "capabilities":
        sys.stdout.write(capability_matrix())
        return 0
    if args.command == "check":
        config_path = args.config or os.environ.get(CONFIG_ENV)
        if not config_path:
            parser.error("check needs --config PATH (or FLEETQL_CONFIG)")
        return run_check(config_path, sys.stdout, sys.stderr)
    if args.command == "emulate":
        return _emulate(args, emulate)
    return _serve(args, serve)


def worker_count(text: str) -> int:
    """An ``argparse`` type: how many worker processes, at least 1."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError("at least 1")
    return count


def port_number(text: str) -> int:
    """An ``argparse`` type: a TCP port from 0 (any free one) to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535)")
    return port


class CannotListen(Exception):
    """The listening socket could not be bound; the message says why, in one line."""

    def __init__(self, message: str, *, in_use: bool) -> None:
        super().__init__(message)
        #: Another process holds the port (the one failure another port number cures).
        self.in_use = in_use


def listen_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening; ``CannotListen`` says why not.

    Bound before anything else starts, so that a taken port stops start-up at once. Until
    uvicorn serves it, connections wait in the socket's backlog instead of being refused.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # An explicit IPPROTO_TCP lets asyncio set TCP_NODELAY on the accepted connections.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        # As uvicorn does: a restart may bind while the last run's connections are in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen()
    except OSError as error:
        sock.close()
        in_use = error.errno == errno.EADDRINUSE
        raise CannotListen(_why_not(error, host, port), in_use=in_use) from None
    return sock


def _why_not(error: OSError, host: str, port: int) -> str:
    if isinstance(error, socket.gaierror):
        return f"cannot listen on {host}: unknown host or address ({error.strerror})"
    if error.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is in use"
    if error.errno == errno.EACCES:
        return f"cannot listen on port {port} on {host}: permission denied"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host}: not an address of this machine"
    return f"cannot listen on port {port} on {host}: {error.strerror or error}"


def _url(host: str, sock: socket.socket) -> str:
    """``http://host:port`` of a listening socket (its real port when 0 was asked for)."""
    port = sock.getsockname()[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _serve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    config_path = args.config or os.environ.get(CONFIG_ENV)
    if config_path:
        return _serve_config(config_path, args)
    if args.workers > 1:
        parser.error("--workers needs --config: the demo's emulators run in its one process")
    return _serve_demo(args)


def _serve_config(path: str, args: argparse.Namespace) -> int:
    try:
        settings = load_settings(path)
        # A configured tracing without its packages fails here.
        app = create_app(settings, tune_gc=True)
    except ConfigError as error:
        print(f"fleetql: configuration error: {error}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    host = args.host or settings.host
    try:
        sock = listen_socket(host, settings.port if args.port is None else args.port)
    except CannotListen as error:
        print(f"fleetql: {error}", file=sys.stderr)
        return EXIT_CANNOT_LISTEN
    url = _url(host, sock)
    with sock:
        if args.workers > 1:
            return _run_workers(path, settings, sock, args.workers, url)
        return _run(app, settings, sock, lambda: log.info("listening on %s", url))


def _serve_demo(args: argparse.Namespace) -> int:
    from gateway.demo import DEMO_FULL_ACCESS, start_demo_backends

    host = args.host or "127.0.0.1"
    port = 8000 if args.port is None else args.port
    try:
        sock = listen_socket(host, port)
    except CannotListen as error:
        hint = ""
        if error.in_use:
            make_args = f"PORT={port + 1}" + ("" if host == "127.0.0.1" else f" HOST={host}")
            hint = f"; try `make run {make_args}`"
        print(f"fleetql: {error}{hint}", file=sys.stderr)
        return EXIT_CANNOT_LISTEN
    url = _url(host, sock)
    # The emulators start once the gateway's port is held: a taken port never starts them.
    with sock:
        demo = start_demo_backends(host, sock.getsockname()[1])
        try:
            app = create_app(demo.settings, demo_token=DEMO_FULL_ACCESS, tune_gc=True)
            return _run(app, demo.settings, sock, lambda: print(BANNER.format(url=url), flush=True))
        finally:
            demo.stop()


class _AnnouncingServer(uvicorn.Server):
    """uvicorn's server, calling ``started`` once the app started and the socket is served."""

    def __init__(self, config: uvicorn.Config, started: Callable[[], None]) -> None:
        super().__init__(config)
        self._announce = started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's start-up (which exits with status 3 when the app's fails), then ``started``."""
        await super().startup(sockets)
        if self.started:
            self._announce()


def _run(app: ASGIApp, settings: Settings, sock: socket.socket, started: Callable[[], None]) -> int:
    """Serve ``app`` on ``sock`` until SIGINT/SIGTERM, logging JSON lines to stdout."""
    configure_logging(settings.observability.log_level, credentials_of(settings))
    server = _AnnouncingServer(uvicorn.Config(app, **uvicorn_options(settings)), started)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the SIGINT it handled once it has shut down
    return 0


def _run_workers(path: str, settings: Settings, sock: socket.socket, workers: int, url: str) -> int:
    """Serve ``sock`` with ``workers`` processes (uvicorn's supervisor, which restarts a worker
    that dies), each building its own app from the configuration file (``worker_app``)."""
    configure_logging(settings.observability.log_level, credentials_of(settings))
    os.environ[CONFIG_ENV] = os.path.abspath(path)
    config = uvicorn.Config(
        "gateway.cli:worker_app", factory=True, workers=workers, **uvicorn_options(settings)
    )
    log.info("listening on %s with %d workers", url, workers)
    try:
        Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass
    return 0


def worker_app() -> ASGIApp:
    """The app of one ``fleetql serve --workers`` process: the parent's configuration file,
    its logging, and the start-up objects frozen out of the collector's way."""
    settings = load_settings(os.environ[CONFIG_ENV])
    configure_logging(settings.observability.log_level, credentials_of(settings))
    return create_app(settings, tune_gc=True)


def _emulate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``fleetql emulate KIND|all``: emulators on fixed ports, as ``gateway/demo.py`` runs them."""
    from gateway.demo import DEMO_BACKENDS

    if args.kind == "all":
        if args.port is not None:
            parser.error("emulate all takes --port-base, not --port")
        backends = DEMO_BACKENDS
        base = DEFAULT_EMULATOR_PORT_BASE if args.port_base is None else args.port_base
        if not 0 < base <= 65536 - len(backends):
            parser.error(f"--port-base must leave room for {len(backends)} ports (1-65531)")
        ports = [base + i for i in range(len(backends))]
    else:
        if args.port_base is not None:
            parser.error("--port-base is for emulate all; one kind takes --port")
        backends = [backend for backend in DEMO_BACKENDS if backend.kind == args.kind]
        ports = [DEFAULT_EMULATOR_PORT if args.port is None else args.port]
    sockets: list[socket.socket] = []
    try:
        for port in ports:
            sockets.append(listen_socket(args.host, port))
    except CannotListen as error:
        for sock in sockets:
            sock.close()
        print(f"fleetql: {error}", file=sys.stderr)
        return EXIT_CANNOT_LISTEN
    apps = [backend.emulator(args.size, args.seed) for backend in backends]

    def started() -> None:
        for backend, app, sock in zip(backends, apps, sockets, strict=True):
            account = {**backend.credentials, **backend.options(app)}
            described = " ".join(f"{key}={_text(value)}" for key, value in account.items())
            print(f"{backend.kind:<11} {_url(args.host, sock) + backend.path:<34} {described}")
        ready = "Emulators ready; Ctrl-C stops them." if len(apps) > 1 else "Emulator ready."
        print(ready, flush=True)

    log_level = "warning" if len(backends) > 1 else "info"  # one emulator: its access log
    if not _serve_emulators(list(zip(sockets, apps, strict=True)), log_level, started):
        print("fleetql: an emulator failed to start (see its log above)", file=sys.stderr)
        return 1
    return 0


def _text(value: object) -> str:
    return ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


def _serve_emulators(
    listeners: Sequence[tuple[socket.socket, ASGIApp]],
    log_level: str,
    started: Callable[[], None],
) -> bool:
    """Serve each app on its socket, one uvicorn server per thread, until SIGINT/SIGTERM.

    ``started`` runs once every server accepts connections; False: one failed to start.
    """
    servers = [
        uvicorn.Server(uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=2))
        for _, app in listeners
    ]
    threads = [
        threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        for server, (sock, _) in zip(servers, listeners, strict=True)
    ]
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in SIGNALS}
    try:
        for thread in threads:
            thread.start()
        while not all(server.started for server in servers):
            if stop.is_set():
                return True
            if not all(thread.is_alive() for thread in threads):
                return False
            stop.wait(0.01)
        started()
        stop.wait()
        return True
    finally:
        for server in servers:
            server.should_exit = True
        for thread in threads:
            thread.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options from the settings: logging, the shutdown deadline, the connections.

    On SIGTERM uvicorn stops accepting connections, lets in-flight requests finish for at
    most ``server.shutdown_timeout`` seconds, then runs the app's shutdown (upstream clients
    closed, buffered spans exported).
    """
    return {
        "log_config": None,  # configure_logging already routes uvicorn's loggers to JSON
        "log_level": settings.observability.log_level,
        "access_log": False,  # one line per GraphQL request comes from the gateway itself
        "timeout_graceful_shutdown": settings.shutdown_timeout,
        **connection_options(settings),
    }


def connection_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn treats connections: the gateway's protocol, its timeouts and its caps.

    A request head must arrive within ``server.header_timeout`` seconds and hold at most
    ``MAX_REQUEST_HEAD_BYTES``; an idle keep-alive connection closes after
    ``server.keepalive_timeout``; at most ``server.max_connections`` are served at once.
    """
    return {
        "http": partial(GatewayProtocol, header_timeout=settings.header_timeout),
        # Subscriptions (graphql-transport-ws) at /graphql: websockets' sans-I/O protocol.
        "ws": "websockets-sansio",
        "timeout_keep_alive": settings.keepalive_timeout,
        "limit_concurrency": settings.max_connections,
        "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES,
    }


if __name__ == "__main__":
    sys.exit(main())
