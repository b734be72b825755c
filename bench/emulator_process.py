"""One provider emulator in its own process: ``python -m bench.emulator_process KIND SIZE``.

It serves the emulator of ``KIND`` (the demo's seeded fleet of ``SIZE`` servers) on a loopback
port chosen by the OS, prints one JSON line ``{"url", "base_url", "options"}`` (``options``:
the provider options the gateway needs, such as Packet's project ids) and serves until its
standard input closes, so it never outlives the benchmark that started it.
"""

from __future__ import annotations

import json
import sys

from emulators.kit.server import EmulatorServer
from gateway.demo import DEMO_BACKENDS


def main(argv: list[str]) -> int:
    """Serve one emulator until stdin reaches end of file."""
    kind, size = argv[0], int(argv[1])
    backend = next(backend for backend in DEMO_BACKENDS if backend.kind == kind)
    app = backend.emulator(size)
    with EmulatorServer(app) as server:
        ready = {
            "url": server.url,
            "base_url": f"{server.url}{backend.path}",
            "options": backend.options(app),
        }
        print(json.dumps(ready), flush=True)
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
