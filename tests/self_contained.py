"""Record every file the test run opens beside the repository (which must be none).

The suite's inputs are committed under ``tests/`` (``contracts/``, ``fixtures/``); a test that
opened a file in a directory next to the checkout would pass on one machine and fail on a fresh
clone. ``install()`` adds a ``sys.audit`` hook that notes each ``open`` of a path inside the
repository's parent directory but outside the repository; ``tests/conftest.py`` fails the run
when any was noted.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARENT = ROOT.parent

#: Paths opened beside the repository, in the order they were opened.
opened_beside: list[str] = []


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def _allowed_roots() -> tuple[str, ...]:
    """The repository, plus the temp, interpreter and home directories that lie under PARENT."""
    candidates = (tempfile.gettempdir(), sys.prefix, sys.base_prefix, str(Path.home()))
    real = (os.path.realpath(path) for path in candidates)
    return (str(ROOT), *(path for path in real if _under(path, str(PARENT))))


def is_beside(path: str) -> bool:
    """``path`` (absolute) is under the repository's parent, outside the repository and the
    temp, interpreter and home directories."""
    if not path.startswith(str(PARENT) + os.sep):
        return False
    return not any(_under(path, root) for root in _ALLOWED)


def _note_open(event: str, args: tuple) -> None:
    if event != "open" or not isinstance(args[0], str | bytes | os.PathLike):
        return
    path = os.path.abspath(os.fsdecode(os.fspath(args[0])))
    if is_beside(path):
        opened_beside.append(path)


_ALLOWED: tuple[str, ...] = ()
#: Whether the hook is recording (it is not for a checkout at the filesystem root).
active = False


def install() -> None:
    """Start recording (once per process; audit hooks cannot be removed)."""
    global _ALLOWED, active
    # With the checkout at the filesystem root, everything is "beside" it: nothing to guard.
    if active or PARENT == PARENT.parent:
        return
    _ALLOWED = _allowed_roots()
    sys.addaudithook(_note_open)
    active = True
