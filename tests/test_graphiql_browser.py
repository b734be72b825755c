"""GraphiQL in a real browser: Debian's headless Chromium, driven by Playwright, offline.

The demo's gateway (every emulator, one provider of each kind, the demo token) serves the page;
every request the browser makes to another host is aborted, as on a machine without internet,
and recorded. The module's fixture loads ``/graphql``, runs the example query with Ctrl+Enter,
reloads the page and picks that run from GraphiQL's history, and keeps what the page did;
each test checks one part of it. The screenshot is written to
``test-artifacts/graphiql.png`` under the repository root (git-ignored, for CI to keep).

Without ``/usr/bin/chromium`` or the ``playwright`` package the tests are skipped, unless
``FLEETQL_REQUIRE_BROWSER=1`` (set by ``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from emulators.kit.server import EmulatorServer
from gateway.app import create_app
from gateway.cli import connection_options
from gateway.demo import DEMO_FULL_ACCESS, start_demo_backends
from gateway.graphiql import EXAMPLE_QUERY

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "test-artifacts" / "graphiql.png"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# CodeMirror keeps each editor's text on its element; the result pane is one of them.
EDITOR_VALUES = """Array.from(document.querySelectorAll('.graphiql-editor .CodeMirror'))
    .map(element => element.CodeMirror.getValue())"""
RESULT_VALUE = "document.querySelector('.result-window .CodeMirror').CodeMirror.getValue()"
LOCAL_STORAGE = "Object.fromEntries(Object.entries(window.localStorage))"
# The history after a run, and the tabs (written 500 ms after a change): where headers could go.
STORED = "['graphiql:queries', 'graphiql:tabState'].every(key => localStorage.getItem(key))"


def _missing() -> str | None:
    """Why the browser cannot run here, or None."""
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is absent (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is absent (pip install -e '.[test]')"
    return None


@dataclass
class BrowserRun:
    """What the page did while GraphiQL loaded and ran the example query."""

    gateway: str
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    editors: list[str] = field(default_factory=list)
    result: dict = field(default_factory=dict)
    local_storage: dict[str, str] = field(default_factory=dict)
    #: The editors after reloading the page and picking the run from the history.
    from_history: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def demo_gateway() -> Iterator[str]:
    """The demo's backends and a gateway over them, as ``make run`` starts them; its URL."""
    backends = start_demo_backends(size=40)
    app = create_app(backends.settings, demo_token=DEMO_FULL_ACCESS)
    server = EmulatorServer(app, **connection_options(backends.settings)).start()
    yield server.url
    server.stop()
    backends.stop()


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's Chromium, once Playwright is known to be there too; else a skip or a failure."""
    missing = _missing()
    if missing:
        if os.environ.get("FLEETQL_REQUIRE_BROWSER") == "1":
            pytest.fail(f"FLEETQL_REQUIRE_BROWSER=1, but {missing}")
        pytest.skip(missing)
    return CHROMIUM


@pytest.fixture(scope="module")
def run(chromium: Path, demo_gateway: str) -> BrowserRun:
    """Load GraphiQL in Chromium, press Ctrl+Enter in the query editor, record everything."""
    from playwright.sync_api import sync_playwright

    run = BrowserRun(gateway=demo_gateway)
    gateway_host = urlsplit(demo_gateway).netloc

    def offline(route) -> None:
        if urlsplit(route.request.url).netloc == gateway_host:
            route.continue_()
        else:
            route.abort("internetdisconnected")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.route("**/*", offline)
            page = context.new_page()
            page.on("request", lambda request: run.requests.append(request.url))
            page.on("requestfailed", lambda request: run.failed.append(request.url))
            page.on(
                "console",
                lambda message: run.errors.append(message.text) if message.type == "error" else 0,
            )
            page.on("pageerror", lambda error: run.errors.append(str(error)))
            response = page.goto(f"{demo_gateway}/graphql", wait_until="networkidle")
            assert response is not None and response.status == 200
            # A page that needs another host stays blank: say why rather than time out.
            assert run.failed == [], f"requests that failed (offline): {run.failed}"
            query_editor = page.locator(".graphiql-query-editor .CodeMirror")
            query_editor.wait_for(state="visible", timeout=30_000)
            run.editors = page.evaluate(EDITOR_VALUES)
            query_editor.click()
            page.keyboard.press("Control+Enter")
            page.locator(".result-window").get_by_text('"entriesTotalCount"').wait_for(
                timeout=30_000
            )
            run.result = json.loads(page.evaluate(RESULT_VALUE))
            # Polled from here: wait_for_function evaluates strings, which the page's CSP refuses.
            for _ in range(300):
                if page.evaluate(STORED):
                    break
                page.wait_for_timeout(100)
            run.local_storage = page.evaluate(LOCAL_STORAGE)
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
            print(f"GraphiQL screenshot: {SCREENSHOT}")
            page.reload(wait_until="networkidle")
            page.get_by_role("button", name="Show History").click()
            page.locator(".graphiql-history-item-label").first.click()
            run.from_history = page.evaluate(EDITOR_VALUES)
        finally:
            browser.close()
    return run


def test_graphiql_opens_on_the_example_query_with_the_demo_token(run):
    query, _variables, headers = run.editors
    assert query == EXAMPLE_QUERY
    assert json.loads(headers) == {"Authorization": f"Bearer {DEMO_FULL_ACCESS}"}


def test_ctrl_enter_runs_the_example_query(run):
    expected = httpx.post(
        f"{run.gateway}/graphql",
        json={"query": EXAMPLE_QUERY},
        headers={"Authorization": f"Bearer {DEMO_FULL_ACCESS}"},
    ).json()
    assert "errors" not in run.result
    servers = run.result["data"]["servers"]
    assert servers["entriesTotalCount"] == expected["data"]["servers"]["entriesTotalCount"]
    names = [server["name"] for server in servers["entries"]]
    assert names == [server["name"] for server in expected["data"]["servers"]["entries"]]
    assert len({server["provider"]["kind"] for server in servers["entries"]}) >= 2


def test_the_browser_asked_the_gateway_only(run):
    hosts = {urlsplit(url).netloc for url in run.requests if not url.startswith("data:")}
    assert hosts == {urlsplit(run.gateway).netloc}
    assert run.failed == []
    paths = {urlsplit(url).path for url in run.requests}
    assert {"/graphql", "/graphiql/static/graphiql-3.9.0.min.js", "/graphiql/static/boot.js"} <= (
        paths
    )


def test_the_console_shows_no_error(run):
    assert run.errors == []


def test_the_authorization_header_is_not_stored_in_the_browser(run):
    # GraphiQL stored its history and tabs, which hold each run's headers...
    assert {"graphiql:queries", "graphiql:tabState"} <= set(run.local_storage)
    # ...but not the headers editor's content (the example query's comment names the header).
    assert "graphiql:headers" not in run.local_storage
    for key, value in run.local_storage.items():
        assert DEMO_FULL_ACCESS not in value, key
        assert '\\"Authorization\\"' not in value and '"Authorization"' not in value, key


def test_a_run_picked_from_the_history_of_an_earlier_visit_gets_the_pages_headers(run):
    query, _variables, headers = run.from_history
    assert query == EXAMPLE_QUERY
    assert json.loads(headers) == {"Authorization": f"Bearer {DEMO_FULL_ACCESS}"}
