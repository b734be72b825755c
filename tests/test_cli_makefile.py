"""``make run`` on a fresh clone: the interpreter is checked first, and a failed install leaves
no ``.venv`` that a later run would trust.

Each test runs ``make`` in a temporary copy of the Makefile with a stand-in ``PYTHON``: a script
that answers the version check as the Python it pretends to be and "creates" a venv whose
``pip`` succeeds or fails. Nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FAKE_PYTHON = """#!{python}
# Stands in for Python {version}: runs `-c` code with that sys.version_info; `-m venv DIR`
# makes DIR/bin/pip, which exits with status {pip_status}.
import os, sys

if sys.argv[1] == "-c":
    sys.version_info = {version_info!r}
    exec(sys.argv[2])
elif sys.argv[1:3] == ["-m", "venv"]:
    os.makedirs(os.path.join(sys.argv[3], "bin"), exist_ok=True)
    pip = os.path.join(sys.argv[3], "bin", "pip")
    with open(pip, "w") as script:
        script.write("#!/bin/sh\\nexit {pip_status}\\n")
    os.chmod(pip, 0o755)
else:
    sys.exit("unexpected arguments: %r" % sys.argv[1:])
"""


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """The files ``make`` needs to build the venv, copied to a fresh directory."""
    for name in ("Makefile", "pyproject.toml", "constraints.txt", "scripts/require-python.sh"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def fake_python(directory: Path, version: tuple[int, int, int], pip_status: int = 0) -> Path:
    """A stand-in interpreter reporting ``version``; its venvs' pip exits with ``pip_status``."""
    path = directory / f"python{version[0]}.{version[1]}"
    path.write_text(
        FAKE_PYTHON.format(
            python=sys.executable,
            version=".".join(map(str, version)),
            version_info=(*version, "final", 0),
            pip_status=pip_status,
        )
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def make(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=60,
        # Not a sub-make of `make test`: its flags and level would change what make prints.
        env={k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")},
    )


def test_an_old_python_stops_make_run_before_anything_is_created(clone, tmp_path_factory):
    python = fake_python(tmp_path_factory.mktemp("bin"), (3, 10, 12))
    result = make(clone, "run", f"PYTHON={python}")
    assert result.returncode != 0
    [message] = [line for line in result.stderr.splitlines() if "***" not in line]
    assert f"'{python}' is Python 3.10.12" in message
    assert "`make run PYTHON=python3.12`" in message
    assert not (clone / ".venv").exists()


def test_a_missing_python_is_named(clone):
    result = make(clone, "test", "PYTHON=python3-that-is-not-installed")
    assert result.returncode != 0
    assert "'python3-that-is-not-installed' was not found" in result.stderr
    assert "`make test PYTHON=python3.12`" in result.stderr
    assert not (clone / ".venv").exists()


def test_a_failed_install_removes_the_venv(clone, tmp_path_factory):
    python = fake_python(tmp_path_factory.mktemp("bin"), (3, 12, 1), pip_status=1)
    result = make(clone, ".venv/.installed", f"PYTHON={python}")
    assert result.returncode != 0
    assert not (clone / ".venv").exists()


def test_a_venv_without_its_stamp_is_built_again(clone, tmp_path_factory):
    python = fake_python(tmp_path_factory.mktemp("bin"), (3, 12, 1))
    leftover = clone / ".venv" / "bin" / "python"  # what an interrupted install left
    leftover.parent.mkdir(parents=True)
    leftover.write_text("")
    result = make(clone, ".venv/.installed", f"PYTHON={python}")
    assert result.returncode == 0, result.stderr
    assert (clone / ".venv" / ".installed").exists()
    assert not leftover.exists()
    assert make(clone, "-q", ".venv/.installed", f"PYTHON={python}").returncode == 0  # up to date
