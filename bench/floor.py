"""Baseline (a), the floor: the gateway's own upstream calls, replayed directly with httpx.

The emulators log every call the gateway makes for one request (credentials redacted). The
plan rebuilds those calls with the credentials put back and orders them the way they depend
on each other: calls of one provider with the same operation (say, 50 per-server network
reads) are independent and go out together; an operation that began only after another
operation's first call had answered is taken to need its result (a list before per-server
reads) and waits for it. Providers are independent. Replaying the plan costs the upstream
latency and the emulators' work, and nothing of GraphQL.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx

from bench.processes import Emulator
from providers.dcimanager.client import LOGIN_PATH

__all__ = ["Plan", "record_plan"]

Call = dict[str, Any]  # {"method", "url", "headers", "body"}
Plan = list[list[list[Call]]]  # per provider, levels of calls sent together
_REDACTED = "<redacted>"
# Headers the replaying client sets itself, or that only describe the original connection.
_TRANSPORT_HEADERS = {"host", "content-length", "connection", "user-agent", "accept-encoding"}


def record_plan(requests_by_emulator: dict[str, list[dict[str, Any]]], emulators: list[Emulator]):
    """The replay plan of one gateway request, from each emulator's logged requests."""
    plan: Plan = []
    for emulator in emulators:
        entries = requests_by_emulator.get(emulator.kind, [])
        if entries:
            credentials = _credential_headers(emulator)
            calls = [(entry, _call(emulator, entry, credentials)) for entry in entries]
            plan.append(_levels(calls))
    return plan


def _levels(calls: list[tuple[dict[str, Any], Call]]) -> list[list[Call]]:
    """Calls grouped by operation, each group one level after the latest group it waited for."""
    groups: dict[str, list[tuple[dict[str, Any], Call]]] = {}
    for entry, call in sorted(calls, key=lambda pair: pair[0]["at"]):
        groups.setdefault(entry["operation"] or entry["path"], []).append((entry, call))
    level_of: dict[str, int] = {}
    first_answer: dict[str, float] = {}
    for operation, members in groups.items():
        began = min(entry["at"] for entry, _ in members)
        waited_for = [
            level_of[done] for done, answered in first_answer.items() if answered <= began
        ]
        level_of[operation] = 1 + max(waited_for, default=-1)
        first_answer[operation] = min(
            entry["at"] + (entry["duration_ms"] or 0) / 1000 for entry, _ in members
        )
    levels: list[list[Call]] = [[] for _ in range(max(level_of.values()) + 1)]
    for operation, members in groups.items():
        levels[level_of[operation]].extend(call for _, call in members)
    return levels


def _call(emulator: Emulator, entry: dict[str, Any], credentials: dict[str, str]) -> Call:
    headers = {
        name: credentials.get(name, value) if value == _REDACTED else value
        for name, value in entry["headers"].items()
        if name not in _TRANSPORT_HEADERS
    }
    query = urlencode(entry["query"], doseq=True)
    body = entry["body"]
    if isinstance(body, dict | list):
        form = "x-www-form-urlencoded" in headers.get("content-type", "")
        body = urlencode(body, doseq=True) if form else json.dumps(body)
    return {
        "method": entry["method"],
        "url": f"{emulator.url}{entry['path']}" + (f"?{query}" if query else ""),
        "headers": headers,
        "body": body,
    }


def _credential_headers(emulator: Emulator) -> dict[str, str]:
    """What the redacted credential headers held: a token, or a DCImanager session."""
    token = emulator.credentials.get("token")
    if token is not None:
        return {"authorization": f"Bearer {token}", "x-auth-token": token}
    login = httpx.post(
        f"{emulator.base_url}{LOGIN_PATH}",
        json={"email": emulator.credentials["email"], "password": emulator.credentials["password"]},
        timeout=30,
    )
    login.raise_for_status()
    session = login.json()["token"]
    return {"cookie": f"ses6={session}", "x-xsrf-token": session}
