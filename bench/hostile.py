"""Hostile HTTP against a gateway process: ``.venv/bin/python -m bench.hostile [--runs 3]``.

Each run starts a fresh gateway (``fleetql serve --config`` on a generated file, in its own
process, over the five demo emulators) and sends it, one after the other:

- ``chunked``: a chunked POST body of ``--chunked-mib`` (1 GiB), generated on the fly from
  one 64 KiB chunk sent again and again, never held in memory;
- ``declared``: a body of ``--declared-mib`` (256 MiB) with an honest Content-Length;
- ``nested``: ``{"query": "{ __typename }", "x": [[[…]]]}``, 5,000 levels deep;
- ``slow_headers``: ``--slow`` connections that each send a request head one byte every
  ``header_timeout / 5`` seconds, while one ordinary query is sent beside them.

For each it records the answer (status and error code), the bytes sent before the gateway
refused or closed, and the gateway's memory from ``/proc/<pid>/status``: VmRSS before,
and the peak (VmHWM, reset through ``/proc/<pid>/clear_refs`` before each attack) minus it.
The figures over the runs (median, min, max) are printed as Markdown and, with ``--json``,
written to a file. Not part of ``make test``: ``tests/test_bench_smoke.py`` runs it tiny.
"""

from __future__ import annotations

import argparse
import json
import selectors
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.config import BENCH_TOKEN, write_config
from bench.processes import GatewayProcess, free_port, start_emulators, status_kb
from gateway.demo import DEMO_BACKENDS

__all__ = ["Options", "main", "run_hostile"]

MIB = 2**20
CHUNK = b"x" * 65536
#: Seconds a socket waits for the gateway before the attack counts as unanswered.
PATIENCE = 30.0
LISTING = "{ servers(input: {pageSize: 5}) { entriesTotalCount entries { name } } }"


@dataclass(frozen=True)
class Options:
    """One hostile run's sizes; the defaults are the figures in docs/reliability.md."""

    runs: int = 3
    chunked_mib: int = 1024
    declared_mib: int = 256
    nesting: int = 5000
    slow: int = 200  # slow-header connections
    header_timeout: float = 10.0  # the gateway's [server] header_timeout (its default)
    size: int = 20  # servers per emulator


def run_hostile(options: Options) -> dict[str, Any]:
    """Start the emulators once and a fresh gateway per run; return every run's figures."""
    sizes = {backend.kind: options.size for backend in DEMO_BACKENDS}
    emulators = start_emulators(sizes, latency_ms=0)
    runs = []
    try:
        with tempfile.TemporaryDirectory() as workdir:
            for run in range(options.runs):
                port = free_port()
                config = write_config(
                    Path(workdir, f"hostile-{run}.toml"),
                    emulators,
                    port=port,
                    cache=True,
                    server={"header_timeout": options.header_timeout},
                )
                runs.append(_one_run(options, config, Path(workdir, f"gateway-{run}.log"), port))
    finally:
        for emulator in emulators:
            emulator.stop()
    return {"options": asdict(options), "runs": runs, "summary": _summary(runs)}


def _one_run(options: Options, config: Path, log_path: Path, port: int) -> dict[str, Any]:
    with log_path.open("w") as log:
        gateway = GatewayProcess(config, port, 1, fleetql_serve=True, stdout=log)
    try:
        pid = gateway.process.pid
        # Warm up: the first GraphQL requests import and compile what later ones reuse.
        for _ in range(3):
            _query(port, LISTING)
        head = _post_head(port)
        result = {
            "boot_rss_mib": status_kb(pid, "VmRSS") / 1024,
            "chunked": _measured(
                pid, lambda: _flood(port, head + b"Transfer-Encoding: chunked\r\n\r\n", options)
            ),
            "declared": _measured(
                pid,
                lambda: _flood(
                    port,
                    head + b"Content-Length: %d\r\n\r\n" % (options.declared_mib * MIB),
                    options,
                ),
            ),
            "nested": _measured(pid, lambda: _nested(port, options.nesting)),
            "slow_headers": _measured(pid, lambda: _slow_headers(port, options)),
        }
    finally:
        gateway.stop()
    text = log_path.read_text()
    result["log"] = {"lines": text.count("\n"), "tracebacks": text.count("Traceback")}
    return result


