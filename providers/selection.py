"""Which fields of a result the client asked for, so a provider fetches only those."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

__all__ = ["Selection"]


@dataclass(frozen=True)
class Selection:
    """A tree of selected field names (aliases, fragments and directives already resolved).

    Example:
        ``Selection.of({"name": {}, "location": {"name": {}}})`` is ``{ name location { name } }``.
    """

    fields: Mapping[str, Selection] = field(default_factory=dict)

    @classmethod
    def of(cls, tree: Mapping[str, Mapping]) -> Selection:
        """Build a selection from nested dicts of field names."""
        return cls({name: cls.of(sub) for name, sub in tree.items()})

    def __contains__(self, name: object) -> bool:
        return name in self.fields

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Selection) and self.key == other.key

    def get(self, name: str) -> Selection:
        """The sub-selection of ``name`` (empty when it is not selected)."""
        return self.fields.get(name) or EMPTY

    def has(self, path: str) -> bool:
        """Whether a dotted path such as ``network.ipmi.ip`` is selected."""
        node: Selection = self
        for part in path.split("."):
            if part not in node.fields:
                return False
            node = node.fields[part]
        return True

    def merge(self, other: Selection) -> Selection:
        """The union of two selections."""
        names = dict.fromkeys([*self.fields, *other.fields])
        return Selection({name: self.get(name).merge(other.get(name)) for name in names})

    def without(self, *names: str) -> Selection:
        """This selection minus some top-level fields."""
        return Selection({k: v for k, v in self.fields.items() if k not in names})

    @property
    def key(self) -> str:
        """A canonical string form, usable as a cache or batch key."""
        if not self.fields:
            return ""
        inner = " ".join(
            f"{name} {{{sub.key}}}" if sub else name for name, sub in sorted(self.fields.items())
        )
        return inner


EMPTY = Selection()
