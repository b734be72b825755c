"""GraphiQL for browsers at ``GET /graphql``, its assets served by the gateway itself.

``GraphiQLRoute`` answers a browser's ``GET /graphql`` before the GraphQL endpoint sees it.

The page (``page.html``) is FleetQL's own. Its settings (the example query, the demo's
headers) travel in a JSON element that ``boot.js`` reads, so no script is inline and the
Content-Security-Policy allows scripts from the gateway only. React, ReactDOM, GraphiQL, its
explorer plugin and graphql-ws (the WebSocket client of GraphiQL's fetcher for subscriptions)
are the npm packages' production builds, vendored in ``static/`` by
``python -m gateway.graphiql.vendor`` with ``static/manifest.json``; each ``<script>`` and
``<link>`` carries the manifest's SHA-384 as its ``integrity``. With ``server.graphiql_cdn``
the same files, hence the same digests, come from unpkg instead.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path
from string import Template

from starlette.datastructures import Headers, QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

__all__ = [
    "DATAPACKET_PAGE",
    "FLEETQL_PAGE",
    "Page",
    "CDN",
    "EXAMPLE_QUERY",
    "GraphiQLRoute",
    "MANIFEST",
    "STATIC",
    "STATIC_PATH",
    "content_security_policy",
    "graphiql_page",
    "graphiql_response",
    "graphiql_static",
    "sri",
    "static_assets",
]

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

#: The example of the page at ``/v0/graphql``: DataPacket's own schema there, so no
#: ``provider`` field and no ``providers`` query.
DATAPACKET_EXAMPLE_QUERY = """# /v0/graphql: DataPacket's schema, over the DataPacket accounts only.
# Press the play button (or Ctrl-Enter) to run. The Authorization header is below.
query ServersInLondonOrAmsterdam {
  servers(input: {pageSize: 20, filter: {location_in: ["London", "Amsterdam"]}}) {
    entriesTotalCount
    entries {
      name
      alias
      location { name region short }
      powerStatus
      statusV2
      network { ipAddresses { ip isPrimary type } ipmi { ip } }
      tags { key value }
    }
  }
}
"""


@dataclass(frozen=True)
class Page:
    """What differs between the GraphiQL pages of two paths.

    ``storage`` prefixes the page's keys in the browser's localStorage, so that each path
    keeps its own tabs and history (``""``: GraphiQL's own keys, the ``/graphql`` page's).
    """

    query: str = EXAMPLE_QUERY
    storage: str = ""


#: ``/graphql``'s page, and ``/v0/graphql``'s.
FLEETQL_PAGE = Page()
DATAPACKET_PAGE = Page(DATAPACKET_EXAMPLE_QUERY, storage="/v0/graphql ")

#: Where the assets are served: ``/graphiql/static/<file>?v=<digest>``.
STATIC_PATH = "/graphiql/static"
#: Serves any file of any npm package version, as published (``server.graphiql_cdn``).
CDN = "https://unpkg.com"
HERE = Path(__file__).parent
#: The vendored files (vendor.py writes them), and the manifest listing them.
STATIC = HERE / "static"
MANIFEST = "manifest.json"
BOOT = "boot.js"
_MEDIA_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".txt": "text/plain",
    ".json": "application/json",
}
_IMMUTABLE = "public, max-age=31536000, immutable"


def sri(content: bytes) -> str:
    """The Subresource Integrity value of ``content``: ``sha384-<base64 digest>``."""
    return "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode()


@dataclass(frozen=True)
class StaticAsset:
    """A file under ``STATIC_PATH``, its media type and the ``v`` its URLs carry."""

    content: bytes
    media_type: str
    version: str

    @property
    def integrity(self) -> str:
        return sri(self.content)


@cache
def static_assets() -> dict[str, StaticAsset]:
    """Every servable file by name: the vendored ones, their licences and manifest, boot.js."""
    paths = [path for path in STATIC.iterdir() if path.is_file()] + [HERE / BOOT]
    return {
        path.name: StaticAsset(
            content=(content := path.read_bytes()),
            media_type=_MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
            version=hashlib.sha256(content).hexdigest()[:16],
        )
        for path in paths
    }


def _url(name: str) -> str:
    return f"{STATIC_PATH}/{name}?v={static_assets()[name].version}"


def _tags(cdn: bool) -> tuple[list[str], list[str]]:
    """The page's ``<link>`` and ``<script>`` tags, in the manifest's order, boot.js last."""
    manifest = json.loads((STATIC / MANIFEST).read_text(encoding="utf-8"))
    styles, scripts = [], []
    for asset in manifest["assets"]:
        if cdn:
            url = f"{CDN}/{asset['package']}@{asset['version']}/{asset['source']}"
        else:
            url = _url(asset["file"])
        checked = f'integrity="{escape(asset["integrity"])}" crossorigin="anonymous"'
        if asset["file"].endswith(".css"):
            styles.append(f'    <link rel="stylesheet" href="{escape(url)}" {checked} />')
        else:
            scripts.append(f'    <script src="{escape(url)}" {checked}></script>')
    boot = static_assets()[BOOT]
    scripts.append(f'    <script src="{escape(_url(BOOT))}" integrity="{boot.integrity}"></script>')
    return styles, scripts


def _script_json(value: object) -> str:
    """JSON safe inside a ``<script>`` element: no ``</script>``, ``<!--`` or ``&`` survives."""
    text = json.dumps(value)  # ensure_ascii: U+2028/U+2029 come out escaped too
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@cache
def graphiql_page(demo_token: str | None, cdn: bool = False, page: Page = FLEETQL_PAGE) -> str:
    """The GraphiQL page: ``page``'s example query, and the demo token in the headers if any."""
    headers = None
    if demo_token:
        headers = json.dumps({"Authorization": f"Bearer {demo_token}"}, indent=2)
    styles, scripts = _tags(cdn)
    template = Template((HERE / "page.html").read_text(encoding="utf-8"))
    return template.substitute(
        styles="\n".join(styles),
        scripts="\n".join(scripts),
        settings=_script_json({"query": page.query, "headers": headers, "storage": page.storage}),
    )


