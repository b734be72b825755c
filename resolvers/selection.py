"""Turn strawberry's view of the query into a ``Selection`` a provider can act on."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLNamedType, GraphQLObjectType, GraphQLSchema, get_named_type
from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

from providers.selection import Selection

__all__ = ["IDENTITY", "selection_of"]

#: Fields an object type's own resolvers read whatever the client selected: ``Server.provider``
#: and ``Server.powerAction`` find their server by its name, wherever it is nested.
IDENTITY: dict[str, Selection] = {"Server": Selection.of({"name": {}})}


def selection_of(info: Info, *path: str) -> Selection:
    """The selection below the current field, optionally descended along ``path``.

    Fragments are flattened, ``@skip``/``@include`` applied and aliases merged by field name;
    every object of a type in ``IDENTITY`` carries that type's identity fields.
    """
    raw = info._raw_info
    own_type = get_named_type(raw.return_type)
    selection = Selection()
    for node in info.selected_fields:
        selection = selection.merge(_collect(node.selections, own_type, raw.schema))
    for name in path:
        selection = selection.get(name)
    return selection


def _collect(nodes: list[Any], parent: GraphQLNamedType | None, schema: GraphQLSchema) -> Selection:
    tree: dict[str, Selection] = {}
    for node in nodes:
        if not _included(node.directives):
            continue
        if isinstance(node, SelectedField):
            sub = _collect(node.selections, _field_type(parent, node.name), schema)
            tree[node.name] = tree[node.name].merge(sub) if node.name in tree else sub
        elif isinstance(node, FragmentSpread | InlineFragment):
            condition = schema.get_type(node.type_condition) if node.type_condition else None
            for name, sub in _collect(node.selections, condition or parent, schema).fields.items():
                tree[name] = tree[name].merge(sub) if name in tree else sub
    selection = Selection(tree)
    identity = IDENTITY.get(parent.name) if parent is not None else None
    return selection.merge(identity) if identity is not None else selection


def _field_type(parent: GraphQLNamedType | None, name: str) -> GraphQLNamedType | None:
    """The named type of field ``name`` of ``parent`` (None for meta fields like __typename)."""
    if isinstance(parent, GraphQLObjectType) and name in parent.fields:
        return get_named_type(parent.fields[name].type)
    return None


def _included(directives: dict[str, dict[str, Any]]) -> bool:
    if "skip" in directives and directives["skip"].get("if"):
        return False
    return not ("include" in directives and not directives["include"].get("if"))
