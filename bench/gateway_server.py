"""``python -m bench.gateway_server --port P [--workers N]``: the benchmark's gateway process.

uvicorn runs ``gateway.cli:worker_app`` (the app of each ``fleetql serve --workers`` process:
settings from ``$FLEETQL_CONFIG``) with FleetQL's own connection options, as ``fleetql serve``
does (``gateway.cli.connection_options``: the gateway's h11 protocol, its timeouts and
connection cap), and ``--workers`` processes sharing the socket. uvicorn's command line cannot
name that protocol, so the bench starts it here.
"""

from __future__ import annotations

import argparse
import os

import uvicorn

from gateway.cli import CONFIG_ENV, connection_options
from gateway.settings import load_settings


def main() -> None:
    """Parse the port and the worker count, and serve until stopped."""
    parser = argparse.ArgumentParser(prog="python -m bench.gateway_server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    settings = load_settings(os.environ[CONFIG_ENV])
    uvicorn.run(
        "gateway.cli:worker_app",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
        **connection_options(settings),
    )


if __name__ == "__main__":
    main()
