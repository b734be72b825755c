"""Measure what hostile documents within the default limits cost (not part of the suite).

For each document: graphql-core's ``parse()``, the gateway's limits check
(``gateway.limits.limits_refusal``) and graphql-core's ``validate()`` with every rule
(which the gateway runs only for a document the limits check lets through); then the
selections the limits counter visits for fragment bombs, and the time of refusals sent over
HTTP to a gateway in front of a DataPacket emulator. Times are the best of three runs.

    .venv/bin/python -m bench.hostile_documents
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Callable, Iterator
from functools import partial
from statistics import median
from typing import Any

import httpx
from graphql import (
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    is_required_argument,
    parse,
    validate,
)
from graphql.language import Lexer, Source, TokenKind

from emulators.datapacket import app as emulator
from emulators.kit.server import EmulatorServer
from errors import GraphQLValidationFailed
from gateway.app import create_app
from gateway.graphql_http import _operations
from gateway.limits import DocumentCounter, QueryLimits, limits_refusal
from gateway.settings import settings_from_dict
from schema import fleet_schema
from tests.conftest import READ, TOKENS, datapacket_config, fragment_bomb
from tests.test_query_limits import UNLIMITED, ast_nodes

SCHEMA: GraphQLSchema = fleet_schema()._schema
LIMITS = QueryLimits()
UNIQUE = itertools.count()


def best_of(run: Callable[[], Any], times: int = 3) -> tuple[float, Any]:
    """The shortest of ``times`` runs in milliseconds, and the last result."""
    durations, result = [], None
    for _ in range(times):
        start = time.perf_counter()
        result = run()
        durations.append(time.perf_counter() - start)
    return min(durations) * 1000, result


def tokens(text: str) -> int:
    lexer, count = Lexer(Source(text)), 0
    while lexer.advance().kind != TokenKind.EOF:
        count += 1
    return count


def every_field(type_: GraphQLObjectType, seen: frozenset[str]) -> str:
    """Every field below ``type_`` without required arguments, each object type once a path."""
    selections = []
    for name, field in type_.fields.items():
        if any(is_required_argument(argument) for argument in field.args.values()):
            continue
        named = get_named_type(field.type)
        if not isinstance(named, GraphQLObjectType):
            selections.append(name)
        elif named.name not in seen and (below := every_field(named, seen | {named.name})):
            selections.append(f"{name} {{ {below} }}")
    return " ".join(selections)


def widest_valid() -> str:
    """Every Server field under 40 lookups in 10 operations: valid, no response name twice."""
    server = every_field(SCHEMA.get_type("Server"), frozenset({"Server"}))
    lookup = f'server(input: {{name: "DP-1"}}) {{ {server} }}'
    operations = [[lookup] for _ in range(10)]
    for alias in range(30):
        operations[alias % 10].append(f"s{alias}: {lookup}")
    return " ".join(f"query Q{i} {{ {' '.join(o)} }}" for i, o in enumerate(operations))


def fragments_side_by_side(count: int, on: str, body: str) -> str:
    spreads = " ".join(f"...F{i}" for i in range(count))
    fragments = " ".join(f"fragment F{i} on {on} {{ {body} }}" for i in range(count))
    root = f"account {{ {spreads} }}" if on == "Account" else spreads
    return f"{{ {root} }} {fragments}"


def documents() -> Iterator[tuple[str, str]]:
    yield "widest valid: 10 operations, 40 server lookups", widest_valid()
    yield "same field 2400 times", "{ account { " + "name " * 2400 + "} }"
    yield (
        "400 fragments side by side (2 fields)",
        fragments_side_by_side(400, "Account", "name email"),
    )
    yield (
        "250 fragments on Query side by side",
        fragments_side_by_side(250, "Query", "account { name }"),
    )
    yield (
        "120 fragments, each spreading the next 3",
        "{ account { ...F0 } } "
        + " ".join(
            f"fragment F{i} on Account {{ name "
            + " ".join(f"...F{j}" for j in range(i + 1, min(120, i + 4)))
            + " }"
            for i in range(120)
        ),
    )
    yield "fragment bomb, 12 fragments x 10 spreads", fragment_bomb(12)
    yield (
        "inline fragments nested 198 deep",
        ("{ account { " + "... { " * 198 + "name" + " }" * 198 + " } }"),
    )
    yield (
        "inline fragments nested 190 deep, 2 fields each",
        ("{ account { " + "... { name email " * 190 + "name" + " }" * 190 + " } }"),
    )
    yield (
        "400 fragments chained through inline fragments",
        (
            "{ servers { entries { ...F0 } } } "
            + " ".join(f"fragment F{i} on Server {{ ... {{ ...F{i + 1} }} }}" for i in range(400))
            + " fragment F400 on Server { name }"
        ),
    )
    yield (
        "1600 directives on one field",
        ("{ account { name " + "@include(if: true) " * 320 + "} }"),
    )
    yield "2400 directives without arguments", "{ account { name " + "@skip " * 2400 + "} }"
    yield (
        "1200 variables declared",
        ("query(" + " ".join(f"$v{i}: Int" for i in range(1200)) + ") { account { name } }"),
    )
    yield (
        "string literal of 99,900 characters",
        ('{ server(input: {name: "' + "x" * 99_900 + '"}) { name } }'),
    )
    yield (
        "10 operations x 400 same fields",
        " ".join(f"query Q{i} {{ account {{ " + "name " * 400 + "} }" for i in range(10)),
    )
    yield (
        "200 same-named fields, distinct arguments",
        ("{ " + " ".join(f'server(input: {{name: "s{i}"}}) {{ name }}' for i in range(200)) + " }"),
    )


def limits_check(document) -> str:
    refusal = limits_refusal(SCHEMA, document, _operations(document, None), None, LIMITS)
    if refusal is not None:
        return f"refused ({refusal.original_error.details['limit']})"
    return "passes"


def measure_documents() -> None:
    print("| document | bytes | tokens | parse | limits check | validate (all rules) |")
    print("|---|---|---|---|---|---|")
    for title, text in documents():
        size = len(json.dumps({"query": text}))
        try:
            parse_ms, document = best_of(partial(parse, text, max_tokens=LIMITS.max_tokens))
        except GraphQLError as error:
            print(f"| {title} | {size} | {tokens(text)} | {error.message} | | |")
            continue
        check_ms, outcome = best_of(partial(limits_check, document))
        validate_ms, errors = best_of(partial(validate, SCHEMA, document))
        print(
            f"| {title} | {size:,} | {tokens(text):,} | {parse_ms:.1f} ms | {check_ms:.1f} ms, "
            f"{outcome} | {validate_ms:.1f} ms ({len(errors)} errors) |"
        )


def measure_bombs() -> None:
    print("\n| fragments | bytes | AST nodes | visited, no limits | visited, default limits |")
    print("|---|---|---|---|---|")
    for depth in range(6, 13):
        text = fragment_bomb(depth)
        document = parse(text)
        operations = _operations(document, None)
        whole = DocumentCounter(SCHEMA, document, None, UNLIMITED)
        whole.count(operations)
        refused = DocumentCounter(SCHEMA, document, None, LIMITS)
        with contextlib.suppress(GraphQLValidationFailed):
            refused.count(operations)
        nodes = ast_nodes(document)
        print(f"| {depth} | {len(text)} | {nodes} | {whole.visited} | {refused.visited} |")


def measure_over_http() -> None:
    with EmulatorServer(emulator.create_app(size=10, seed=1)) as upstream:
        settings = settings_from_dict(
            {"providers": [datapacket_config(upstream)], "tokens": TOKENS}
        )
        # A real socket: the refusal's time includes uvicorn and the wire.
        server = EmulatorServer(create_app(settings)).start()
        try:
            client = httpx.Client(base_url=server.url, timeout=60)
            headers = {"Authorization": f"Bearer {READ}"}
            client.post("/graphql", json={"query": "{ account { name } }"}, headers=headers)
            log = upstream.app.state.emulator.request_log
            # Each text differs in a name (not only a comment): graphql-core's syntax trees
            # compare by structure, so a validation cache would serve a mere copy. An unknown
            # field keeps the widest document from running 40 lookups upstream.
            cases = {
                "fragment bomb, 12 fragments": lambda i: (
                    fragment_bomb(12) + f" fragment Z{i} on Server {{ name }}"
                ),
                "400 fragments side by side": lambda i: fragments_side_by_side(
                    400, "Account", f"name email z{i}"
                ),
                "widest valid, one unknown field": lambda i: widest_valid().replace(
                    "Q9 {", f"Q9 {{ unknown{i}"
                ),
            }
            print()
            for title, make in cases.items():
                before, durations = log.count(), []
                for _ in range(15):
                    query = make(next(UNIQUE))
                    start = time.perf_counter()
                    body = client.post("/graphql", json={"query": query}, headers=headers).json()
                    durations.append((time.perf_counter() - start) * 1000)
                print(
                    f"{title}: median {median(durations):.1f} ms over HTTP, "
                    f"{log.count() - before} upstream requests: {body['errors'][0]['message']}"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    measure_documents()
    measure_bombs()
    measure_over_http()
