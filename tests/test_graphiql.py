"""The GraphiQL page and its assets over HTTP: served by the gateway, pinned, cacheable, safe."""

from __future__ import annotations

import json
import re
import tomllib
from fnmatch import fnmatch
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gateway.graphiql import (
    DATAPACKET_EXAMPLE_QUERY,
    EXAMPLE_QUERY,
    MANIFEST,
    STATIC,
    graphiql_page,
    sri,
)
from gateway.graphiql.vendor import PACKAGES
from gateway.settings import ConfigError, settings_from_dict
from tests.conftest import TOKENS, GatewayClient, datapacket_config, start_gateway

HTML = {"Accept": "text/html"}
MANIFEST_DATA = json.loads((STATIC / MANIFEST).read_text(encoding="utf-8"))


class PageTags(HTMLParser):
    """The ``<script>`` and ``<link>`` tags of a page, and the text of each script element."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "link"):
            self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if self.lasttag == "script" and data.strip():
            self.script_text.append(data)

    def assets(self) -> list[tuple[str, str]]:
        """(URL, integrity) of every script and stylesheet, in page order."""
        return [
            (attrs.get("src") or attrs["href"], attrs["integrity"])
            for tag, attrs in self.tags
            if attrs.get("src") or attrs.get("rel") == "stylesheet"
        ]


def settings_json(html: str) -> dict:
    """The page's settings element, parsed."""
    match = re.search(r'<script type="application/json" id="[^"]+">(.*?)</script>', html, re.S)
    assert match is not None
    return json.loads(match.group(1))


def page(client: GatewayClient, path: str = "/graphql"):
    response = client.http.get(path, headers=HTML)
    assert response.status_code == 200
    return response


@pytest.fixture(scope="module")
def cdn_gateway(datapacket_upstream):
    server = start_gateway([datapacket_config(datapacket_upstream)], graphiql_cdn=True)
    yield GatewayClient(server)
    server.stop()


def test_the_page_loads_every_asset_from_the_gateway_with_the_manifest_digest(gateway):
    response = page(gateway)
    tags = PageTags(response.text)
    assets = tags.assets()
    vendored = [(a["file"], a["integrity"]) for a in MANIFEST_DATA["assets"]]
    # Stylesheets first (in <head>), then scripts in load order, FleetQL's boot.js last.
    css = [item for item in vendored if item[0].endswith(".css")]
    js = [item for item in vendored if item[0].endswith(".js")]
    names = [(url.split("?")[0].rsplit("/", 1)[-1], integrity) for url, integrity in assets]
    assert names[:-1] == css + js
    assert names[-1][0] == "boot.js"
    assert all(url.startswith("/graphiql/static/") for url, _ in assets)
    assert "<title>FleetQL GraphiQL</title>" in response.text


def test_every_asset_is_served_with_its_type_and_cached_for_good(gateway):
    for url, integrity in PageTags(page(gateway).text).assets():
        response = gateway.http.get(url)
        assert response.status_code == 200, url
        assert sri(response.content) == integrity, url
        expected = "text/css" if url.split("?")[0].endswith(".css") else "text/javascript"
        assert response.headers["content-type"] == f"{expected}; charset=utf-8"
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_an_asset_asked_for_without_its_digest_is_revalidated(gateway):
    url = next(url for url, _ in PageTags(page(gateway).text).assets() if "boot.js" in url)
    for unversioned in (url.split("?")[0], url.split("?")[0] + "?v=0123456789abcdef"):
        response = gateway.http.get(unversioned)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "path",
    [
        "/graphiql/static/nothing.js",
        "/graphiql/static/__init__.py",  # beside static/, not in it
        "/graphiql/static/..%2F__init__.py",
        "/graphiql/static/",
        "/graphiql/static/sub/react-18.3.1.production.min.js",
    ],
)
def test_an_unknown_asset_is_a_json_not_found(gateway, path):
    response = gateway.http.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_the_page_allows_scripts_from_the_gateway_only(gateway):
    response = page(gateway)
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "https:" not in response.headers["content-security-policy"]
    # So no script may be inline: each one has a src, or is the JSON settings element.
    tags = PageTags(response.text)
    scripts = [attrs for tag, attrs in tags.tags if tag == "script"]
    assert all(attrs.get("src") or attrs.get("type") == "application/json" for attrs in scripts)
    assert response.headers["cache-control"] == "no-cache"


def test_the_settings_carry_the_example_query_and_no_headers_outside_the_demo(gateway):
    expected = {"query": EXAMPLE_QUERY, "headers": None, "storage": ""}
    assert settings_json(page(gateway).text) == expected