def _measured(pid: int, attack: Any) -> dict[str, Any]:
    """Run ``attack`` and add the gateway's RSS before and its peak growth during it."""
    reset = _reset_peak(pid)
    before = status_kb(pid, "VmRSS")
    figures = attack()
    figures["rss_before_mib"] = before / 1024
    figures["peak_growth_mib"] = (status_kb(pid, "VmHWM") - before) / 1024 if reset else None
    figures["rss_after_mib"] = status_kb(pid, "VmRSS") / 1024
    return figures


def _reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux 4.0+); False where refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _post_head(port: int) -> bytes:
    return (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {BENCH_TOKEN}\r\nContent-Type: application/json\r\n"
    ).encode()


def _flood(port: int, head: bytes, options: Options) -> dict[str, Any]:
    """Send ``head`` and then body bytes until the planned size or until the gateway closes."""
    chunked = b"chunked" in head
    total = (options.chunked_mib if chunked else options.declared_mib) * MIB
    piece = b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK
    started = time.perf_counter()
    sent = 0
    stopped_by = None
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as sock:
        answer = _Reader(sock)
        sock.sendall(head)
        try:
            while sent < total:
                sock.sendall(piece)
                sent += len(piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError as error:  # the gateway closed the connection
            stopped_by = type(error).__name__
        answer.join()
    return {
        "planned_mib": total / MIB,
        "sent_mib": sent / MIB,
        "stopped_by": stopped_by,
        "seconds": time.perf_counter() - started,
        **_answer_of(answer.received),
    }


def _nested(port: int, levels: int) -> dict[str, Any]:
    body = ('{"query":"{ __typename }","x":' + "[" * levels + "]" * levels + "}").encode()
    response = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        content=body,
        headers={"Authorization": f"Bearer {BENCH_TOKEN}", "Content-Type": "application/json"},
        timeout=PATIENCE,
    )
    error = response.json()["errors"][0]
    return {
        "body_bytes": len(body),
        "status": response.status_code,
        "code": error["extensions"]["code"],
        "message": error["message"],
    }


def _slow_headers(port: int, options: Options) -> dict[str, Any]:
    """Open ``slow`` connections trickling a request head; see when the gateway closes each."""
    interval = options.header_timeout / 5
    selector = selectors.DefaultSelector()
    opened: dict[socket.socket, float] = {}
    for _ in range(options.slow):
        sock = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE)
        sock.sendall(b"POST /graphql HTTP/1.1\r\nHost: fleetql\r\nX-Slow: ")
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        opened[sock] = time.perf_counter()
    ordinary = _query(port, LISTING)  # served while every slow connection is open
    closed_after: list[float] = []
    answered = 0
    deadline = time.perf_counter() + options.header_timeout + PATIENCE
    next_byte = time.perf_counter() + interval
    while opened and time.perf_counter() < deadline:
        for key, _ in selector.select(timeout=max(0.0, next_byte - time.perf_counter())):
            sock = key.fileobj
            try:
                answered += bool(sock.recv(65536))
            except OSError:
                pass
            closed_after.append(time.perf_counter() - opened.pop(sock))
            selector.unregister(sock)
            sock.close()
        if time.perf_counter() >= next_byte:
            next_byte += interval
            for sock in opened:
                try:
                    sock.send(b"a")
                except OSError:
                    pass  # closed: the selector reports it
    for sock in opened:
        sock.close()
    return {
        "connections": options.slow,
        "closed_by_gateway": len(closed_after),
        "answered_with_bytes": answered,
        "closed_after_s_median": statistics.median(closed_after) if closed_after else None,
        "closed_after_s_max": max(closed_after, default=None),
        "ordinary_query_status": ordinary,
    }


