"""Test doubles of the upstream APIs FleetQL serves: one emulator per backend kind.

``emulators/kit/`` is the shared machinery (app factory, fault injection, request log, control
API under ``/_emulator/``, ``EmulatorServer``); ``emulators/<kind>/`` holds one backend's app
(``app.py``, ``create_app``) and its seeded fleet (``fleet.py``). The tests, the embedded demo
(``fleetql serve`` without a configuration, ``fleetql emulate``) and the benchmarks talk to them
over real HTTP. An emulator speaks its upstream's API, so nothing here imports FleetQL's
packages, and of FleetQL only ``gateway/demo.py`` and ``gateway/cli.py`` import it.
"""
