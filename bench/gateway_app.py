"""The app factory uvicorn runs in each gateway worker: settings from ``$FLEETQL_CONFIG``.

uvicorn's ``workers`` need an import string rather than an app object, and ``fleetql
serve`` runs one worker, so the benchmark's ``bench.gateway_server`` serves
``bench.gateway_app:create`` as a factory.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from gateway.app import create_app
from gateway.settings import load_settings


def create() -> FastAPI:
    """A gateway app configured by the TOML file named in ``FLEETQL_CONFIG``."""
    return create_app(load_settings(os.environ["FLEETQL_CONFIG"]), tune_gc=True)