def test_v0_graphql_has_its_own_page_whose_example_is_valid_in_datapackets_schema(gateway):
    settings = settings_json(page(gateway, "/v0/graphql").text)
    assert settings == {
        "query": DATAPACKET_EXAMPLE_QUERY,
        "headers": None,
        "storage": "/v0/graphql ",  # its own tabs and history in the browser
    }
    v0 = GatewayClient(gateway.server, path="/v0/graphql")
    answer = v0.query(DATAPACKET_EXAMPLE_QUERY)
    assert "errors" not in answer
    entries = answer["data"]["servers"]["entries"]
    assert entries and all(entry["name"].startswith("DP-") for entry in entries)
    # The /graphql page's example selects FleetQL's own fields, which DataPacket's lacks.
    refused = v0.query(EXAMPLE_QUERY, status=400)
    assert {e["extensions"]["code"] for e in refused["errors"]} == {"GRAPHQL_VALIDATION_FAILED"}


def test_the_settings_survive_script_breaking_text():
    token = "</script><script>alert(1)</script><!-- & \u2028"
    html = graphiql_page(token)
    assert "</script><script>alert" not in html
    assert "<!--" not in html
    headers = json.loads(settings_json(html)["headers"])
    assert headers == {"Authorization": f"Bearer {token}"}


def test_the_cdn_opt_in_loads_the_same_files_from_unpkg(cdn_gateway):
    response = page(cdn_gateway)
    assets = PageTags(response.text).assets()
    expected = [
        (f"https://unpkg.com/{a['package']}@{a['version']}/{a['source']}", a["integrity"])
        for a in MANIFEST_DATA["assets"]
    ]
    css = [item for item in expected if item[0].endswith(".css")]
    js = [item for item in expected if item[0].endswith(".js")]
    assert assets[:-1] == css + js
    assert assets[-1][0].startswith("/graphiql/static/boot.js?v=")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self' https://unpkg.com;" in policy
    assert "connect-src 'self';" in policy


def test_no_assets_are_served_when_graphiql_is_off(datapacket_upstream):
    server = start_gateway([datapacket_config(datapacket_upstream)], graphiql=False)
    try:
        client = GatewayClient(server)
        response = client.http.get("/graphiql/static/boot.js")
        assert response.status_code == 404
        assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert "text/html" not in client.http.get("/graphql", headers=HTML).headers["content-type"]
    finally:
        server.stop()


def test_graphiql_cdn_is_off_by_default_and_must_be_a_boolean():
    def settings(**server):
        providers = [{"id": "dp", "kind": "datapacket", "token": "t"}]
        return settings_from_dict({"providers": providers, "tokens": TOKENS, "server": server})

    assert settings().graphiql_cdn is False
    assert settings(graphiql_cdn=True).graphiql_cdn is True
    with pytest.raises(ConfigError, match="server.graphiql_cdn: must be true or false"):
        settings(graphiql_cdn="yes")


def test_the_manifest_lists_exactly_the_vendored_files_with_their_digests():
    assets = MANIFEST_DATA["assets"]
    for asset in assets:
        content = (STATIC / asset["file"]).read_bytes()
        assert sri(content) == asset["integrity"], asset["file"]
        assert len(content) == asset["bytes"], asset["file"]
        assert (STATIC / asset["license_file"]).is_file(), asset["license_file"]
        assert asset["license"] == "MIT"
        # Minified production builds only: no development build; lines of 200+ characters.
        assert "development" not in asset["source"], asset["source"]
        assert content.count(b"\n") * 200 < len(content), asset["file"]
    licences = {package["license_file"] for package in MANIFEST_DATA["packages"]}
    assert {path.name for path in STATIC.iterdir()} == {
        MANIFEST,
        *licences,
        *(asset["file"] for asset in assets),
    }
    pinned = {(package.name, package.version) for package in PACKAGES}
    assert {(p["package"], p["version"]) for p in MANIFEST_DATA["packages"]} == pinned


def test_the_websocket_client_for_subscriptions_is_vendored_with_its_licence(gateway):
    [client] = [a for a in MANIFEST_DATA["assets"] if a["package"] == "graphql-ws"]
    assert client["source"] == "umd/graphql-ws.min.js"  # defines the graphqlWs global boot.js uses
    licence = (STATIC / client["license_file"]).read_text(encoding="utf-8")
    assert licence.startswith("MIT License") and "Denis Badurina" in licence
    scripts = [url.split("?")[0] for url, _ in PageTags(page(gateway).text).assets()]
    assert scripts.index(f"/graphiql/static/{client['file']}") < scripts.index(
        "/graphiql/static/boot.js"
    )


def test_every_file_the_page_needs_is_package_data_of_the_wheel():
    root = Path(__file__).resolve().parent.parent
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["gateway.graphiql"]
    package = root / "gateway" / "graphiql"
    needed = [
        path.relative_to(package).as_posix()
        for path in package.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc")
    ]
    assert "static/graphiql-3.9.0.min.js" in needed
    unpackaged = [path for path in needed if not any(fnmatch(path, p) for p in patterns)]
    assert unpackaged == []