def _query(port: int, query: str) -> int:
    response = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {BENCH_TOKEN}"},
        timeout=PATIENCE,
    )
    return response.status_code


class _Reader(threading.Thread):
    """Reads a socket until the peer closes or resets it, while the main thread sends."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.received = b""
        self.start()

    def run(self) -> None:
        try:
            while chunk := self.sock.recv(65536):
                self.received += chunk
        except OSError:  # reset: the gateway closed with unread bytes of ours
            pass


def _answer_of(raw: bytes) -> dict[str, Any]:
    """Status, connection header and error code of the one HTTP response in ``raw``."""
    if not raw:
        return {"status": None, "code": None, "connection": None}
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {n.strip().lower(): v.strip() for n, _, v in (h.partition(":") for h in lines)}
    try:
        code = json.loads(body)["errors"][0]["extensions"]["code"]
    except (ValueError, KeyError, IndexError):
        code = None
    return {
        "status": int(status_line.split()[1]),
        "code": code,
        "connection": headers.get("connection"),
    }


ATTACKS = ("chunked", "declared", "nested", "slow_headers")
#: What an attack was and how it was answered: reported as they are, not summarised.
NOT_FIGURES = {"planned_mib", "body_bytes", "connections", "status", "ordinary_query_status"}


def _summary(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Median, min and max over the runs of every measured figure of every attack."""
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for attack in ATTACKS:
        figures: dict[str, list[float]] = {}
        for run in runs:
            for name, value in run[attack].items():
                if isinstance(value, int | float) and name not in NOT_FIGURES:
                    figures.setdefault(name, []).append(value)
        summary[attack] = {
            name: {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
            }
            for name, values in figures.items()
        }
    return summary


def render(results: dict[str, Any]) -> str:
    """The summary as a Markdown table: one row per attack and figure."""
    lines = ["| Attack | Figure | Median | Range |", "|---|---|---|---|"]
    for attack, figures in results["summary"].items():
        for name, value in figures.items():
            low, high = value["min"], value["max"]
            lines.append(f"| {attack} | {name} | {value['median']:.2f} | {low:.2f} – {high:.2f} |")
    answers = {
        attack: sorted(
            {
                tuple(run[attack].get(key) for key in ("status", "code", "connection"))
                for run in results["runs"]
            }
        )
        for attack in ("chunked", "declared", "nested")
    }
    ordinary = {run["slow_headers"]["ordinary_query_status"] for run in results["runs"]}
    lines.append("")
    lines.append(f"Answers (status, code, connection): {answers}")
    lines.append(f"An ordinary query beside the slow connections: HTTP {sorted(ordinary)}")
    lines.append(f"Gateway logs: {[run['log'] for run in results['runs']]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: the sizes of ``Options``; prints Markdown, ``--json`` writes the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = Options()
    parser.add_argument("--runs", type=int, default=defaults.runs)
    parser.add_argument("--chunked-mib", type=int, default=defaults.chunked_mib)
    parser.add_argument("--declared-mib", type=int, default=defaults.declared_mib)
    parser.add_argument("--nesting", type=int, default=defaults.nesting)
    parser.add_argument("--slow", type=int, default=defaults.slow)
    parser.add_argument("--header-timeout", type=float, default=defaults.header_timeout)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    options = Options(
        runs=args.runs,
        chunked_mib=args.chunked_mib,
        declared_mib=args.declared_mib,
        nesting=args.nesting,
        slow=args.slow,
        header_timeout=args.header_timeout,
    )
    results = run_hostile(options)
    results["command"] = " ".join([".venv/bin/python -m bench.hostile", *(argv or sys.argv[1:])])
    print(render(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
