#!/bin/sh
# Stops `make` before it creates anything when the Python it was given is missing or older
# than 3.11, with one line naming what was found and how to choose another.
#
#   sh scripts/require-python.sh PYTHON [GOAL]      # e.g. python3 run
#
# The check runs under that interpreter itself, so it is written for any Python version.
python=$1
goal=${2:-run}
fix="install Python 3.11 or newer and run \`make $goal PYTHON=python3.12\` (or python3.11)"
if ! command -v "$python" >/dev/null 2>&1; then
    echo "make: FleetQL needs Python 3.11 or newer, and '$python' was not found: $fix" >&2
    exit 1
fi
version=$("$python" -c 'import sys; v = sys.version_info; print("%d.%d.%d" % tuple(v[:3])); sys.exit(tuple(v[:2]) < (3, 11))' 2>/dev/null)
status=$?
if [ -z "$version" ]; then
    echo "make: FleetQL needs Python 3.11 or newer, and '$python' did not run: $fix" >&2
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "make: FleetQL needs Python 3.11 or newer, and '$python' is Python $version: $fix" >&2
    exit 1
fi
