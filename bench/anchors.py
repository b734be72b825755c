"""FleetQL side by side with Hive Gateway and Tailcall: ``python -m bench.anchors``.

The anchors are the gateways FleetQL's users would pick instead, pinned in
``bench/anchors/package.json`` (and its lock): Hive Gateway 2.15.1 over a supergraph that Mesh
Compose 1.8.2 builds from OpenAPI descriptions of the emulators' endpoints
(``bench/anchors/*.openapi.json``, ``mesh.config.ts``; ``@graphql-tools/batch-execute`` is
pinned to 10.2.0 by an npm override, without which the gateway does not start), and Tailcall
1.0.0 (``bench/anchors/tailcall.graphql``; 1.6.x needs glibc 2.38). Where ``node`` and ``npm``
exist they are installed with ``npm ci`` into ``bench/anchors/node_modules`` (ignored by git)
unless already there; without them one line says so and FleetQL runs alone.

Every gateway runs as one process over FleetQL's own emulators (``bench.processes``, a fixed
latency per upstream call) and is loaded by the same closed-loop driver (``bench.driver``):

    S1  cache off: one Packet list of 50 devices (about 264 kB) -> 50 servers, nested fields
    S2  fan-out: dashserv's two product lists plus one status call per server (52 calls)
    S3  cache on: S1 with each gateway's own cache (FleetQL's read cache, Hive's response
        cache plugin, Tailcall's ``@cache``)

Before any timing, each scenario's answers are normalised to the same shape and compared; a
scenario whose data differ is reported as refused and not timed. Then ``--rounds`` rounds run
the gateways in alternating order (A B C, C B A, ...) for ``--duration`` seconds each; the
report gives per gateway the median and range of throughput, p50/p99 latency and gateway CPU
per request (``utime + stime`` of the gateway's process tree from ``/proc``), and the ratios
FleetQL / Hive and FleetQL / Tailcall of the medians. Results go to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.config import BENCH_TOKEN, write_config
from bench.processes import (
    Emulator,
    LoadDriver,
    cpu_seconds,
    die_with_parent,
    free_port,
    start_emulators,
    uvicorn_command,
)
from bench.queries import SERVER_FIELDS
from bench.run import describe_machine, write_results
from gateway.cli import CONFIG_ENV

__all__ = ["ANCHORS", "Options", "anchors_installed", "install_anchors", "main", "run_anchors"]

ANCHORS = Path(__file__).resolve().parent / "anchors"
NODE_MODULES = ANCHORS / "node_modules"
HIVE = NODE_MODULES / ".bin" / "hive-gateway"
MESH_COMPOSE = NODE_MODULES / ".bin" / "mesh-compose"
TAILCALL = NODE_MODULES / "@tailcallhq" / "core-linux-x64-gnu" / "bin" / "tailcall"
#: The pinned packages whose versions a result records.
PACKAGES = (
    "@graphql-hive/gateway",
    "@graphql-mesh/compose-cli",
    "@omnigraph/openapi",
    "@graphql-tools/batch-execute",
    "@tailcallhq/core-linux-x64-gnu",
)
DEVICES = 50  # S1: one Packet list of this many devices
PRODUCTS = 50  # S2: dashserv products (dedicated servers and vServers) listed
SCENARIOS = ("S1", "S2", "S3")
GATEWAYS = ("fleetql", "hive", "tailcall")
_START_TIMEOUT = 90.0

FLEETQL_S1 = (
    f"query S1 {{ servers(input: {{pageSize: {DEVICES}}}) {{ entries {{ {SERVER_FIELDS} }} }} }}"  # noqa: E501
)
FLEETQL_S2 = "query S2 { servers(input: {pageSize: 50}) { entries { name powerStatus } } }"
#: The device fields the anchors ask for: what FleetQL's mapping reads for SERVER_FIELDS.
DEVICE_FIELDS = (
    "id hostname description state tags facility { code name } metro { code name } "
    "plan { slug specs { cpus { count type } memory { total } drives { count type size } "
    "nics { count type } } } "
    "ip_addresses { address address_family cidr netmask gateway network public management }"
)
PRODUCT_FIELDS = "uuid powerStatus { data { status } }"
S2_ANCHOR = (
    f"query S2 {{ dedicatedServers {{ data {{ {PRODUCT_FIELDS} }} }} "
    f"vservers {{ data {{ {PRODUCT_FIELDS} }} }} }}"
)
POWER = {"online": "ON", "offline": "OFF"}


@dataclass(frozen=True)
class Options:
    """One side-by-side run; with the defaults it takes about three minutes on 2 cores."""

    duration: float = 5.0  # seconds per measured phase
    rounds: int = 3
    concurrency: int = 16
    latency_ms: float = 20.0  # per upstream call, in every emulator
    warmup: float = 1.0  # seconds of unmeasured load per gateway after its start
    scenarios: tuple[str, ...] = SCENARIOS
    timeout: float = 60.0  # per request of the driver
    install: bool = True  # run ``npm ci`` when the anchors are not installed


# --- the anchors' installation ----------------------------------------------------------


def node_available() -> bool:
    """Whether ``node`` and ``npm`` are on the PATH."""
    return shutil.which("node") is not None and shutil.which("npm") is not None


def anchors_installed() -> bool:
    """Whether ``npm ci`` has installed the pinned anchors into ``bench/anchors``."""
    return all(path.exists() for path in (HIVE, MESH_COMPOSE, TAILCALL))


def install_anchors() -> None:
    """``npm ci`` in ``bench/anchors``: exactly the versions of its package-lock.json."""
    print("installing the anchors: npm ci in bench/anchors", file=sys.stderr, flush=True)
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ANCHORS, check=True
    )


def anchor_versions() -> dict[str, str | None]:
    """Node's version and each pinned package's installed version."""
    versions: dict[str, str | None] = {}
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    versions["node"] = node.stdout.strip() or None
    for package in PACKAGES:
        manifest = NODE_MODULES / package / "package.json"
        versions[package] = (
            json.loads(manifest.read_text())["version"] if manifest.exists() else None
        )
    return versions


# --- gateway processes ----------------------------------------------------------------


class Gateway:
    """One gateway process on loopback: its GraphQL URL, headers and per-scenario queries."""

    def __init__(
        self,
        name: str,
        command: list[str],
        port: int,
        *,
        cwd: Path,
        env: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        log: Path,
    ) -> None:
        self.name = name
        self.url = f"http://127.0.0.1:{port}/graphql"
        self.headers = headers or {}
        self.log = log
        with log.open("w") as output:
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                env={**os.environ, **(env or {})},
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
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
                raise RuntimeError(f"{self.name} exited during start-up: {self._log_tail()}")
            try:
                response = httpx.post(
                    self.url, json={"query": "{ __typename }"}, headers=self.headers, timeout=2
                )
                if response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start in time: {self._log_tail()}")

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-1500:]

    def cpu_seconds(self) -> float:
        """``utime + stime`` so far of the gateway's process and every descendant."""
        total = 0.0
        for pid in _process_tree(self.process.pid):
            try:
                total += cpu_seconds(pid)
            except OSError:
                pass  # ended meanwhile
        return total

    def query(self, document: str) -> dict[str, Any]:
        """One request's ``data`` (an error names the gateway and its answer)."""
        response = httpx.post(self.url, json={"query": document}, headers=self.headers, timeout=120)
        payload = response.json() if response.content else {}
        if response.status_code != 200 or payload.get("errors") or not payload.get("data"):
            raise RuntimeError(
                f"{self.name} answered {response.status_code}: {response.text[:500]}"
            )
        return payload["data"]

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _process_tree(root: int) -> list[int]:
    """``root`` and its descendants, from the parent ids in ``/proc/<pid>/stat``."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        parents.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending += parents.get(pid, [])
    return tree


@dataclass
class Upstreams:
    """The running emulators and what the gateways need to reach them."""

    packet: Emulator
    dashserv: Emulator
    organization: str  # the Packet organization whose device list S1 reads

    @property
    def every(self) -> list[Emulator]:
        """Both emulators, whose request logs count a phase's upstream calls."""
        return [self.packet, self.dashserv]


