"""The import graph: layers that import one way, no cycles, every module importable alone.

Layers, bottom up: ``errors`` (the error vocabulary), ``providers`` (backends and their
transport), ``resolvers``, ``schema`` (the GraphQL types, whose root fields call resolvers),
``gateway`` (HTTP, settings, the app factory). A module imports only its own layer and those
below it; imports under ``if TYPE_CHECKING:`` are annotations and are left out of the cycle
check, not of the layering (nor of the emulators rule).

``emulators`` (the upstreams' test doubles) stands beside the layers, independent both ways:
an emulator speaks its upstream's API, so it imports nothing of the layers, and of the product
only the embedded demo (``gateway.demo``) and the command that starts it (``gateway.cli``)
import an emulator.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["errors", "providers", "resolvers", "schema", "gateway"]
EMULATORS = "emulators"
#: The product modules allowed to import ``emulators``: the demo and the CLI that starts it.
EMULATOR_IMPORTERS = {"gateway.demo", "gateway.cli"}


def modules() -> dict[str, Path]:
    """Every module of the product's packages and of the emulators, by dotted name."""
    found = {}
    for package in [*LAYERS, EMULATORS]:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = modules()


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module imported, at run time) for each import of the file, whatever its depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for statement in block.body
        for node in ast.walk(statement)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) not in guarded) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.append((name if name in MODULES else node.module, id(node) not in guarded))
    return found


def _module_level_imports(path: Path) -> set[str]:
    """Modules imported when the file is imported (top-level statements, not TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in MODULES else node.module)
    return {name for name in found if name in MODULES}


def _with_packages(importer: str, imported: set[str]) -> set[str]:
    """The modules and the packages above them: importing a.b runs a/__init__.py first
    (the importer's own packages excepted: they were imported before it)."""
    packages = {
        ".".join(name.split(".")[:i]) for name in imported for i in range(1, name.count(".") + 1)
    }
    own = {".".join(importer.split(".")[:i]) for i in range(1, importer.count(".") + 2)}
    return imported | ((packages & set(MODULES)) - own)


def _package(module: str) -> str:
    return module.split(".")[0]


def _layer(module: str) -> int:
    return LAYERS.index(_package(module))


def test_every_layer_imports_only_itself_and_those_below():
    upward = [
        f"{module} imports {imported}"
        for module, path in MODULES.items()
        if _package(module) in LAYERS
        for imported, _ in _imports(path)
        if _package(imported) in LAYERS and _layer(imported) > _layer(module)
    ]
    assert upward == []


def test_the_emulators_import_nothing_of_the_product():
    product = [
        f"{module} imports {imported}"
        for module, path in MODULES.items()
        if _package(module) == EMULATORS
        for imported, _ in _imports(path)
        if _package(imported) in LAYERS
    ]
    assert product == []


def test_only_the_demo_and_the_cli_import_the_emulators():
    importers = [
        f"{module} imports {imported}"
        for module, path in MODULES.items()
        if _package(module) in LAYERS and module not in EMULATOR_IMPORTERS
        for imported, _ in _imports(path)
        if _package(imported) == EMULATORS
    ]
    assert importers == []


def test_the_modules_import_each_other_without_cycles():
    graph = {
        module: _with_packages(module, _module_level_imports(path))
        for module, path in MODULES.items()
    }
    state: dict[str, str] = {}
    cycles = []

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                cycles.append(" -> ".join([*trail[trail.index(imported) :], imported]))
            elif imported not in state:
                visit(imported, [*trail, imported])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


@pytest.mark.slow
def test_every_module_imports_alone_in_a_fresh_interpreter():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def imported_alone(module: str) -> tuple[str, str]:
        result = subprocess.run(
            [sys.executable, "-c", f"import {module}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return module, result.stderr.strip().splitlines()[-1] if result.returncode else ""

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        failures = {module: error for module, error in pool.map(imported_alone, MODULES) if error}
    assert failures == {}
