"""Compiled execution: selection sets shaped by generated Python, graphql-core as the reference.

graphql-core's interpreter spends a few microseconds on every field of every object (resolve
info, resolver call, completion); a page of 50 servers is thousands of them. Resolved values
here are plain dicts keyed by field name (``resolve_from_dict``), so most of that work is a
dict lookup and a scalar check. ``CompiledExecutor`` therefore compiles each (object type,
selection) of a document once into a Python function that builds the response dict straight
from the resolved dict, and keeps the compiled function for later requests with the same
document.

What stays with graphql-core:

- Fields with their own resolver (``Server.powerAction``, every root field): the compiled
  function leaves a placeholder, and graphql-core's ``execute_field`` resolves them
  afterwards, with their errors handled as graphql-core handles them. A resolver that
  answers a value stored in the source dict when there is one (``STORED_KEY`` in its field
  metadata: ``Server.provider``) is called only for dicts without that key.
- Anything unusual in the data: a null for a non-null field, a value a scalar cannot
  represent, a value that is not a dict or list where one is expected. The compiled function
  then gives up before any resolver ran (``_Fallback``), and the interpreter completes that
  object from scratch, producing exactly graphql-core's data and errors.
- Selections the compiler does not handle (abstract types, ``@defer``, fragment variables).

The executor overrides and calls graphql-core internals that changed shape across 3.x
releases, so ``executor_for`` checks them when the schema is built and keeps graphql-core's
interpreter (one warning line) when they differ from what this module was written against,
or when a strawberry extension has a ``resolve`` hook (compiled fields would bypass it).

``tests/test_compiled_execution.py`` runs documents through both executors and requires
identical results.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import operator
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import graphql
from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLError,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
)
from graphql.execution import collect_fields
from graphql.language import FieldNode, FragmentSpreadNode, InlineFragmentNode, VariableNode
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

if TYPE_CHECKING:
    import strawberry
    from graphql.execution.collect_fields import FieldDetailsList

__all__ = ["STORED_KEY", "CompiledExecutor", "executor_for", "resolve_from_dict"]

log = logging.getLogger(__name__)

#: The graphql-core ``ExecutionContext`` methods this module overrides or calls, with the
#: parameters (after ``self``) it was written against: graphql-core 3.3.2, pinned in
#: pyproject.toml. Their shapes changed three times across 3.x releases.
WRITTEN_FOR: dict[str, tuple[str, ...]] = {
    "complete_object_value": (
        "return_type",
        "field_details_list",
        "info",
        "path",
        "result",
        "position_context",
    ),
    "execute_field": ("parent_type", "source", "field_details_list", "path", "position_context"),
    "collect_subfields": ("return_type", "field_details_list"),
    "settle_in_background": ("awaitables",),
}
#: The fields of graphql-core's ``FieldDetails`` the compiler reads.
FIELD_DETAILS_READ = frozenset({"node", "defer_usage", "fragment_variable_values"})

#: Compiled functions kept across requests, least recently used dropped first.
MAX_COMPILED = 1024


def resolve_from_dict(source: Any, name: str) -> Any:
    """Default field resolver: resolved values are plain dicts keyed by GraphQL field name."""
    if isinstance(source, dict):
        return source.get(name)
    return getattr(source, name)


def executor_for(
    schema: strawberry.Schema | GraphQLSchema,
) -> type[StrawberryGraphQLCoreExecutionContext]:
    """The execution context class ``schema`` should run: compiled where that is sound.

    Returns strawberry's own (graphql-core's interpreter) with one warning line naming the
    reason when the installed graphql-core's internals are not those in ``WRITTEN_FOR``, or
    when one of a strawberry schema's extensions has a ``resolve`` hook (a graphql-core
    schema, ``schema/datapacket.py``'s, runs no extension).
    """
    reason = _mismatch() or (None if isinstance(schema, GraphQLSchema) else _resolve_hook(schema))
    if reason is None:
        return CompiledExecutor
    log.warning("compiled execution off, graphql-core's interpreter runs every field: %s", reason)
    return StrawberryGraphQLCoreExecutionContext


def _mismatch() -> str | None:
    """Why graphql-core's internals differ from what this module was written against."""
    version = graphql.__version__
    for name, expected in WRITTEN_FOR.items():
        method = getattr(StrawberryGraphQLCoreExecutionContext, name, None)
        actual = tuple(inspect.signature(method).parameters)[1:] if callable(method) else None
        if actual != expected:
            shape = "is missing" if actual is None else f"takes ({', '.join(actual)})"
            return f"graphql-core {version}: ExecutionContext.{name} {shape}"
    details = getattr(collect_fields, "FieldDetails", None)
    fields = getattr(details, "_fields", None)  # a NamedTuple's field names
    if fields is None:
        return f"graphql-core {version}: collect_fields.FieldDetails is missing"
    missing = FIELD_DETAILS_READ - set(fields)
    if missing:
        return f"graphql-core {version}: FieldDetails lacks {', '.join(sorted(missing))}"
    return None


