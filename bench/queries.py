"""The query mix Q1..Q5 and the documents of the naive baseline.

Q1 and Q2 select the same server fields (location, hardware, network, tags), so the naive
baseline, which fetches Q1's page one ``server(input: {name})`` at a time, returns the same data.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

SERVER_FIELDS = (
    "name alias hostname provider { id kind } "
    "location { name region short } "
    "hardware { cpus { count name } hdds { count storage { size type } } rams { count size } } "
    "network { ipAddresses { ip cidr netMask gateway type isPrimary } ipmi { ip username } "
    "uplinkCapacity } "
    "tags { key value }"
)

Q1 = f"query Q1 {{ servers(input: {{pageSize: 50}}) {{ entriesTotalCount entries {{ {SERVER_FIELDS} }} }} }}"  # noqa: E501
Q2 = f"query Q2($name: String!) {{ server(input: {{name: $name}}) {{ {SERVER_FIELDS} }} }}"
Q3 = "query Q3 { servers(input: {pageSize: 50}) { entriesTotalCount entries { name } } }"
Q4 = (
    "query Q4 { invoices(input: {pageSize: 50}) { entriesTotalCount entries { "
    "invoiceNumber createdAt dueDate currency subtotal total totalVat } } }"
)
Q5 = (
    "query Q5($input: TrafficInput!) { traffic(input: $input) { aggregated { "
    "statisticsIn { sum average maximum last p95 } "
    "statisticsOut { sum average maximum last p95 } } } }"
)

DESCRIPTIONS = {
    "Q1": "servers: page of 50 across all providers, with location, hardware, network, tags",
    "Q2": "server by name (cycling over names of every provider)",
    "Q3": "servers: page of 50, names only",
    "Q4": "invoices: page of 50",
    "Q5": "traffic: in/out aggregate over the last day of the servers in Amsterdam",
}

#: Servers looked up by Q2, per provider: lookups cost differently per backend, so Q2 cycles
#: over a few names of each.
NAMES_PER_PROVIDER = 4


#: Q5's servers. Mammoth and dashserv report traffic per server, so an aggregate costs one
#: call per server (about 290 for the default fleets); one city keeps it near 30.
TRAFFIC_LOCATION = "Amsterdam"


def traffic_window(now: datetime | None = None) -> dict[str, Any]:
    """Q5's input: one day ending an hour ago on a 5-minute boundary, fixed for a whole run
    (so the cache can serve it), over the servers in ``TRAFFIC_LOCATION``."""
    end = (now or datetime.now(UTC)).replace(second=0, microsecond=0) - timedelta(hours=1)
    end -= timedelta(minutes=end.minute % 5)
    return {
        "from": (end - timedelta(days=1)).isoformat(),
        "to": end.isoformat(),
        "filter": {"location_in": [TRAFFIC_LOCATION]},
    }


def query_bodies(names: list[str], window: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per query, the request bodies the driver cycles through (Q2: one per name)."""
    return {
        "Q1": [{"query": Q1}],
        "Q2": [{"query": Q2, "variables": {"name": name}} for name in names],
        "Q3": [{"query": Q3}],
        "Q4": [{"query": Q4}],
        "Q5": [{"query": Q5, "variables": {"input": window}}],
    }


def naive_bodies(page_names: list[str]) -> list[dict[str, Any]]:
    """Baseline (b): Q1's page fetched as one ``server(input: {name})`` request per server."""
    return [{"query": Q2, "variables": {"name": name}} for name in page_names]


def aliased_lookups(page_names: list[str]) -> dict[str, Any]:
    """Q1's page as aliased ``server(input: {name})`` lookups in one document (loaders batch)."""
    fields = " ".join(
        f's{i}: server(input: {{name: "{name}"}}) {{ {SERVER_FIELDS} }}'
        for i, name in enumerate(page_names)
    )
    return {"query": f"query Aliased {{ {fields} }}"}