def packet_organization(packet: Emulator) -> str:
    """The organization of the emulator's first project (``GET /projects/{id}``)."""
    project = packet.options["project_ids"][0]
    response = httpx.get(
        f"{packet.base_url}/projects/{project}",
        headers={"X-Auth-Token": packet.credentials["token"]},
    )
    response.raise_for_status()
    return response.json()["organization"]["id"]


class Launcher:
    """Starts each gateway configured for one scenario's upstream and cache setting."""

    def __init__(self, upstreams: Upstreams, workdir: Path) -> None:
        self.upstreams = upstreams
        self.workdir = workdir
        self.supergraph: Path | None = None

    def start(self, name: str, scenario: str) -> Gateway:
        """The gateway ``name`` (fleetql, hive, tailcall) as ``scenario`` needs it."""
        cache = scenario == "S3"
        return getattr(self, f"_{name}")(scenario, cache)

    def _fleetql(self, scenario: str, cache: bool) -> Gateway:
        # A gateway over the one provider the scenario reads: Packet (S1, S3) or dashserv (S2).
        upstream = self.upstreams.dashserv if scenario == "S2" else self.upstreams.packet
        port = free_port()
        config = write_config(
            self.workdir / f"fleetql-{scenario}.toml",
            [upstream],
            port=port,
            cache=cache,
            # One device list: the organization's, as the anchors read it.
            provider_options={"packet": {"organization_ids": [self.upstreams.organization]}},
        )
        command = uvicorn_command(port)
        return Gateway(
            "fleetql",
            command,
            port,
            cwd=Path(__file__).resolve().parent.parent,
            env={CONFIG_ENV: str(config)},
            headers={"Authorization": f"Bearer {BENCH_TOKEN}"},
            log=self.workdir / f"fleetql-{scenario}.log",
        )

    def _compose(self) -> Path:
        """Mesh Compose's supergraph of both OpenAPI descriptions (once per run)."""
        if self.supergraph is None:
            output = self.workdir / "supergraph.graphql"
            subprocess.run(
                [str(MESH_COMPOSE), "-o", str(output)],
                cwd=ANCHORS,
                env={**os.environ, **self._mesh_env()},
                check=True,
                capture_output=True,
            )
            self.supergraph = output
        return self.supergraph

    def _mesh_env(self) -> dict[str, str]:
        packet, dashserv = self.upstreams.packet, self.upstreams.dashserv
        return {
            "ANCHOR_PACKET_URL": packet.base_url,
            "ANCHOR_PACKET_TOKEN": packet.credentials["token"],
            "ANCHOR_DASHSERV_URL": dashserv.base_url,
            "ANCHOR_DASHSERV_TOKEN": dashserv.credentials["token"],
        }

    def _hive(self, scenario: str, cache: bool) -> Gateway:
        port = free_port()
        command = [str(HIVE), "supergraph", str(self._compose()), "-c", "gateway.config.ts"]
        # Unmasked errors name an upstream failure in the driver's failure sample.
        command += ["--no-masked-errors", "--host", "127.0.0.1", "--port", str(port)]
        return Gateway(
            "hive",
            command,
            port,
            cwd=ANCHORS,
            env={"ANCHOR_CACHE": "1" if cache else "0"},
            log=self.workdir / f"hive-{scenario}.log",
        )

    def _tailcall(self, scenario: str, cache: bool) -> Gateway:
        port = free_port()
        packet, dashserv = self.upstreams.packet, self.upstreams.dashserv
        template = string.Template((ANCHORS / "tailcall.graphql").read_text())
        config = self.workdir / f"tailcall-{scenario}.graphql"
        config.write_text(
            template.substitute(
                port=port,
                cache="@cache(maxAge: 60000)" if cache else "",
                packet_url=packet.base_url,
                packet_organization=self.upstreams.organization,
                packet_token=packet.credentials["token"],
                dashserv_url=dashserv.base_url,
                dashserv_token=dashserv.credentials["token"],
            )
        )
        return Gateway(
            "tailcall",
            [str(TAILCALL), "start", str(config)],
            port,
            cwd=self.workdir,
            log=self.workdir / f"tailcall-{scenario}.log",
        )