def _resolve_hook(schema: strawberry.Schema) -> str | None:
    """The extension whose ``resolve`` hook compiled fields would bypass, if any."""
    for extension in schema.get_extensions():
        if extension._implements_resolve():
            return f"the {type(extension).__name__} extension has a resolve hook"
    return None


class _Fallback(Exception):  # noqa: N818 - a signal, not an error
    """The compiled function met data it does not handle: complete with graphql-core."""


class _Uncompilable(Exception):  # noqa: N818
    """The selection uses something the compiler does not handle."""


class CompiledExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, with object values completed by compiled functions.

    The context may turn compilation off per request (``compiled_execution = False``).
    """

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        if (
            result.__class__ is dict
            and return_type.is_type_of is None
            and getattr(self.context_value, "compiled_execution", True)
        ):
            shaper = self._shaper(return_type, field_details_list)
            if shaper is not None:
                pending: list[_Pending] = []
                try:
                    shaped = shaper(result, pending, ())
                except _Fallback:
                    pass
                else:
                    if not pending:
                        return shaped
                    return _resolve_delegated(self, shaped, pending, path, position_context)
        return super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _shaper(self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList):
        """The compiled function for this selection (``None``: not compilable)."""
        nodes = tuple(details.node for details in field_details_list)
        key = (id(return_type), tuple(map(id, nodes)), self._directive_values())
        entry = _COMPILED.get(key)
        if entry is not None and all(map(operator.is_, entry[0], nodes)):
            _COMPILED.move_to_end(key)
            return entry[1]
        try:
            shaper = _Compiler(self).compile(return_type, field_details_list)
        except _Uncompilable:
            shaper = None
        # The key holds the nodes' ids; keeping the nodes keeps those ids from being reused.
        _COMPILED[key] = (nodes, shaper)
        if len(_COMPILED) > MAX_COMPILED:
            _COMPILED.popitem(last=False)
        return shaper

    def _directive_values(self) -> tuple:
        """The values of the variables that ``@skip``/``@include`` read in this operation.

        They decide which fields a selection has, so they are part of the compiled key.
        """
        try:
            return self._directive_key
        except AttributeError:
            names = _directive_variables(self.operation, self.fragments)
            coerced = getattr(self.variable_values, "coerced", self.variable_values) or {}
            self._directive_key = tuple(coerced.get(name) for name in names)
            return self._directive_key


_COMPILED: OrderedDict[tuple, tuple[tuple[FieldNode, ...], Any]] = OrderedDict()
_DIRECTIVE_VARIABLES: OrderedDict[int, tuple[OperationDefinitionNode, tuple[str, ...]]] = (
    OrderedDict()
)


def _directive_variables(operation: OperationDefinitionNode, fragments: dict) -> tuple[str, ...]:
    """Names of the variables used as ``if:`` of ``@skip``/``@include``, cached per operation."""
    entry = _DIRECTIVE_VARIABLES.get(id(operation))
    if entry is not None and entry[0] is operation:
        return entry[1]
    names: set[str] = set()
    seen_fragments: set[str] = set()

    def visit(selection_set: SelectionSetNode | None) -> None:
        for selection in selection_set.selections if selection_set else ():
            for directive in selection.directives or ():
                if directive.name.value in ("skip", "include"):
                    for argument in directive.arguments:
                        if isinstance(argument.value, VariableNode):
                            names.add(argument.value.name.value)
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                details = fragments.get(name)
                if details is not None and name not in seen_fragments:
                    seen_fragments.add(name)
                    visit(details.definition.selection_set)
            elif isinstance(selection, FieldNode | InlineFragmentNode):
                visit(selection.selection_set)

    visit(operation.selection_set)
    result = tuple(sorted(names))
    _DIRECTIVE_VARIABLES[id(operation)] = (operation, result)
    if len(_DIRECTIVE_VARIABLES) > MAX_COMPILED:
        _DIRECTIVE_VARIABLES.popitem(last=False)
    return result


# --- delegated fields -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    """One position on the way from the compiled object to a delegated field."""

    key: str | None  # response key of a field; None for a list item
    parent_type: str | None
    nullable: bool


@dataclass(frozen=True)
class _Delegated:
    """A field left to graphql-core: where it is and how to resolve it."""

    parent_type: GraphQLObjectType
    field_details_list: FieldDetailsList
    route: tuple[_Step, ...] = field(repr=False)

    def keys(self, indices: tuple[int, ...]) -> list[Any]:
        """Response keys of each position on the route, list indices filled in."""
        positions = iter(indices)
        return [step.key if step.key is not None else next(positions) for step in self.route]

    def path(self, base: Path, keys: list[Any]) -> Path:
        """graphql-core's ``Path`` of the position after ``len(keys)`` steps."""
        for step, key in zip(self.route, keys, strict=False):
            base = base.add_key(key, step.parent_type)
        return base


