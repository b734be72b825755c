"""The shared emulator kit: request log, fault injection, control endpoints and EmulatorServer."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from emulators.kit import EmulatorServer, FaultSettings, create_emulator_app, logged_request


async def echo(request: Request) -> JSONResponse:
    entry = logged_request(request.scope)
    if entry is not None:
        entry.operation = request.query_params.get("op")
    return JSONResponse({"method": request.method, "body": (await request.body()).decode()})


def make_app(**kwargs):
    return create_emulator_app([Route("/echo", echo, methods=["GET", "POST", "PUT"])], **kwargs)


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(make_app()) as running:
        yield running


@pytest.fixture(scope="module")
def http(server: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=5) as session:
        yield session


@pytest.fixture
def client(http: httpx.Client) -> httpx.Client:
    """The shared client, with default faults and an empty request log."""
    http.put("/_emulator/faults", json=FaultSettings().to_dict()).raise_for_status()
    http.delete("/_emulator/requests").raise_for_status()
    return http


def logged(client: httpx.Client) -> list[dict]:
    return client.get("/_emulator/requests").json()


# --- request log ------------------------------------------------------------------------------


def test_logs_method_path_query_and_json_body(client: httpx.Client) -> None:
    client.post("/echo?a=1&a=2&b=x", json={"query": "{ x }"})
    [entry] = logged(client)
    assert entry["method"] == "POST"
    assert entry["path"] == "/echo"
    assert entry["query"] == {"a": ["1", "2"], "b": "x"}
    assert entry["body"] == {"query": "{ x }"}
    assert entry["status"] == 200
    assert entry["duration_ms"] >= 0


def test_logs_form_and_text_bodies(client: httpx.Client) -> None:
    client.post("/echo", data={"func": "server", "out": "json"})
    client.put("/echo", content=b"plain words", headers={"content-type": "text/plain"})
    form, text = logged(client)
    assert form["body"] == {"func": "server", "out": "json"}
    assert text["body"] == "plain words"


def test_app_can_name_the_operation(server: EmulatorServer, client: httpx.Client) -> None:
    client.get("/echo?op=servers")
    client.get("/echo?op=servers")
    client.get("/echo?op=account")
    log = server.app.state.emulator.request_log
    assert log.count(operation="servers") == 2
    assert log.count(path="/echo", method="get") == 3
    assert log.count(path="/elsewhere") == 0


def test_credentials_never_reach_the_log(client: httpx.Client) -> None:
    secrets = ["s3cret-bearer", "s3cret-token", "s3cret-cookie", "s3cret-authinfo"]
    client.get(
        "/echo?authinfo=s3cret-authinfo&out=json",
        headers={
            "Authorization": "Bearer s3cret-bearer",
            "X-Auth-Token": "s3cret-token",
            "Cookie": "session=s3cret-cookie",
        },
    )
    raw = client.get("/_emulator/requests").text
    assert not any(secret in raw for secret in secrets)
    [entry] = json.loads(raw)
    assert entry["headers"]["authorization"] == "<redacted>"
    assert entry["query"] == {"authinfo": "<redacted>", "out": "json"}


def test_control_paths_are_not_logged_and_delete_clears(client: httpx.Client) -> None:
    client.get("/echo")
    client.get("/_emulator/faults")
    assert len(logged(client)) == 1
    assert client.delete("/_emulator/requests").status_code == 204
    assert logged(client) == []


# --- fault settings over HTTP -------------------------------------------------------------------


def test_faults_partial_update_and_rejections(client: httpx.Client) -> None:
    assert client.get("/_emulator/faults").json() == FaultSettings().to_dict()
    updated = client.put("/_emulator/faults", json={"latency_ms": 5, "error_status": 502})
    assert updated.json()["latency_ms"] == 5
    assert updated.json()["error_status"] == 502
    assert updated.json()["hang"] is False
    assert client.put("/_emulator/faults", json={"latncy_ms": 5}).status_code == 400
    assert client.put("/_emulator/faults", json={"error_rate": 2}).status_code == 400
    assert client.put("/_emulator/faults", json={"hang": "yes"}).status_code == 400
    assert client.put("/_emulator/faults", content=b"[1]").status_code == 400
    assert client.get("/_emulator/faults").json()["latency_ms"] == 5


def test_error_rate_one_answers_every_request_with_error_status(client: httpx.Client) -> None:
    client.put("/_emulator/faults", json={"error_rate": 1.0, "error_status": 500})
    response = client.get("/echo")
    assert response.status_code == 500
    assert response.json() == {"error": "injected fault"}
    [entry] = logged(client)
    assert entry["fault"] == "error"
    assert entry["status"] == 500


def test_paths_limit_the_faults_to_matching_requests(client: httpx.Client) -> None:
    faults = {"error_rate": 1.0, "error_status": 500, "paths": ["/ec*"]}
    client.put("/_emulator/faults", json=faults)
    assert client.get("/echo").status_code == 500
    assert client.get("/elsewhere").status_code == 404  # the app's own answer: no fault
    assert [entry["fault"] for entry in logged(client)] == ["error", None]
    assert client.put("/_emulator/faults", json={"paths": "/echo"}).status_code == 400


def test_error_rate_is_deterministic_for_a_seed() -> None:
    def statuses() -> list[int]:
        faults = FaultSettings(error_rate=0.5, seed=42)
        with EmulatorServer(make_app(faults=faults)) as running, httpx.Client() as http:
            return [http.get(f"{running.url}/echo").status_code for _ in range(20)]

    first = statuses()
    assert first == statuses()
    assert {200, 503} == set(first)


def test_retry_after_rounds_up_and_answers_429(client: httpx.Client) -> None:
    client.put("/_emulator/faults", json={"retry_after": 1.2})
    response = client.get("/echo")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert logged(client)[0]["fault"] == "rate_limited"


def test_custom_fault_body() -> None:
    app = make_app(fault_body=lambda status: (f"<h1>{status}</h1>".encode(), "text/html"))
    app.state.emulator.faults.error_rate = 1.0
    with EmulatorServer(app) as running:
        response = httpx.get(f"{running.url}/echo")
    assert (response.status_code, response.text) == (503, "<h1>503</h1>")
    assert response.headers["content-type"] == "text/html"


def test_malformed_answers_200_with_unparseable_json(client: httpx.Client) -> None:
    client.put("/_emulator/faults", json={"malformed": True})
    response = client.get("/echo")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    assert logged(client)[0]["fault"] == "malformed"


def test_hang_outlasts_a_client_timeout_but_not_the_control_api(client: httpx.Client) -> None:
    client.put("/_emulator/faults", json={"hang": True})
    with pytest.raises(httpx.TimeoutException):
        client.get("/echo", timeout=0.2)
    assert client.get("/_emulator/faults").json()["hang"] is True
    assert logged(client)[0]["fault"] == "hang"


def test_latency_is_visible_in_the_log(client: httpx.Client) -> None:
    client.put("/_emulator/faults", json={"latency_ms": 50, "latency_jitter_ms": 10})
    assert client.get("/echo").status_code == 200
    assert logged(client)[0]["duration_ms"] >= 50


def test_python_api_changes_apply_to_the_running_server(
    server: EmulatorServer, client: httpx.Client
) -> None:
    server.app.state.emulator.faults.error_rate = 1.0
    assert client.get("/echo").status_code == 503
    assert client.get("/_emulator/faults").json()["error_rate"] == 1.0


# --- EmulatorServer -----------------------------------------------------------------------------


def test_server_binds_loopback_on_a_free_port() -> None:
    running = EmulatorServer(make_app()).start()
    try:
        assert running.url.startswith("http://127.0.0.1:")
        assert running.port != 0
        assert httpx.get(f"{running.url}/echo").status_code == 200
    finally:
        running.stop()
        running.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{running.url}/echo")


def test_server_refuses_non_loopback_hosts() -> None:
    with pytest.raises(ValueError):
        EmulatorServer(make_app(), host="0.0.0.0")