# --- the same data from every gateway ---------------------------------------------------


def documents(scenario: str, organization: str) -> dict[str, str]:
    """Per gateway, the document that asks ``scenario``'s question in its schema.

    Mesh's operation takes the Packet organization as an argument; Tailcall's field has it
    in its URL, as FleetQL has it in its configuration.
    """
    if scenario == "S2":
        return {"fleetql": FLEETQL_S2, "hive": S2_ANCHOR, "tailcall": S2_ANCHOR}
    hive = (
        f'query S1 {{ findOrganizationDevices(id: "{organization}", per_page: 1000, page: 1) '
        f"{{ devices {{ {DEVICE_FIELDS} }} }} }}"
    )
    return {"fleetql": FLEETQL_S1, "hive": hive, "tailcall": TAILCALL_S1}


TAILCALL_S1 = f"query S1 {{ devices {{ devices {{ {DEVICE_FIELDS} }} }} }}"


def normalised(scenario: str, gateway: str, data: dict[str, Any]) -> list[Any]:
    """The compared values in one shape: per server, sorted by id.

    S1/S3: id, hostname, alias/description, CPUs (count, name), addresses (ip, netmask,
    gateway, family) and tags (key, value), which FleetQL maps one to one from the device;
    S2: uuid and power state (dashserv's online/offline as FleetQL's ON/OFF).
    """
    if scenario == "S2":
        if gateway == "fleetql":
            rows = [
                (entry["name"].split("-", 1)[1], entry["powerStatus"])
                for entry in data["servers"]["entries"]
            ]
        else:
            products = data["dedicatedServers"]["data"] + data["vservers"]["data"]
            rows = [
                (p["uuid"], POWER.get(p["powerStatus"]["data"]["status"], "UNKNOWN"))
                for p in products
            ]
        return sorted(rows)
    if gateway == "fleetql":
        rows = [_fleetql_server(entry) for entry in data["servers"]["entries"]]
    else:
        listed = data["findOrganizationDevices" if gateway == "hive" else "devices"]["devices"]
        rows = [_device(device) for device in listed]
    return sorted(rows)


