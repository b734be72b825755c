"""Structural comparison of two GraphQL schemas, as one line per difference."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLSchema, get_introspection_query, graphql_sync

_QUERY = get_introspection_query(descriptions=True, input_value_deprecation=True)


def _type_ref(ref: dict[str, Any]) -> str:
    if ref["kind"] == "NON_NULL":
        return f"{_type_ref(ref['ofType'])}!"
    if ref["kind"] == "LIST":
        return f"[{_type_ref(ref['ofType'])}]"
    return ref["name"]


def _value(item: dict[str, Any]) -> dict[str, Any]:
    facts = {
        "type": _type_ref(item["type"]) if "type" in item else None,
        "description": item.get("description"),
        "deprecated": item.get("deprecationReason") if item.get("isDeprecated") else None,
        "default": item.get("defaultValue"),
    }
    for arg in item.get("args") or []:
        facts[f"({arg['name']})"] = _value(arg)
    return facts


def describe(schema: GraphQLSchema) -> dict[str, dict[str, Any]]:
    """Every named type as ``{"kind", "description", "members": {member: facts}}``."""
    result = graphql_sync(schema, _QUERY)
    assert not result.errors, result.errors
    types: dict[str, dict[str, Any]] = {}
    for item in result.data["__schema"]["types"]:
        if item["name"].startswith("__"):
            continue
        members = {}
        for member in item.get("fields") or item.get("inputFields") or []:
            members[member["name"]] = _value(member)
        for member in item.get("enumValues") or []:
            members[member["name"]] = _value(member)
        types[item["name"]] = {
            "kind": item["kind"],
            "description": item.get("description"),
            "members": members,
        }
    return types


def _flatten(prefix: str, facts: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in facts.items():
        if isinstance(value, dict):
            flat.update(_flatten(f"{prefix}{key}", value))
        else:
            flat[f"{prefix} {key}"] = value
    return flat


def differences(base: GraphQLSchema, served: GraphQLSchema) -> list[str]:
    """What ``served`` changes relative to ``base``, one line each.

    Example: ``changed: Server.uptime type Int! -> Int``.
    """
    old, new = describe(base), describe(served)
    lines: list[str] = []
    for name in sorted(old.keys() | new.keys()):
        if name not in new:
            lines.append(f"removed type: {name}")
            continue
        if name not in old:
            lines.append(f"added type: {name}")
            continue
        for key in ("kind", "description"):
            if old[name][key] != new[name][key]:
                lines.append(f"changed: {name} {key}")
        old_members, new_members = old[name]["members"], new[name]["members"]
        for member in sorted(old_members.keys() | new_members.keys()):
            where = f"{name}.{member}"
            if member not in new_members:
                lines.append(f"removed: {where}")
            elif member not in old_members:
                lines.append(f"added: {where}")
            else:
                before = _flatten("", old_members[member])
                after = _flatten("", new_members[member])
                for fact in sorted(before.keys() | after.keys()):
                    if before.get(fact) != after.get(fact):
                        lines.append(
                            f"changed: {where}{fact} {before.get(fact)} -> {after.get(fact)}"
                        )
    return lines
