"""GraphiQL in a real browser: Debian's headless Chromium, driven by Playwright, offline.

The demo's gateway (every emulator, one provider of each kind, the demo token) serves the page;
every request the browser makes to another host is aborted, as on a machine without internet,
and recorded. The module's fixture loads ``/graphql``, runs the example query with Ctrl+Enter,
reloads the page and picks that run from GraphiQL's history, and keeps what the page did;
each test checks one part of it. A second page, on a gateway over a DataPacket emulator that
polls often, runs a subscription, and shows the server a power action sent over HTTP changed.
The screenshots are written to ``test-artifacts/graphiql.png`` and
``test-artifacts/graphiql-subscription.png`` under the repository root (git-ignored, for CI
to keep).

Without ``/usr/bin/chromium`` or the ``playwright`` package the tests are skipped, unless
``FLEETQL_REQUIRE_BROWSER=1`` (set by ``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from emulators.datapacket import app as datapacket_emulator
from emulators.kit.server import EmulatorServer
from gateway.app import create_app
from gateway.cli import connection_options
from gateway.demo import DEMO_FULL_ACCESS, start_demo_backends
from gateway.graphiql import DATAPACKET_EXAMPLE_QUERY, EXAMPLE_QUERY
from gateway.settings import settings_from_dict
from tests.conftest import FULL, READ, TOKENS, datapacket_config

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


def offline(gateway: str):
    """A route handler letting requests to ``gateway`` through and aborting every other."""
    gateway_host = urlsplit(gateway).netloc

    def route_request(route) -> None:
        if urlsplit(route.request.url).netloc == gateway_host:
            route.continue_()
        else:
            route.abort("internetdisconnected")

    return route_request


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


@contextmanager
def browser_context(chromium: Path, gateway: str) -> Iterator[Any]:
    """A headless Chromium context that can reach ``gateway`` and nothing else."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.route("**/*", offline(gateway))
            yield context
        finally:
            browser.close()


def record_trouble(page: Any, failed: list[str], errors: list[str]) -> None:
    """Append to ``failed`` each request of ``page`` that fails, to ``errors`` each console
    error and uncaught exception."""
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else 0
    )
    page.on("pageerror", lambda error: errors.append(str(error)))


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
    run = BrowserRun(gateway=demo_gateway)

    with browser_context(chromium, demo_gateway) as context:
        page = context.new_page()
        page.on("request", lambda request: run.requests.append(request.url))
        record_trouble(page, run.failed, run.errors)
        response = page.goto(f"{demo_gateway}/graphql", wait_until="networkidle")
        assert response is not None and response.status == 200
        # A page that needs another host stays blank: say why rather than time out.
        assert run.failed == [], f"requests that failed (offline): {run.failed}"
        query_editor = page.locator(".graphiql-query-editor .CodeMirror")
        query_editor.wait_for(state="visible", timeout=30_000)
        run.editors = page.evaluate(EDITOR_VALUES)
        query_editor.click()
        page.keyboard.press("Control+Enter")
        page.locator(".result-window").get_by_text('"entriesTotalCount"').wait_for(timeout=30_000)
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
    assert {
        "/graphql",
        "/graphiql/static/graphiql-3.9.0.min.js",
        "/graphiql/static/graphql-ws-6.4.2.min.js",
        "/graphiql/static/boot.js",
    } <= paths


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


SUBSCRIPTION = "subscription { serverStatusChanged { name powerStatus } }"
POWER_OFF = (
    'mutation { performServerPowerAction(input: {server: {name: "DP-12345"}, action: OFF})'
    " { server { name } } }"
)
SUBSCRIPTION_SCREENSHOT = ROOT / "test-artifacts" / "graphiql-subscription.png"


@dataclass
class SubscriptionRun:
    """What the page did while GraphiQL ran ``SUBSCRIPTION`` and a power action was sent."""

    gateway: str
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    query: str = ""
    #: The URLs of the WebSockets the page opened, and the frames it sent on them.
    sockets: list[str] = field(default_factory=list)
    frames: list[dict] = field(default_factory=list)
    result: dict = field(default_factory=dict)


@pytest.fixture(scope="module")
def live_gateway() -> Iterator[EmulatorServer]:
    """A gateway over a DataPacket emulator, polled often, GraphiQL holding a read-only token."""
    upstream = EmulatorServer(
        datapacket_emulator.create_app(size=10, seed=1, power_delay=0.05)
    ).start()
    settings = settings_from_dict(
        {
            "providers": [datapacket_config(upstream)],
            "tokens": TOKENS,
            # Without the read cache a poll sees the emulator's status as soon as it changes.
            "cache": {"enabled": False},
            "subscriptions": {"poll_seconds": 0.2, "action_poll_seconds": 0.05},
        },
        source="<graphiql subscription test>",
    )
    app = create_app(settings, demo_token=READ)
    server = EmulatorServer(app, **connection_options(settings)).start()
    yield server
    server.stop()
    upstream.stop()


def _wait(page, condition, what: str) -> None:
    """Check ``condition()`` every 100 ms, for at most 30 seconds (then fail naming ``what``)."""
    for _ in range(300):
        if condition():
            return
        page.wait_for_timeout(100)
    pytest.fail(f"waited 30 s for {what}")


@pytest.fixture(scope="module")
def subscription_run(chromium: Path, live_gateway: EmulatorServer) -> SubscriptionRun:
    """Run ``SUBSCRIPTION`` in GraphiQL, power a server off over HTTP, keep what the page shows."""
    run = SubscriptionRun(gateway=live_gateway.url)
    feed = live_gateway.app.state.gateway.status_feed

    def result() -> str:
        return page.evaluate(RESULT_VALUE)

    def opened(socket) -> None:
        run.sockets.append(socket.url)
        socket.on("framesent", lambda payload: run.frames.append(json.loads(payload)))

    with browser_context(chromium, run.gateway) as context:
        page = context.new_page()
        record_trouble(page, run.failed, run.errors)
        page.on("websocket", opened)
        page.goto(f"{run.gateway}/graphql?{urlencode({'q': SUBSCRIPTION})}")
        query_editor = page.locator(".graphiql-query-editor .CodeMirror")
        query_editor.wait_for(state="visible", timeout=30_000)
        run.query = page.evaluate(EDITOR_VALUES)[0]
        query_editor.click()
        page.keyboard.press("Control+Enter")
        # The poller's first poll only records the statuses; a change after it is sent.
        # An error in the result pane ends the wait too, to be reported by the tests.
        _wait(
            page,
            lambda: result() or ("dp" in feed.pollers and feed.pollers["dp"].polls >= 1),
            "the subscription's first poll",
        )
        if not result():
            response = httpx.post(
                f"{run.gateway}/graphql",
                json={"query": POWER_OFF},
                headers={"Authorization": f"Bearer {FULL}"},
            )
            assert "errors" not in response.json(), response.text
            _wait(page, result, "the changed server in the result pane")
        run.result = json.loads(result())
        SUBSCRIPTION_SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SUBSCRIPTION_SCREENSHOT))
    return run


def test_graphiql_shows_the_server_a_power_action_changed_as_the_subscription_sends_it(
    subscription_run,
):
    assert subscription_run.query == SUBSCRIPTION
    assert subscription_run.result == {
        "data": {"serverStatusChanged": {"name": "DP-12345", "powerStatus": "OFF"}}
    }


def test_the_subscription_goes_over_a_websocket_to_the_gateway_with_the_pages_token(
    subscription_run,
):
    host = urlsplit(subscription_run.gateway).netloc
    assert subscription_run.sockets == [f"ws://{host}/graphql"]
    init, subscribe = subscription_run.frames[:2]
    assert init == {"type": "connection_init", "payload": {"Authorization": f"Bearer {READ}"}}
    assert subscribe["type"] == "subscribe"
    assert subscribe["payload"]["query"] == SUBSCRIPTION


def test_the_subscription_page_needed_no_other_host_and_logged_no_error(subscription_run):
    assert subscription_run.failed == []
    assert subscription_run.errors == []


V0_STORAGE = "/v0/graphql "


@dataclass
class TwoPagesRun:
    """GraphiQL at /graphql, then at /v0/graphql in the same browser: what the second did."""

    gateway: str
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    editors: list[str] = field(default_factory=list)
    result: dict = field(default_factory=dict)
    local_storage: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def v0_run(chromium: Path, demo_gateway: str) -> TwoPagesRun:
    """Run each page's example with Ctrl+Enter, /graphql's first, in one browser context."""
    run = TwoPagesRun(gateway=demo_gateway)
    with browser_context(chromium, demo_gateway) as context:
        page = context.new_page()
        for path in ("/graphql", "/v0/graphql"):
            if path == "/v0/graphql":  # record the second page only
                record_trouble(page, run.failed, run.errors)
            response = page.goto(f"{demo_gateway}{path}", wait_until="networkidle")
            assert response is not None and response.status == 200
            editor = page.locator(".graphiql-query-editor .CodeMirror")
            editor.wait_for(state="visible", timeout=30_000)
            run.editors = page.evaluate(EDITOR_VALUES)
            editor.click()
            page.keyboard.press("Control+Enter")
            page.locator(".result-window").get_by_text('"entriesTotalCount"').wait_for(
                timeout=30_000
            )
            run.result = json.loads(page.evaluate(RESULT_VALUE))
            stored = f"localStorage.getItem({json.dumps(V0_STORAGE + 'graphiql:queries')})"
            for _ in range(300):
                if path == "/graphql" and page.evaluate(STORED):
                    break
                if path == "/v0/graphql" and page.evaluate(stored):
                    break
                page.wait_for_timeout(100)
        run.local_storage = page.evaluate(LOCAL_STORAGE)
    return run


def test_graphiql_at_v0_graphql_opens_and_runs_datapackets_example(v0_run):
    query, _variables, headers = v0_run.editors
    assert query == DATAPACKET_EXAMPLE_QUERY  # not the tab /graphql's page left in storage
    assert json.loads(headers) == {"Authorization": f"Bearer {DEMO_FULL_ACCESS}"}
    assert "errors" not in v0_run.result
    names = [server["name"] for server in v0_run.result["data"]["servers"]["entries"]]
    assert names and all(name.startswith("DP-") for name in names)
    assert v0_run.errors == [] and v0_run.failed == []


def test_each_graphiql_page_keeps_its_own_tabs_and_history(v0_run):
    keys = set(v0_run.local_storage)
    assert {"graphiql:queries", V0_STORAGE + "graphiql:queries"} <= keys
    v0_history = v0_run.local_storage[V0_STORAGE + "graphiql:queries"]
    assert "ServersInLondonOrAmsterdam" in v0_history and "provider" not in v0_history
    assert "providers" in v0_run.local_storage["graphiql:queries"]
