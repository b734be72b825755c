"""Start the benchmark's processes and measure them through ``/proc``.

Each emulator and the gateway run in processes of their own, so the gateway's CPU time and
memory can be read per process: CPU from ``utime + stime`` in ``/proc/<pid>/stat``, peak
memory from ``VmHWM`` in ``/proc/<pid>/status``.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from gateway.cli import CONFIG_ENV
from gateway.demo import DEMO_BACKENDS

__all__ = [
    "Emulator",
    "GatewayProcess",
    "LoadDriver",
    "cpu_seconds",
    "die_with_parent",
    "free_port",
    "start_emulators",
    "status_kb",
    "uvicorn_command",
]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_START_TIMEOUT = 60.0
_REPO = Path(__file__).resolve().parent.parent


@dataclass
class Emulator:
    """One emulator process and how a provider instance is configured against it."""

    kind: str
    process: subprocess.Popen
    url: str
    base_url: str
    prefix: str
    credentials: dict[str, str]
    options: dict[str, Any]
    control: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.control = httpx.Client(base_url=f"{self.url}/_emulator", timeout=60)

    def set_faults(self, **faults: Any) -> None:
        """Change the emulator's fault settings (``PUT /_emulator/faults``)."""
        self.control.put("/faults", json=faults).raise_for_status()

    def clear_requests(self) -> None:
        """Forget the logged requests (``DELETE /_emulator/requests``)."""
        self.control.delete("/requests").raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        """The logged requests since the last clear (``GET /_emulator/requests``)."""
        response = self.control.get("/requests")
        response.raise_for_status()
        return response.json()

    def cpu_seconds(self) -> float:
        """CPU time the emulator process has used so far."""
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        """Close the emulator's stdin (it exits at end of file) and wait for it."""
        self.control.close()
        _stop(self.process)


def start_emulators(sizes: dict[str, int], latency_ms: float) -> list[Emulator]:
    """Start one emulator process per kind in ``sizes`` (in parallel), ``latency_ms`` per call."""
    backends = [backend for backend in DEMO_BACKENDS if backend.kind in sizes]
    processes = {
        backend.kind: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.emulator_process",
                backend.kind,
                str(sizes[backend.kind]),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=_REPO,
            text=True,
            preexec_fn=die_with_parent,
        )
        for backend in backends
    }
    emulators = []
    try:
        for backend in backends:
            process = processes[backend.kind]
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"the {backend.kind} emulator did not start")
            ready = json.loads(line)
            emulators.append(
                Emulator(
                    kind=backend.kind,
                    process=process,
                    url=ready["url"],
                    base_url=ready["base_url"],
                    prefix=backend.prefix,
                    credentials=backend.credentials,
                    options=ready["options"],
                )
            )
        for emulator in emulators:
            emulator.set_faults(latency_ms=latency_ms)
    except BaseException:
        for process in processes.values():
            _stop(process)
        raise
    return emulators


def uvicorn_command(port: int) -> list[str]:
    """The gateway under uvicorn on loopback ``port`` (``bench.gateway_server``): one worker,
    quiet logs, FleetQL's own connection options; add ``--workers N`` for more."""
    return [sys.executable, "-m", "bench.gateway_server", "--port", str(port)]


class GatewayProcess:
    """The gateway (``bench.gateway_server``) with ``workers`` worker processes on loopback.

    ``fleetql_serve`` runs ``fleetql serve`` instead (one process, with the gateway's own
    uvicorn options: its protocol, timeouts and connection cap), its output to ``stdout``.
    """

    def __init__(
        self,
        config_path: Path,
        port: int,
        workers: int,
        *,
        fleetql_serve: bool = False,
        stdout: IO[str] | None = None,
    ) -> None:
        command = uvicorn_command(port)
        if fleetql_serve:
            command = [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)]
            workers = 1
        elif workers > 1:
            # With --workers, uvicorn supervises worker processes that share the socket.
            command += ["--workers", str(workers)]
        self.url = f"http://127.0.0.1:{port}"
        self.workers = workers
        env = {**os.environ, CONFIG_ENV: str(config_path)}
        self.process = subprocess.Popen(
            command, cwd=_REPO, env=env, stdout=stdout, stderr=stdout, preexec_fn=die_with_parent
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the gateway exited during start-up")
            if len(self.worker_pids()) == self.workers:
                try:
                    if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        raise RuntimeError("the gateway did not start in time")

    def worker_pids(self) -> list[int]:
        """The processes serving requests: the uvicorn process itself, or its workers."""
        if self.workers == 1:
            return [self.process.pid]
        return _children(self.process.pid)

    def cpu_seconds(self) -> float:
        """User plus system CPU time so far of the whole gateway: supervisor and workers."""
        return sum(cpu_seconds(pid) for pid in {self.process.pid, *self.worker_pids()})

    def peak_rss_mb(self) -> float:
        """The largest peak resident set (VmHWM) of one worker, in MiB."""
        return max(status_kb(pid, "VmHWM") for pid in self.worker_pids()) / 1024

    def stop(self) -> None:
        """Terminate uvicorn (it stops its workers) and wait."""
        _stop(self.process)


def die_with_parent() -> None:
    """Runs in each child before exec: SIGTERM it when the benchmark process dies.

    An interrupted run then leaves no emulator, gateway or driver behind.
    """
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def cpu_seconds(pid: int) -> float:
    """``utime + stime`` of one process, in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name in parentheses may hold spaces: split after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def status_kb(pid: int, key: str) -> int:
    """One ``kB`` line of ``/proc/<pid>/status``, such as ``VmHWM`` or ``VmRSS``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    """The worker processes multiprocessing spawned for ``pid`` (not its resource tracker)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # the process ended while the directory was read
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        if parent == pid and b"spawn_main" in command:
            children.append(int(entry.name))
    return sorted(children)


def _stop(process: subprocess.Popen) -> None:
    """End of file on stdin for the emulators, SIGTERM for uvicorn; SIGKILL if ignored."""
    if process.stdin is not None:
        if not process.stdin.closed:
            process.stdin.close()
        try:
            process.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            pass
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class LoadDriver:
    """The ``bench.driver`` process: one job in, one result out, over its stdin and stdout."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.driver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=_REPO,
            text=True,
            preexec_fn=die_with_parent,
        )

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        """Run one job (see ``bench.driver``) and return its result."""
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the load driver exited")
        return json.loads(line)

    def stop(self) -> None:
        """Close the driver's stdin; it exits after the current job."""
        _stop(self.process)