# (placeholder dict, response key, source dict, the field, list indices on the way)
_Pending = tuple[dict, str, dict, _Delegated, tuple[int, ...]]


def _resolve_delegated(
    executor: CompiledExecutor,
    shaped: dict,
    pending: list[_Pending],
    base: Path,
    position_context: Any,
) -> Any:
    """Resolve the fields left to graphql-core and put their values in place.

    A non-null field that fails nulls its nearest nullable position inside the compiled
    object, as graphql-core's error propagation does; with none there, the error propagates
    out of this object like any completion error.
    """
    nulled: list[list[Any]] = []
    awaiting: list[tuple[_Pending, list[Any], Any]] = []

    def is_nulled(keys: list[Any]) -> bool:
        return any(keys[: len(prefix)] == prefix for prefix in nulled)

    def propagate(error: Exception, delegated: _Delegated, keys: list[Any]) -> None:
        for depth in range(len(keys) - 1, 0, -1):
            if delegated.route[depth - 1].nullable:
                container: Any = shaped
                for key in keys[: depth - 1]:
                    container = container[key]
                container[keys[depth - 1]] = None
                executor.collected_errors.add(error, delegated.path(base, keys[:depth]))
                nulled.append(keys[:depth])
                return
        raise error

    for item in pending:
        target, response_key, source, delegated, indices = item
        keys = delegated.keys(indices)
        if is_nulled(keys):
            continue
        try:
            value = executor.execute_field(
                delegated.parent_type,
                source,
                delegated.field_details_list,
                delegated.path(base, keys),
                position_context,
            )
        except Exception as error:  # noqa: BLE001 - a located error on its way to a nullable parent
            try:
                propagate(error, delegated, keys)
            except Exception:
                # Leaving the object: fields already started settle on their own.
                executor.settle_in_background([started for _, _, started in awaiting])
                raise
            continue
        if executor.is_awaitable(value):
            awaiting.append((item, keys, value))
        else:
            target[response_key] = value
    if not awaiting:
        return shaped

    async def settled() -> dict:
        values = await asyncio.gather(*(value for _, _, value in awaiting), return_exceptions=True)
        for (item, keys, _), value in zip(awaiting, values, strict=True):
            if isinstance(value, BaseException) and not isinstance(value, Exception):
                raise value
            if is_nulled(keys):
                continue  # graphql-core drops what lands under a nulled position
            if isinstance(value, Exception):
                propagate(value, item[3], keys)
            else:
                item[0][item[1]] = value
        return shaped

    return settled()


# --- the compiler ---------------------------------------------------------------------------


def _leaf(leaf_type: Any, value: Any) -> Any:
    """graphql-core's leaf completion, giving up where it would report an error."""
    try:
        coerced = leaf_type.coerce_output_value(value)
    except Exception:  # noqa: BLE001 - graphql-core reports it: let it
        raise _Fallback from None
    if coerced is None or coerced is Undefined:
        raise _Fallback
    return coerced