def content_security_policy(cdn: bool) -> str:
    """Scripts only from the gateway (and unpkg when opted in); fetches only to the gateway."""
    origins = f"'self' {CDN}" if cdn else "'self'"
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {origins}",
            # GraphiQL inserts <style> elements of its own (its dialogs do, for one).
            f"style-src {origins} 'unsafe-inline'",
            # The stylesheet embeds its fonts and icons as data: URLs.
            "font-src 'self' data:",
            "img-src 'self' data:",
            # 'self' matches WebSockets to the same host and port too (ws: and wss:, CSP 3).
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def graphiql_response(
    demo_token: str | None, cdn: bool = False, page: Page = FLEETQL_PAGE
) -> HTMLResponse:
    """The page with its Content-Security-Policy; revalidated, since its asset URLs change."""
    return HTMLResponse(
        graphiql_page(demo_token, cdn, page),
        headers={
            "Content-Security-Policy": content_security_policy(cdn),
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


class GraphiQLRoute(Route):
    """``GET <path>`` from a browser: the GraphiQL page, in place of the GraphQL endpoint.

    Strawberry's views make this choice in ``should_render_graphql_ide`` and answer it with
    ``render_graphql_ide``; here the route makes it, so the endpoint has no branch for it. A
    ``GET`` without a ``query`` (or ``extensions``: a persisted query's hash) parameter whose
    ``Accept`` names ``text/html`` matches; every other request falls through to the
    endpoint's route, registered after this one (``*/*`` alone, as curl sends, is not a
    browser and gets the endpoint's JSON error).
    """

    def __init__(
        self, path: str, demo_token: str | None, cdn: bool, page: Page = FLEETQL_PAGE
    ) -> None:
        async def render_graphql_ide(request: Request) -> Response:
            return graphiql_response(demo_token, cdn, page)

        super().__init__(path, render_graphql_ide, methods=["GET"], include_in_schema=False)
        self.methods = {"GET"}  # Route adds HEAD; the endpoint's route answers HEAD with 405

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        params = QueryParams(scope["query_string"])
        if match is not Match.FULL or "query" in params or "extensions" in params:
            return Match.NONE, {}
        if "text/html" not in Headers(scope=scope).get("accept", ""):
            return Match.NONE, {}
        return match, child_scope


async def graphiql_static(request: Request) -> Response:
    """``GET /graphiql/static/<file>``: cached for good when ``?v=`` names this content."""
    name = request.path_params["name"]
    asset = static_assets().get(name)
    if asset is None:
        raise HTTPException(404, f"No GraphiQL asset named {name!r}.")
    fresh = request.query_params.get("v") == asset.version
    return Response(
        asset.content,
        media_type=asset.media_type,
        headers={
            "Cache-Control": _IMMUTABLE if fresh else "no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )
