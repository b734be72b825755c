"""The ``fleetql`` command: ``serve``, ``check``, ``schema``, ``capabilities`` and ``emulate``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from functools import partial
from typing import Any

import uvicorn

from gateway.app import create_app
from gateway.check import run_check
from gateway.logs import configure_logging, credentials_of
from gateway.protocol import GatewayProtocol
from gateway.settings import ConfigError, Settings, load_settings
from providers.registry import PROVIDER_KINDS, capability_matrix

__all__ = ["connection_options", "main", "uvicorn_options"]

#: Largest request head (request line and headers) h11 buffers; beyond it: 400 BAD_REQUEST.
MAX_REQUEST_HEAD_BYTES = 16 * 1024

BANNER = """
FleetQL is running with emulated backends (the embedded demo).

  GraphiQL:  http://{host}:{port}/graphql
  Tokens:    demo-full-access (queries and mutations), demo-read-only (queries)

Try it:

  curl -s http://{host}:{port}/graphql -H 'Authorization: Bearer demo-full-access' \\
    -H 'Content-Type: application/json' \\
    -d '{{"query":"query account {{ account {{ name email }} }}"}}'

  curl -s http://{host}:{port}/graphql -H 'Authorization: Bearer demo-full-access' \\
    -H 'Content-Type: application/json' \\
    -d '{{"query":"{{ servers(input: {{filter: {{location_in: [\\"Amsterdam\\"]}}}}) {{ entriesTotalCount entries {{ name provider {{ kind }} powerStatus }} }} }}"}}'

  curl -s http://{host}:{port}/graphql -H 'Authorization: Bearer demo-full-access' \\
    -H 'Content-Type: application/json' \\
    -d '{{"query":"mutation {{ performServerPowerAction(input: {{server: {{name: \\"DP-12345\\"}}, action: CYCLE}}) {{ server {{ name powerStatus }} }} }}"}}'
"""  # noqa: E501


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``fleetql`` console script."""
    parser = argparse.ArgumentParser(prog="fleetql", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", help="TOML configuration (default: $FLEETQL_CONFIG, else demo)")
    serve.add_argument("--host", help="listen address (default from config, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default from config, 8000)")
    check = commands.add_parser(
        "check", help="validate a configuration and ping each provider once"
    )
    check.add_argument("--config", help="TOML configuration (default: $FLEETQL_CONFIG)")
    commands.add_parser("schema", help="print the served GraphQL SDL")
    commands.add_parser("capabilities", help="print the provider capability matrix (Markdown)")
    emulate = commands.add_parser("emulate", help="run one provider emulator")
    emulate.add_argument("kind", choices=sorted(PROVIDER_KINDS))
    emulate.add_argument("--host", default="127.0.0.1")
    emulate.add_argument("--port", type=int, default=8100)
    emulate.add_argument("--size", type=int, default=120, help="servers in the seeded fleet")
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
        config_path = args.config or os.environ.get("FLEETQL_CONFIG")
        if not config_path:
            parser.error("check needs --config PATH (or FLEETQL_CONFIG)")
        return run_check(config_path, sys.stdout, sys.stderr)
    if args.command == "emulate":
        module = importlib.import_module(f"providers.{args.kind}.emulator")
        app = module.create_app(size=args.size, seed=args.seed)
        uvicorn.run(app, host=args.host, port=args.port, log_level="info")
        return 0
    return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    config_path = args.config or os.environ.get("FLEETQL_CONFIG")
    if config_path:
        try:
            settings = load_settings(config_path)
            app = create_app(settings)  # a configured tracing without its packages fails here
        except ConfigError as error:
            print(f"fleetql: configuration error: {error}", file=sys.stderr)
            return 2
        _run(app, settings, args.host or settings.host, args.port or settings.port)
        return 0
    from gateway.demo import DEMO_FULL_ACCESS, start_demo_backends

    host, port = args.host or "127.0.0.1", args.port or 8000
    demo = start_demo_backends(host, port)
    try:
        print(BANNER.format(host=host, port=port), flush=True)
        app = create_app(demo.settings, demo_token=DEMO_FULL_ACCESS)
        _run(app, demo.settings, host, port)
    finally:
        demo.stop()
    return 0


def _run(app: object, settings: Settings, host: str, port: int) -> None:
    """Serve ``app`` until SIGINT/SIGTERM, logging JSON lines to stdout."""
    configure_logging(settings.observability.log_level, credentials_of(settings))
    uvicorn.run(app, host=host, port=port, **uvicorn_options(settings))


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
        "ws": "none",  # no WebSocket route: an upgrade request is served as plain HTTP
        "timeout_keep_alive": settings.keepalive_timeout,
        "limit_concurrency": settings.max_connections,
        "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES,
    }


if __name__ == "__main__":
    sys.exit(main())
