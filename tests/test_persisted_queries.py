"""Persisted queries (``gateway/persisted.py``): automatic ones and a manifest of trusted ones.

The client is gql's, through its httpx transport, speaking the automatic persisted queries
protocol as Apollo's link does (``PersistedQueryTransport``: the hash alone first, the
document too when the gateway answers ``PERSISTED_QUERY_NOT_FOUND``). Counts are of work
done: documents executed, documents registered, requests sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXTransport
from graphql import ExecutionResult, build_schema, parse, print_ast, validate

from emulators.kit.server import EmulatorServer
from gateway.app import create_app
from gateway.persisted import LocalDocuments, SharedDocuments, load_manifest
from gateway.settings import ConfigError, load_settings, settings_from_dict
from schema import schema_sdl
from tests.conftest import FULL, READ, TOKENS, datapacket_config, error_codes
from tests.redis_server import RedisServer
from tests.servers import BASE_URL, InProcessGateway, stop_all

ROOT = Path(__file__).resolve().parents[1]
SERVICE = "test-service-free-documents"
TOKENS_WITH_SERVICE = [
    *TOKENS,
    {"name": "service", "scope": "read-only", "token": SERVICE, "free_documents": True},
]
#: Documents as gql prints them (its transport sends ``print_ast`` of the parsed request).
SERVERS = print_ast(
    GraphQLRequest("query Fleet { servers(input: {pageSize: 3}) { entries { name } } }").document
)
ALIAS = print_ast(
    GraphQLRequest('query Alias { server(input: {name: "DP-12345"}) { alias } }').document
)
RENAME = (
    'mutation { setServerAlias(input: {server: {name: "DP-12345"}, alias: "x"}) '
    "{ server { name } } }"
)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(text: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(text)}}


class InProcessTransport(HTTPXTransport):
    """gql's httpx transport over an in-process gateway's client (``InProcessGateway.client``)."""

    def __init__(self, http: httpx.Client) -> None:
        super().__init__(f"{BASE_URL}/graphql")
        self._http = http

    def connect(self) -> None:
        self.client = self._http

    def close(self) -> None:
        self.client = None


class PersistedQueryTransport(InProcessTransport):
    """gql's httpx transport with Apollo's APQ link's exchange: the hash alone (by POST, or by
    GET with ``use_get``), then the document with its hash on ``PERSISTED_QUERY_NOT_FOUND``.
    ``sent`` lists what each request carried: ``"hash"`` or ``"document"``."""

    def __init__(self, http: httpx.Client, *, use_get: bool = False) -> None:
        super().__init__(http)
        self.use_get = use_get
        self.sent: list[str] = []

    def execute(self, request: GraphQLRequest, **kwargs: Any) -> ExecutionResult:
        assert self.client is not None
        full = {**request.payload, "extensions": persisted(print_ast(request.document))}
        hashed = {key: value for key, value in full.items() if key != "query"}
        self.sent.append("hash")
        if self.use_get:
            params = {
                key: value if key == "operationName" else json.dumps(value)
                for key, value in hashed.items()
            }
            result = self._prepare_result(self.client.get(self.url, params=params))
        else:
            result = self._prepare_result(self.client.post(self.url, json=hashed))
        if any(
            e.get("extensions", {}).get("code") == "PERSISTED_QUERY_NOT_FOUND"
            for e in result.errors or []
        ):
            self.sent.append("document")
            result = self._prepare_result(self.client.post(self.url, json=full))
        return result


@pytest.fixture
def start(datapacket_upstream: EmulatorServer) -> Iterator[Any]:
    """A factory: a gateway over the shared DataPacket emulator with these extra tables."""
    started: list[InProcessGateway] = []

    def make(tokens: list[dict[str, Any]] = TOKENS, **tables: Any) -> InProcessGateway:
        config = {"providers": [datapacket_config(datapacket_upstream)], "tokens": tokens, **tables}
        gateway = InProcessGateway(create_app(settings_from_dict(config, source="<test>"))).start()
        started.append(gateway)
        return gateway

    yield make
    stop_all(started)


def gql_client(
    gateway: InProcessGateway, token: str = FULL, **options: Any
) -> tuple[Client, PersistedQueryTransport]:
    transport = PersistedQueryTransport(
        gateway.client(headers={"Authorization": f"Bearer {token}"}), **options
    )
    return Client(transport=transport), transport


def registered(gateway: InProcessGateway) -> LocalDocuments:
    return gateway.app.state.gateway.persisted.store


def test_gql_client_misses_registers_then_hits(start, executions):
    gateway = start(cache={"responses": False})
    client, transport = gql_client(gateway)
    with client as session:
        first = session.execute(GraphQLRequest(SERVERS))
        assert transport.sent == ["hash", "document"]
        assert len(registered(gateway)) == 1
        assert executions == ["Fleet"]
        again = session.execute(GraphQLRequest(SERVERS))
    assert again == first and len(first["servers"]["entries"]) == 3
    assert transport.sent == ["hash", "document", "hash"]
    assert executions == ["Fleet", "Fleet"]
    assert len(registered(gateway)) == 1
    metrics = gateway.app.state.gateway.observability.metrics.registry
    counts = {
        outcome: metrics.get_sample_value("fleetql_persisted_queries_total", {"outcome": outcome})
        for outcome in ("registration", "registered")
    }
    assert counts == {"registration": 1, "registered": 1}


def test_an_unknown_hash_answers_200_with_the_code_and_message_apq_links_match(start):
    http = start().client(headers={"Authorization": f"Bearer {FULL}"})
    for accept in ("application/json", "application/graphql-response+json"):
        response = http.post(
            "/graphql", json={"extensions": persisted(SERVERS)}, headers={"Accept": accept}
        )
        assert response.status_code == 200
        [error] = response.json()["errors"]
        assert error["message"] == "PersistedQueryNotFound"
        assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


def test_get_with_the_hash_alone_is_cacheable_for_as_long_as_the_response_cache_keeps_it(
    start, executions
):
    gateway = start(cache={"servers": 60})
    client, transport = gql_client(gateway, use_get=True)
    with client as session:
        first = session.execute(GraphQLRequest(SERVERS))  # GET misses, POST registers
        missed = transport.response_headers
        again = session.execute(GraphQLRequest(SERVERS))
        hit = transport.response_headers
    assert transport.sent == ["hash", "document", "hash"]
    assert again == first
    assert executions == ["Fleet"]  # the GET was answered by the whole-response cache
    assert "Cache-Control" not in missed  # the last request was the POST carrying the document
    cache_control = hit["Cache-Control"]
    assert cache_control.startswith("private, max-age=")
    assert 0 < int(cache_control.removeprefix("private, max-age=")) <= 60
    assert "Authorization" in hit["Vary"] and "Accept" in hit["Vary"]


def test_get_answers_that_may_not_be_kept_say_no_store(start):
    http = start().client(headers={"Authorization": f"Bearer {READ}"})
    # Unknown hash.
    unknown = http.get("/graphql", params={"extensions": json.dumps(persisted(SERVERS))})
    assert error_codes(unknown.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert unknown.headers["Cache-Control"] == "no-store"
    assert "Authorization" in unknown.headers["Vary"]
    # A mutation registers (it parses) but a read-only token never runs it; over GET it is 405.
    refused = http.post("/graphql", json={"query": RENAME, "extensions": persisted(RENAME)})
    assert error_codes(refused.json()) == ["NOT_AUTHORIZED"]
    by_get = http.get("/graphql", params={"extensions": json.dumps(persisted(RENAME))})
    assert by_get.status_code == 405
    assert by_get.headers["Cache-Control"] == "no-store"


def test_a_browsers_get_with_a_hash_is_a_graphql_request_not_graphiql(start):
    http = start().client(headers={"Authorization": f"Bearer {FULL}"})
    accept = "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8"
    params = {"extensions": json.dumps(persisted(SERVERS))}
    response = http.get("/graphql", params=params, headers={"Accept": accept})
    assert response.headers["content-type"].startswith("application/json")
    assert error_codes(response.json()) == ["PERSISTED_QUERY_NOT_FOUND"]


def test_a_document_that_is_not_its_hash_is_refused_and_not_registered(start, executions):
    gateway = start()
    http = gateway.client(headers={"Authorization": f"Bearer {FULL}"})
    response = http.post("/graphql", json={"query": ALIAS, "extensions": persisted(SERVERS)})
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"] == {
        "code": "BAD_REQUEST",
        "field": "extensions.persistedQuery.sha256Hash",
    }
    assert "does not match" in error["message"]
    assert len(registered(gateway)) == 0 and executions == []
    # Nothing was kept under the hash claimed.
    lookup = http.post("/graphql", json={"extensions": persisted(SERVERS)})
    assert error_codes(lookup.json()) == ["PERSISTED_QUERY_NOT_FOUND"]


@pytest.mark.parametrize(
    ("extensions", "words"),
    [
        ({"persistedQuery": {"version": 2, "sha256Hash": sha256(SERVERS)}}, "version"),
        ({"persistedQuery": {"sha256Hash": sha256(SERVERS)}}, "version"),
        ({"persistedQuery": {"version": 1, "sha256Hash": "abc"}}, "64 hexadecimal"),
        ({"persistedQuery": "yes"}, "must be a JSON object"),
        ([1], "'extensions' must be a JSON object"),
    ],
)
def test_malformed_persisted_query_extensions_are_bad_requests(start, extensions, words):
    http = start().client(headers={"Authorization": f"Bearer {FULL}"})
    response = http.post("/graphql", json={"extensions": extensions})
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST" and words in error["message"]


def test_a_document_that_does_not_parse_is_not_registered(start):
    gateway = start()
    http = gateway.client(headers={"Authorization": f"Bearer {FULL}"})
    broken = "query { servers {"
    response = http.post("/graphql", json={"query": broken, "extensions": persisted(broken)})
    assert error_codes(response.json()) == ["GRAPHQL_VALIDATION_FAILED"]
    assert len(registered(gateway)) == 0


# --- Trusted documents -----------------------------------------------------------------------


def apollo_manifest(*documents: str) -> dict[str, Any]:
    operations = [
        {"id": sha256(body), "body": body, "name": f"Op{i}", "type": "query"}
        for i, body in enumerate(documents)
    ]
    return {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}


def codegen_manifest(*documents: str) -> dict[str, str]:
    return {sha256(body): body for body in documents}


@pytest.mark.parametrize("manifest", [apollo_manifest, codegen_manifest])
def test_trusted_only_refuses_a_free_document_and_runs_the_manifests(
    start, executions, tmp_path, manifest
):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest(SERVERS)))
    gateway = start(
        tokens=TOKENS_WITH_SERVICE,
        persisted={"manifest": str(path), "only": True},
        cache={"responses": False},
    )
    # A free document, sent plainly by gql's own transport: refused before parsing.
    plain = InProcessTransport(gateway.client(headers={"Authorization": f"Bearer {FULL}"}))
    with Client(transport=plain) as session, pytest.raises(TransportQueryError) as refused:
        session.execute(GraphQLRequest(ALIAS))
    assert refused.value.errors[0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    # ... and by the APQ exchange: the hash is unknown, and the document is not registered.
    client, transport = gql_client(gateway)
    with client as session, pytest.raises(TransportQueryError) as refused:
        session.execute(GraphQLRequest(ALIAS))
    assert refused.value.errors[0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    assert transport.sent == ["hash", "document"] and len(registered(gateway)) == 0
    assert executions == []
    # The manifest's document runs by its hash alone, and sent whole.
    client, transport = gql_client(gateway)
    with client as session:
        assert len(session.execute(GraphQLRequest(SERVERS))["servers"]["entries"]) == 3
    assert transport.sent == ["hash"]
    metrics = gateway.app.state.gateway.observability.metrics.registry
    assert metrics.get_sample_value("fleetql_persisted_queries_total", {"outcome": "manifest"}) == 1
    with Client(transport=plain) as session:
        assert session.execute(GraphQLRequest(SERVERS))
    # A token allowed free documents sends any.
    client, _ = gql_client(gateway, token=SERVICE)
    with client as session:
        assert session.execute(GraphQLRequest(ALIAS))["server"]["alias"]
    assert executions == ["Fleet", "Fleet", "Alias"]


def test_without_only_the_manifest_answers_its_hashes_and_free_documents_still_run(start, tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(codegen_manifest(SERVERS)))
    gateway = start(persisted={"manifest": str(path)})
    client, transport = gql_client(gateway)
    with client as session:
        session.execute(GraphQLRequest(SERVERS))
        session.execute(GraphQLRequest(ALIAS))
    assert transport.sent == ["hash", "hash", "document"]


# --- Configuration ---------------------------------------------------------------------------


def config_with(persisted: dict[str, Any]) -> dict[str, Any]:
    provider = {
        "id": "dp",
        "kind": "datapacket",
        "base_url": "http://127.0.0.1:1/v0/graphql",
        "token": "t",
    }
    return {"providers": [provider], "tokens": TOKENS, "persisted": persisted}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "persisted.manifest: not valid JSON (line 1, column 2)"),
        ("[]", "persisted.manifest: must be a JSON object"),
        (json.dumps({sha256(SERVERS): ALIAS}), "the hash is not the SHA-256 of its document"),
        (json.dumps({"abc": SERVERS}), "the hash must be 64 hexadecimal characters"),
        (json.dumps({sha256(SERVERS): 3}), "the document must be a non-empty string"),
        (
            json.dumps({**apollo_manifest(SERVERS), "format": "relay"}),
            "'format' must be 'apollo-persisted-query-manifest'",
        ),
        (json.dumps({**apollo_manifest(SERVERS), "version": 2}), "'version' must be 1"),
        (
            json.dumps(
                {
                    **apollo_manifest(SERVERS),
                    "operations": [
                        {"id": sha256(ALIAS), "body": SERVERS, "name": "Fleet", "type": "query"}
                    ],
                }
            ),
            "operations[0] ('Fleet'): the hash is not the SHA-256 of its document",
        ),
    ],
)
def test_a_manifest_that_cannot_be_used_is_one_configuration_line(tmp_path, content, problem):
    path = tmp_path / "manifest.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as error:
        settings_from_dict(config_with({"manifest": str(path)}), source="fleetql.toml")
    message = str(error.value)
    assert message.startswith("fleetql.toml: persisted.manifest: ") and problem in message
    assert "\n" not in message


def test_the_example_manifest_loads_and_its_documents_validate():
    manifest = load_manifest(ROOT / "examples" / "persisted-documents.json")
    served = build_schema(schema_sdl())
    assert manifest and all(not validate(served, parse(body)) for body in manifest.values())


def test_a_missing_manifest_and_only_without_one_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="persisted.manifest: file not found"):
        settings_from_dict(config_with({"manifest": str(tmp_path / "absent.json")}))
    with pytest.raises(ConfigError, match=r"persisted.only: needs `manifest`"):
        settings_from_dict(config_with({"only": True}))


def test_a_relative_manifest_path_is_from_the_configuration_files_folder(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps(apollo_manifest(SERVERS)))
    config = tmp_path / "fleetql.toml"
    config.write_text(
        '[persisted]\nmanifest = "manifest.json"\nonly = true\n'
        '[[providers]]\nid = "dp"\nkind = "datapacket"\nbase_url = "http://127.0.0.1:1/v0/graphql"\n'
        'token = "t"\n[[tokens]]\nname = "full"\nscope = "full-access"\ntoken = "x"\n'
        "free_documents = true\n"
    )
    settings = load_settings(config)
    assert settings.persisted.manifest == {sha256(SERVERS): SERVERS} and settings.persisted.only
    assert settings.tokens[0].free_documents
    assert load_manifest(tmp_path / "manifest.json") == settings.persisted.manifest


# --- The store -------------------------------------------------------------------------------


async def test_the_local_store_is_bounded_in_entries_and_bytes_and_expires():
    store = LocalDocuments(maxsize=2, max_bytes=10)
    await store.put("a", "1234")
    await store.put("b", "5678")
    await store.get("a")  # now the most recently used
    await store.put("c", "90")
    assert len(store) == 2 and await store.get("b") is None and await store.get("a") == "1234"
    await store.put("d", "123456789")
    assert store.size <= 10 and await store.get("d") == "123456789"
    await store.put("huge", "x" * 11)
    assert await store.get("huge") is None
    expired = LocalDocuments(ttl=0)
    await expired.put("a", "1")
    assert await expired.get("a") is None and len(expired) == 0


def test_replicas_sharing_redis_share_registered_documents(
    start, redis_server: RedisServer, executions
):
    cluster = {"redis_url": redis_server.url, "key_prefix": "apq-test:"}
    a = start(cluster=cluster, persisted={"ttl": 600})
    b = start(cluster=cluster, persisted={"ttl": 600})
    client, on_a = gql_client(a)
    with client as session:
        session.execute(GraphQLRequest(SERVERS))
    client, on_b = gql_client(b)
    with client as session:
        session.execute(GraphQLRequest(SERVERS))
    assert on_a.sent == ["hash", "document"] and on_b.sent == ["hash"]
    shared = redis.Redis.from_url(redis_server.url)
    key = f"apq-test:apq:{sha256(SERVERS)}"
    assert shared.get(key) == SERVERS.encode()
    assert 0 < shared.ttl(key) <= 600
    assert isinstance(registered(b), SharedDocuments) and len(registered(b).local) == 0


def test_with_redis_down_a_replica_keeps_registered_documents_in_process(
    start, redis_server: RedisServer
):
    gateway = start(cluster={"redis_url": redis_server.url})
    redis_server.stop()
    client, transport = gql_client(gateway)
    with client as session:
        first = session.execute(GraphQLRequest(SERVERS))
        assert session.execute(GraphQLRequest(SERVERS)) == first
    assert transport.sent == ["hash", "document", "hash"]
    fallbacks = gateway.app.state.gateway.cluster.fallbacks
    assert fallbacks["apq_write"] + fallbacks["apq_read"] >= 1