def _fleetql_server(server: dict[str, Any]) -> tuple:
    return (
        server["name"].split("-", 1)[1],
        server["hostname"],
        server["alias"] or "",
        tuple((cpu["count"], cpu["name"]) for cpu in server["hardware"]["cpus"]),
        tuple(
            sorted(
                (ip["ip"], ip["netMask"], ip["gateway"], ip["type"])
                for ip in server["network"]["ipAddresses"]
            )
        ),
        tuple(sorted((tag["key"], tag["value"]) for tag in server["tags"])),
    )


def _device(device: dict[str, Any]) -> tuple:
    family = {4: "IPV4", 6: "IPV6"}
    tags = [tag.partition("=") for tag in device["tags"]]
    return (
        device["id"],
        device["hostname"],
        device["description"] or "",
        tuple((cpu["count"], cpu["type"]) for cpu in device["plan"]["specs"]["cpus"]),
        tuple(
            sorted(
                (ip["address"], ip["netmask"], ip["gateway"], family[ip["address_family"]])
                for ip in device["ip_addresses"]
            )
        ),
        tuple(sorted((key, value) for key, _, value in tags)),
    )


def check_same_data(
    scenario: str, gateways: dict[str, Gateway], asked: dict[str, str]
) -> dict[str, Any]:
    """Ask each gateway once (``asked[name]``) and compare the normalised answers with FleetQL's."""
    answers = {
        name: normalised(scenario, name, gateway.query(asked[name]))
        for name, gateway in gateways.items()
    }
    reference = answers["fleetql"]
    differing = [name for name, rows in answers.items() if rows != reference]
    check: dict[str, Any] = {"rows": len(reference), "identical": not differing and bool(reference)}
    if differing:
        name = differing[0]
        first = next(
            (i for i, (a, b) in enumerate(zip(reference, answers[name], strict=False)) if a != b),
            min(len(reference), len(answers[name])),
        )
        check["differing"] = differing
        check["sample"] = {
            "fleetql": repr(reference[first : first + 1])[:600],
            name: repr(answers[name][first : first + 1])[:600],
            "rows": {n: len(rows) for n, rows in answers.items()},
        }
    return check


