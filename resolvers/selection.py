"""Turn strawberry's view of the query into a ``Selection`` a provider can act on."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

from providers.selection import Selection

__all__ = ["selection_of"]


def selection_of(info: Info, *path: str) -> Selection:
    """The selection below the current field, optionally descended along ``path``.

    Fragments are flattened, ``@skip``/``@include`` applied and aliases merged by field name.
    """
    selection = Selection()
    for node in info.selected_fields:
        selection = selection.merge(_collect(node.selections))
    for name in path:
        selection = selection.get(name)
    return selection


def _collect(nodes: list[Any]) -> Selection:
    tree: dict[str, Selection] = {}
    for node in nodes:
        if not _included(node.directives):
            continue
        if isinstance(node, SelectedField):
            sub = _collect(node.selections)
            tree[node.name] = tree[node.name].merge(sub) if node.name in tree else sub
        elif isinstance(node, FragmentSpread | InlineFragment):
            for name, sub in _collect(node.selections).fields.items():
                tree[name] = tree[name].merge(sub) if name in tree else sub
    return Selection(tree)


def _included(directives: dict[str, dict[str, Any]]) -> bool:
    if "skip" in directives and directives["skip"].get("if"):
        return False
    return not ("include" in directives and not directives["include"].get("if"))