def _is_plain(name: str, field_def: Any) -> str | None:
    """The dict key a field reads when it has no resolver of its own, else ``None``.

    A field of a schema built from SDL (``schema/datapacket.py``) without a resolver reads
    its own name, as graphql-core's default resolver does.
    """
    definition = field_def.extensions.get("strawberry-definition")
    if definition is None:
        return name if field_def.resolve is None and not field_def.args else None
    if (
        field_def.args
        or not getattr(field_def.resolve, "_is_default", False)
        or definition.default_resolver is not resolve_from_dict
    ):
        return None
    return definition.python_name


#: Field metadata of a resolver that answers the source dict's value under this key when
#: there is one (``Server.provider``): the compiled function reads that value itself and
#: calls the resolver only where the key is missing.
STORED_KEY = "fleetql.stored_key"


def _stored_key(field_def: Any) -> str | None:
    definition = field_def.extensions.get("strawberry-definition")
    if definition is None or field_def.args:
        return None
    return (definition.metadata or {}).get(STORED_KEY)


class _Compiler:
    """Generates the Python source of one compiled selection and executes it."""

    def __init__(self, executor: CompiledExecutor) -> None:
        self.executor = executor
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {
            "FALLBACK": _Fallback,
            "leaf": _leaf,
        }
        self.functions = 0

    def compile(self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList):
        """A function ``(source dict, pending list, indices) -> response dict``."""
        entry = self.object_function(return_type, field_details_list, ())
        namespace = dict(self.constants)
        source = "\n".join(self.lines)
        exec(compile(source, f"<compiled {return_type.name}>", "exec"), namespace)  # noqa: S102
        return namespace[entry]

    def constant(self, value: Any, prefix: str) -> str:
        name = f"{prefix}{len(self.constants)}"
        self.constants[name] = value
        return name

    def collect(self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList):
        if any(
            d.defer_usage is not None or d.fragment_variable_values is not None
            for d in field_details_list
        ):
            raise _Uncompilable
        grouped, new_defer_usages, _ = self.executor.collect_subfields(
            object_type, field_details_list
        )
        if new_defer_usages:
            raise _Uncompilable
        return grouped

    def has_delegated(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> bool:
        """Whether any field in this selection, at any depth, has its own resolver."""
        for sub_list in self.collect(object_type, field_details_list).values():
            name = sub_list[0].node.name.value
            if name == "__typename":
                continue
            field_def = object_type.fields.get(name)
            if field_def is None:
                continue
            if _is_plain(name, field_def) is None:
                return True
            named = get_named_type(field_def.type)
            if isinstance(named, GraphQLObjectType) and self.has_delegated(named, sub_list):
                return True
        return False

    def object_function(
        self,
        object_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        route: tuple[_Step, ...],
    ) -> str:
        """Emit a function completing one object of this selection; return its name."""
        grouped = self.collect(object_type, field_details_list)
        name = f"shape_{self.functions}"
        self.functions += 1
        body: list[str] = [
            f"def {name}(src, pending, ix):",
            "    if src.__class__ is not dict:",
            "        raise FALLBACK",
            "    get = src.get",
            "    r = {}",
        ]
        for response_key, sub_list in grouped.items():
            field_name = sub_list[0].node.name.value
            key = repr(response_key)
            if field_name == "__typename":
                body.append(f"    r[{key}] = {object_type.name!r}")
                continue
            field_def = object_type.fields.get(field_name)
            if field_def is None:
                continue  # graphql-core leaves unknown fields out (validation refuses them)
            plain = _is_plain(field_name, field_def)
            nullable = not isinstance(field_def.type, GraphQLNonNull)
            step = _Step(response_key, object_type.name, nullable)
            if plain is None:
                delegated = _Delegated(object_type, sub_list, (*route, step))
                delegate = [
                    f"r[{key}] = None",
                    f"pending.append((r, {key}, src, {self.constant(delegated, 'D')}, ix))",
                ]
                stored = _stored_key(field_def)
                if stored is None:
                    body.extend(f"    {line}" for line in delegate)
                    continue
                present = get_nullable_type(field_def.type)
                body.append(f"    v = get({stored!r})")
                body.append("    if v is None:")
                body.extend(f"        {line}" for line in delegate)
                body.append("    else:")
                body.extend(
                    self.complete_present(
                        present, "v", f"r[{key}]", sub_list, (*route, step), 2, "ix"
                    )
                )
                continue
            body.append(f"    v = get({plain!r})")
            body.extend(
                self.complete(field_def.type, "v", f"r[{key}]", sub_list, (*route, step), 1, "ix")
            )
        body.append("    return r")
        self.lines.extend(body)
        self.lines.append("")
        return name

    def complete(
        self,
        value_type: GraphQLOutputType,
        value: str,
        target: str,
        field_details_list: FieldDetailsList,
        route: tuple[_Step, ...],
        depth: int,
        indices: str,
    ) -> list[str]:
        """Lines assigning the completed ``value`` (a local name) to ``target``."""
        pad = "    " * depth
        if isinstance(value_type, GraphQLNonNull):
            inner = value_type.of_type
            head = [f"{pad}if {value} is None:", f"{pad}    raise FALLBACK"]
            return head + self.complete_present(
                inner, value, target, field_details_list, route, depth, indices
            )
        return [
            f"{pad}if {value} is None:",
            f"{pad}    {target} = None",
            f"{pad}else:",
            *self.complete_present(
                value_type, value, target, field_details_list, route, depth + 1, indices
            ),
        ]

    def complete_present(
        self,
        value_type: GraphQLOutputType,
        value: str,
        target: str,
        field_details_list: FieldDetailsList,
        route: tuple[_Step, ...],
        depth: int,
        indices: str,
    ) -> list[str]:
        """Like ``complete`` for a value known not to be None."""
        pad = "    " * depth
        if is_leaf_type(value_type):
            return [f"{pad}{target} = {self.leaf_expression(value_type, value)}"]
        if isinstance(value_type, GraphQLObjectType):
            function = self.object_function(value_type, field_details_list, route)
            return [f"{pad}{target} = {function}({value}, pending, {indices})"]
        if isinstance(value_type, GraphQLList):
            item_type = value_type.of_type
            item_route = (*route, _Step(None, None, not isinstance(item_type, GraphQLNonNull)))
            named = get_named_type(item_type)
            indexed = isinstance(named, GraphQLObjectType) and self.has_delegated(
                named, field_details_list
            )
            items, item, out = f"items{depth}", f"item{depth}", f"out{depth}"
            lines = [
                f"{pad}if {value}.__class__ is not list:",
                f"{pad}    raise FALLBACK",
                f"{pad}{items} = []",
            ]
            if indexed:
                item_indices = f"ix{depth}"
                lines.append(f"{pad}for i{depth}, {item} in enumerate({value}):")
                lines.append(f"{pad}    {item_indices} = {indices} + (i{depth},)")
            else:
                item_indices = indices
                lines.append(f"{pad}for {item} in {value}:")
            lines.extend(
                self.complete(
                    item_type, item, out, field_details_list, item_route, depth + 1, item_indices
                )
            )
            lines.append(f"{pad}    {items}.append({out})")
            lines.append(f"{pad}{target} = {items}")
            return lines
        raise _Uncompilable  # interfaces and unions: graphql-core resolves the runtime type

    def leaf_expression(self, leaf_type: Any, value: str) -> str:
        """A fast expression for the common case, ``leaf(...)`` for everything else."""
        name = self.constant(leaf_type, "T")
        slow = f"leaf({name}, {value})"
        if leaf_type is GraphQLString or leaf_type is GraphQLID:
            return f"{value} if {value}.__class__ is str else {slow}"
        if leaf_type is GraphQLBoolean:
            return f"{value} if {value}.__class__ is bool else {slow}"
        if leaf_type is GraphQLInt:
            return (
                f"{value} if {value}.__class__ is int and "
                f"-2147483648 <= {value} <= 2147483647 else {slow}"
            )
        if leaf_type is GraphQLFloat:
            # Finite floats pass as they are (x - x is NaN for infinities and NaN).
            return f"{value} if {value}.__class__ is float and {value} - {value} == 0.0 else {slow}"
        if isinstance(leaf_type, GraphQLEnumType):
            names = _enum_names(leaf_type)
            lookup = self.constant(names.get, "E")
            return (
                f"({lookup}({value}) if {value}.__class__ is str else None) or {slow}"
                if names
                else slow
            )
        return slow


def _enum_names(enum_type: GraphQLEnumType) -> dict[str, str]:
    """Enum names by their string values, where graphql-core maps the value to that name."""
    names = {}
    for name, value in enum_type.values.items():
        if isinstance(value.value, str) and value.value:
            try:
                if enum_type.coerce_output_value(value.value) == name:
                    names[value.value] = name
            except (GraphQLError, ValueError, TypeError):
                continue
    return names