# --- the run ----------------------------------------------------------------------------


@dataclass
class ScenarioRun:
    """One scenario's data check and measured phases."""

    scenario: str
    check: dict[str, Any] = field(default_factory=dict)
    phases: list[dict[str, Any]] = field(default_factory=list)


def measure(
    driver: LoadDriver,
    gateway: Gateway,
    body: dict[str, Any],
    upstreams: Upstreams,
    options: Options,
    duration: float,
) -> dict[str, Any]:
    """One closed-loop phase against ``gateway``: throughput, latency, CPU and upstream calls."""
    for emulator in upstreams.every:
        emulator.clear_requests()
    job = {
        "mode": "graphql",
        "url": gateway.url,
        "headers": gateway.headers,
        "bodies": [body],
        "concurrency": options.concurrency,
        "duration": duration,
        "timeout": options.timeout,
    }
    before = gateway.cpu_seconds()
    result = driver.run(job)
    cpu = gateway.cpu_seconds() - before
    calls = sum(len(emulator.requests()) for emulator in upstreams.every)
    units = max(result["units"], 1)
    return {
        **result,
        "gateway_cpu_ms_per_request": round(cpu * 1000 / units, 3),
        "upstream_calls_per_request": round(calls / units, 2),
    }


def run_scenario(
    scenario: str,
    names: tuple[str, ...],
    launcher: Launcher,
    driver: LoadDriver,
    options: Options,
) -> ScenarioRun:
    """Start the gateways for ``scenario``, check their data, then the alternating rounds."""
    run = ScenarioRun(scenario)
    gateways: dict[str, Gateway] = {}
    try:
        for name in names:
            gateways[name] = launcher.start(name, scenario)
        upstreams = launcher.upstreams
        asked = documents(scenario, upstreams.organization)
        run.check = check_same_data(scenario, gateways, asked)
        _say(f"{scenario} data check: {run.check}")
        if not run.check["identical"]:
            return run
        bodies = {name: {"query": asked[name]} for name in names}
        for name, gateway in gateways.items():  # connections, JIT, caches
            measure(driver, gateway, bodies[name], upstreams, options, options.warmup)
        for round_number in range(options.rounds):
            order = names if round_number % 2 == 0 else tuple(reversed(names))
            for name in order:
                phase = measure(
                    driver, gateways[name], bodies[name], upstreams, options, options.duration
                )
                phase = {"gateway": name, "round": round_number + 1, **phase}
                run.phases.append(phase)
                _progress(scenario, phase)
    finally:
        for gateway in gateways.values():
            gateway.stop()
    return run


def summarise(run: ScenarioRun, names: tuple[str, ...]) -> dict[str, Any]:
    """Per gateway: median and range of each figure; and FleetQL's ratios to the anchors."""
    figures: dict[str, Callable[[dict[str, Any]], float]] = {
        "throughput_per_s": lambda p: p["throughput_per_s"],
        "p50_ms": lambda p: p["latency_ms"]["p50"],
        "p99_ms": lambda p: p["latency_ms"]["p99"],
        "gateway_cpu_ms_per_request": lambda p: p["gateway_cpu_ms_per_request"],
        "upstream_calls_per_request": lambda p: p["upstream_calls_per_request"],
    }
    summary: dict[str, Any] = {}
    for name in names:
        phases = [phase for phase in run.phases if phase["gateway"] == name]
        if not phases:
            continue
        summary[name] = {
            figure: {
                "median": round(statistics.median(read(p) for p in phases), 3),
                "min": round(min(read(p) for p in phases), 3),
                "max": round(max(read(p) for p in phases), 3),
            }
            for figure, read in figures.items()
        }
        summary[name]["failures"] = sum(phase["failures"] for phase in phases)
    ratios: dict[str, Any] = {}
    for anchor in ("hive", "tailcall"):
        if "fleetql" in summary and anchor in summary:
            ours, theirs = summary["fleetql"], summary[anchor]
            ratios[f"fleetql/{anchor}"] = {
                figure: _ratio(ours[figure]["median"], theirs[figure]["median"])
                for figure in ("throughput_per_s", "p50_ms", "p99_ms", "gateway_cpu_ms_per_request")
            }
    return {"by_gateway": summary, "ratios": ratios}


