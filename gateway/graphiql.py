"""The GraphiQL page served to browsers at ``/graphql``, opened on a useful example."""

from __future__ import annotations

import json
from functools import cache

from strawberry.http.ides import get_graphql_ide_html

__all__ = ["EXAMPLE_QUERY", "graphiql_page"]

EXAMPLE_QUERY = """# FleetQL: one DataPacket-compatible API over all your bare-metal providers.
# Press the play button (or Ctrl-Enter) to run. The Authorization header is below.
query ServersInLondonOrAmsterdam {
  servers(input: {pageSize: 20, filter: {location_in: ["London", "Amsterdam"]}}) {
    entriesTotalCount
    entries {
      name
      alias
      provider { id kind }
      location { name region short }
      powerStatus
      statusV2
      network { ipAddresses { ip isPrimary type } ipmi { ip } }
      tags { key value }
    }
  }
  providers { id kind reachable }
}
"""


@cache
def graphiql_page(demo_token: str | None) -> str:
    """Strawberry's GraphiQL page with FleetQL's example query (and demo token, if any)."""
    html = get_graphql_ide_html(graphql_ide="graphiql")
    start = html.index("const EXAMPLE_QUERY = `")
    end = html.index("`;", start) + 2
    html = html[:start] + f"const EXAMPLE_QUERY = {json.dumps(EXAMPLE_QUERY)};" + html[end:]
    html = html.replace("<title>Strawberry GraphiQL</title>", "<title>FleetQL GraphiQL</title>")
    if demo_token:
        headers = json.dumps(json.dumps({"Authorization": f"Bearer {demo_token}"}, indent=2))
        html = html.replace(
            "React.useState(parameters.headers)", f"React.useState(parameters.headers || {headers})"
        )
    return html
