"""FleetQL's benchmark: emulators, gateway and load driver in separate processes.

Run ``.venv/bin/python -m bench.run`` (see docs/performance.md). ``run`` orchestrates,
``driver`` generates load, ``floor`` replays the gateway's upstream calls without GraphQL,
``processes`` starts and measures the processes, ``queries`` holds the query mix.
"""