def _ratio(ours: float, theirs: float) -> float | None:
    return round(ours / theirs, 3) if theirs else None


def evaluate_targets(scenarios: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's side-by-side targets that this run measured, each met or missed."""
    targets = []

    def ratio(scenario: str, figure: str, anchor: str = "hive") -> float | None:
        ratios = scenarios.get(scenario, {}).get("ratios", {}).get(f"fleetql/{anchor}")
        return ratios.get(figure) if ratios else None

    def add(target: str, value: float | None, met: Callable[[float], bool], unit: str) -> None:
        if value is not None:
            targets.append({"target": target, "measured": f"{value:.2f}{unit}", "met": met(value)})

    add("S1 throughput >= 1.2x Hive Gateway's", ratio("S1", "throughput_per_s"),
        lambda v: v >= 1.2, "x")  # fmt: skip
    add("S1 gateway CPU per request <= 0.8x Hive's", ratio("S1", "gateway_cpu_ms_per_request"),
        lambda v: v <= 0.8, "x")  # fmt: skip
    s2 = scenarios.get("S2", {}).get("by_gateway", {})
    if "fleetql" in s2 and "hive" in s2:
        per_call = {
            name: s2[name]["gateway_cpu_ms_per_request"]["median"]
            / max(s2[name]["upstream_calls_per_request"]["median"], 1)
            for name in ("fleetql", "hive")
        }
        add("S2 gateway CPU per upstream call <= Hive's",
            _ratio(per_call["fleetql"], per_call["hive"]), lambda v: v <= 1.0, "x")  # fmt: skip
    add("S3 throughput >= Hive Gateway with its response cache", ratio("S3", "throughput_per_s"),
        lambda v: v >= 1.0, "x")  # fmt: skip
    return targets


def run_anchors(options: Options) -> dict[str, Any]:
    """Install the anchors if needed, run every selected scenario and return the results."""
    started = time.monotonic()
    names: tuple[str, ...] = GATEWAYS
    anchors_note = None
    if not node_available():
        names, anchors_note = ("fleetql",), "node/npm not found: FleetQL runs alone"
        print(anchors_note, file=sys.stderr, flush=True)
    elif not anchors_installed():
        if options.install:
            install_anchors()
        else:
            names, anchors_note = ("fleetql",), "anchors not installed: FleetQL runs alone"
            print(anchors_note, file=sys.stderr, flush=True)
    load_before = os.getloadavg()
    emulators = start_emulators({"packet": DEVICES, "dashserv": PRODUCTS}, options.latency_ms)
    driver = LoadDriver()
    scenarios: dict[str, Any] = {}
    try:
        packet, dashserv = emulators
        upstreams = Upstreams(packet, dashserv, packet_organization(packet))
        with tempfile.TemporaryDirectory(prefix="fleetql-anchors-") as workdir:
            launcher = Launcher(upstreams, Path(workdir))
            for scenario in options.scenarios:
                run = run_scenario(scenario, names, launcher, driver, options)
                scenarios[scenario] = {
                    "check": run.check,
                    "phases": run.phases,
                    **(summarise(run, names) if run.check.get("identical") else {}),
                }
    finally:
        driver.stop()
        for emulator in emulators:
            emulator.stop()
    machine = describe_machine()
    if "hive" in names:
        machine["anchors"] = anchor_versions()
    results = {
        "benchmark": "anchors",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_time_s": round(time.monotonic() - started, 1),
        "machine": machine,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "options": asdict(options),
        "gateways": list(names),
        "anchors_note": anchors_note,
        "load_tool": "bench.driver (asyncio httpx, closed loop), the same for every gateway",
        "scenarios": scenarios,
    }
    results["targets"] = evaluate_targets(scenarios)
    return results


# --- reporting --------------------------------------------------------------------------


def render(results: dict[str, Any]) -> str:
    """The Markdown table of docs/performance.md: medians with ranges, and the ratios."""
    names = results["gateways"]
    titles = {"fleetql": "FleetQL", "hive": "Hive Gateway", "tailcall": "Tailcall"}
    header = "| scenario, c={} | figure | {} |".format(
        results["options"]["concurrency"], " | ".join(titles[n] for n in names)
    )
    ratio_names = [f"fleetql/{a}" for a in ("hive", "tailcall") if a in names]
    header += "".join(f" FleetQL / {titles[r.split('/')[1]]} |" for r in ratio_names)
    lines = [header, "|" + "---|" * (2 + len(names) + len(ratio_names))]
    rows = (
        ("throughput_per_s", "req/s", "{:,.0f}"),
        ("p50_ms", "p50 ms", "{:,.1f}"),
        ("p99_ms", "p99 ms", "{:,.1f}"),
        ("gateway_cpu_ms_per_request", "CPU ms / request", "{:,.2f}"),
        ("upstream_calls_per_request", "upstream calls / request", "{:,.2f}"),
    )
    for scenario, outcome in results["scenarios"].items():
        if not outcome["check"].get("identical"):
            lines.append(f"| {scenario} | refused: the data differ | " + " | " * len(names))
            continue
        for figure, label, form in rows:
            cells = []
            for name in names:
                value = outcome["by_gateway"][name][figure]
                cell = form.format(value["median"])
                if value["min"] != value["max"]:
                    cell += f" ({form.format(value['min'])}–{form.format(value['max'])})"
                cells.append(cell)
            ratios = [
                f"{outcome['ratios'][r][figure]:.2f}"
                if figure in outcome["ratios"].get(r, {}) and outcome["ratios"][r][figure]
                else ""
                for r in ratio_names
            ]
            lines.append(f"| {scenario} | {label} | " + " | ".join(cells + ratios) + " |")
    if results["targets"]:
        lines += ["", "| target | measured (FleetQL / Hive) | |", "|---|---|---|"]
        for target in results["targets"]:
            verdict = "met" if target["met"] else "missed"
            lines.append(f"| {target['target']} | {target['measured']} | {verdict} |")
    return "\n".join(lines)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _progress(scenario: str, phase: dict[str, Any]) -> None:
    latency = phase["latency_ms"]
    _say(
        f"{scenario} round {phase['round']} {phase['gateway']:8} "
        f"{phase['throughput_per_s']:8.1f}/s "
        f"p50={latency['p50']:7.1f} p99={latency['p99']:7.1f} ms "
        f"cpu={phase['gateway_cpu_ms_per_request']:.2f} ms "
        f"calls={phase['upstream_calls_per_request']:.1f} fail={phase['failures']}"
    )


def main(argv: list[str] | None = None) -> int:
    """Parse options, run, write ``bench/results/anchors-<date>.json``, print the table."""
    defaults = Options()
    parser = argparse.ArgumentParser(prog="python -m bench.anchors", description=__doc__)
    parser.add_argument("--duration", type=float, default=defaults.duration)
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument("--latency-ms", type=float, default=defaults.latency_ms)
    parser.add_argument("--warmup", type=float, default=defaults.warmup)
    parser.add_argument("--scenarios", default=",".join(defaults.scenarios))
    parser.add_argument("--no-install", action="store_true", help="never run npm ci")
    parser.add_argument("--output", type=Path, help="results file (default: bench/results/)")
    parser.add_argument("--note", help="recorded in the results, e.g. what differs in this run")
    args = parser.parse_args(argv)
    options = Options(
        duration=args.duration,
        rounds=args.rounds,
        concurrency=args.concurrency,
        latency_ms=args.latency_ms,
        warmup=args.warmup,
        scenarios=tuple(args.scenarios.split(",")),
        install=not args.no_install,
    )
    results = run_anchors(options)
    if args.note:
        results["note"] = args.note
    output = write_results(results, "anchors", args.output)
    print(render(results))
    _say(f"\nresults: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
