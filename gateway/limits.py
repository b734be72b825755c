"""Inbound query limits, checked on the parsed document before anything executes.

``query_limits_rule`` makes them one graphql-core ``ValidationRule``, which the HTTP layer runs
on the document it parsed, after rate limiting and before strawberry executes that document.
It is made per request, since the cost reads the variables (``pageSize``) and the operations
``operationName`` chose; a refusal is one ``GRAPHQL_VALIDATION_FAILED`` error naming the first
limit passed (``extensions.limit``, ``allowed``, ``actual``).

Depth, aliases and operations per document are counted on the syntax tree (fragments
expanded); the size in tokens is enforced by the parser (``max_tokens``, as strawberry's
``MaxTokensLimiter`` does), so a document too long is never parsed in full. The cost
estimate counts fan-out, i.e. upstream work: each root field costs 10 (a call per
provider); below it each field costs 1 per item of the page it sits in (``pageSize`` entries
multiply what is below them; lists nested in an item arrive in the same upstream payload and
do not); and a field that may need an extra upstream call per server costs 5 more, so 50
servers with network details cost far more than 50 names.

The count costs work linear in the document, however its fragments spread each other: a
fragment is walked once per context its value depends on (at the root or not, and the page
size in force below the root), and every later spread in that context adds the remembered
value, scaled by the spread's multiplier. Counting stops as soon as a limit is passed. A
spread of a fragment being walked closes a cycle and is skipped, as is an unknown fragment
(validation refuses both); in a cyclic document a fragment's remembered value is the one
of the first path that reached it.

Last, graphql-core's check that same-named fields can be merged, whose work grows with the
square of the document, runs on a budget of ``max_merge_work`` units.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    validate,
    value_from_ast_untyped,
)
from graphql.validation import OverlappingFieldsCanBeMergedRule
from graphql.validation.validate import ValidationAbortedError

from errors import GraphQLValidationFailed

__all__ = [
    "DocumentCounter",
    "QueryLimits",
    "limits_refusal",
    "query_limits_rule",
    "uses_introspection",
]

#: Fields that may cost an extra upstream call per server on some backends.
EXTRA_CALL_FIELDS = {("Server", "powerStatus"), ("Server", "network"), ("Server", "system")}
EXTRA_CALL_COST = 5
ROOT_FIELD_COST = 10
DEFAULT_PAGE_SIZE = 50
INTROSPECTION_FIELDS = ("__schema", "__type")


@dataclass(frozen=True)
class QueryLimits:
    """Configured under ``[limits]``; every limit is named in the error it causes."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_operations: int = 10
    max_cost: int = 20000
    max_body_bytes: int = 100_000
    max_merge_work: int = 10_000


def limits_refusal(
    schema: GraphQLSchema,
    document: DocumentNode,
    operations: list[OperationDefinitionNode],
    variables: dict[str, Any] | None,
    limits: QueryLimits,
    *,
    introspection: bool = True,
) -> GraphQLError | None:
    """The ``GRAPHQL_VALIDATION_FAILED`` refusal naming the first limit ``operations`` pass.

    ``document`` is validated with ``query_limits_rule`` alone; ``None``: within every limit
    (the full validation, cached by strawberry, follows).
    """
    rule = query_limits_rule(limits, operations, variables, introspection=introspection)
    errors = validate(schema, document, [rule])
    # Any other error (graphql-core aborting a document nested too deeply, say) is left to
    # the full validation, which reports it in its own order.
    return next((e for e in errors if isinstance(e.original_error, GraphQLValidationFailed)), None)


def query_limits_rule(
    limits: QueryLimits,
    operations: list[OperationDefinitionNode],
    variables: dict[str, Any] | None,
    *,
    introspection: bool = True,
) -> type[ValidationRule]:
    """A ``ValidationRule`` refusing the first limit ``operations`` pass, in one traversal.

    On entering the document it counts operations, depth, aliases and cost
    (``DocumentCounter``); the traversal then runs graphql-core's field-merging check on the
    ``max_merge_work`` budget; last, with ``introspection`` False, a document asking for
    ``__schema`` or ``__type`` is refused. A refusal is raised as graphql-core's
    ``ValidationAbortedError`` (``validate`` stops there and returns it last), its
    ``original_error`` the ``GraphQLValidationFailed`` naming the limit; merge conflicts and
    other findings are left to the full validation that follows.

    Example:
        ``validate(schema, document, [query_limits_rule(QueryLimits(), operations, None)])``
    """

    class QueryLimitsRule(_BudgetedMerging):
        #: What the last validation with this rule counted (for tests and the benchmarks).
        counter: DocumentCounter | None = None
        merge_work = 0

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context, limits.max_merge_work)

        def enter_document(self, node: DocumentNode, *_args: object) -> None:
            with _refusing():
                if len(operations) > limits.max_operations:
                    _exceeded("max_operations", limits.max_operations, len(operations))
                QueryLimitsRule.counter = DocumentCounter(
                    self.context.schema, node, variables, limits
                )
                QueryLimitsRule.counter.count(operations)

        def enter_selection_set(self, *args: Any) -> None:
            try:
                super().enter_selection_set(*args)
            except ValidationAbortedError:
                QueryLimitsRule.merge_work = self.work
                if self.work <= self.budget:
                    raise  # not the budget: graphql-core aborted for a reason of its own
                with _refusing():
                    _exceeded("max_merge_work", self.budget, self.work, at_least=True)

        def leave_document(self, node: DocumentNode, *_args: object) -> None:
            QueryLimitsRule.merge_work = self.work
            if not introspection and uses_introspection(node):
                with _refusing():
                    raise GraphQLValidationFailed("Introspection is disabled on this gateway.")

        def report_error(self, error: GraphQLError) -> None:
            """Merge conflicts: the full validation reports them, among its other findings."""

    return QueryLimitsRule


@contextmanager
def _refusing() -> Iterator[None]:
    """A limit's ``GraphQLValidationFailed``, raised so that graphql-core's validation stops."""
    try:
        yield
    except GraphQLValidationFailed as refusal:
        raise ValidationAbortedError(refusal.message, original_error=refusal) from None


def uses_introspection(document: DocumentNode) -> bool:
    """Whether any selection asks for ``__schema`` or ``__type``."""
    # Fields sit only in selection sets; an explicit stack looks at each selection once.
    pending: list[SelectionSetNode] = [
        definition.selection_set
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode) and selection.name.value in INTROSPECTION_FIELDS:
                return True
            nested = getattr(selection, "selection_set", None)
            if nested is not None:
                pending.append(nested)
    return False


def _exceeded(limit: str, allowed: int, actual: int, *, at_least: bool = False) -> NoReturn:
    bound = "at least " if at_least else ""
    raise GraphQLValidationFailed(
        f"The query exceeds the {limit} limit ({bound}{actual} > {allowed}).",
        limit=limit,
        allowed=allowed,
        actual=actual,
    )


@dataclass(frozen=True)
class _Contribution:
    """What one spread of a fragment adds, in one context."""

    #: Estimated cost at a multiplier of 1 (a spread adds ``multiplier * cost``).
    cost: int
    aliases: int
    #: Selection levels below the spread's own (0: the fragment selects leaves only).
    depth: int


@dataclass(slots=True)
class _Level:
    """A selection set being walked, and what it is walked as."""

    selections: Iterator[SelectionNode]
    parent: Any
    depth: int
    multiplier: int
    page_size: int
    #: The deepest level reached so far in this selection set and below it.
    deepest: int
    #: Set on the body of a fragment spread: its memo key and the totals when it began.
    fragment: tuple[str, tuple[bool, int]] | None = None
    cost_before: int = 0
    aliases_before: int = 0


class DocumentCounter:
    """Depth, aliases and estimated cost of a document's operations, in one linear pass.

    Example:
        ``DocumentCounter(schema, document, variables, QueryLimits()).count(operations)``
        raises ``GRAPHQL_VALIDATION_FAILED`` (``extensions.limit``) the moment a limit is
        passed; ``actual`` is then what was counted so far, a lower bound. ``visited`` counts
        the selections looked at, for tests that assert the work stays linear.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: dict[str, Any] | None,
        limits: QueryLimits,
    ) -> None:
        self.schema = schema
        self.document = document
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variables = variables or {}
        self.limits = limits
        self.max_depth = 0
        self.aliases = 0
        self.cost = 0
        self.visited = 0
        # (fragment name, (at the root, page size in force)) -> what a spread there adds.
        self._contributions: dict[tuple[str, tuple[bool, int]], _Contribution] = {}
        # Fragments being walked: a spread of one of them closes a cycle and is skipped.
        self._open_fragments: set[str] = set()

    def count(self, operations: list[OperationDefinitionNode]) -> None:
        """Count every operation, raising as soon as a limit is passed."""
        for operation in operations:
            root = self.schema.get_root_type(operation.operation)
            self._walk(self._level(operation.selection_set, root, 1, 1, DEFAULT_PAGE_SIZE))

    def _walk(self, top: _Level) -> None:
        # An explicit stack rather than recursion: fragments may spread each other hundreds
        # deep within the token limit, and nesting does not always add depth.
        stack = [top]
        while stack:
            level = stack[-1]
            node = next(level.selections, None)
            if node is None:
                stack.pop()
                self._leave(level)
                if stack:
                    stack[-1].deepest = max(stack[-1].deepest, level.deepest)
                continue
            self.visited += 1
            if isinstance(node, FieldNode):
                below = self._field(node, level)
            elif isinstance(node, FragmentSpreadNode):
                below = self._spread(node, level)
            else:  # an inline fragment, the only other kind of selection
                condition = node.type_condition
                parent = self.schema.get_type(condition.name.value) if condition else level.parent
                below = self._level(
                    node.selection_set, parent, level.depth, level.multiplier, level.page_size
                )
            if below is not None:
                stack.append(below)

    def _level(
        self,
        selection_set: SelectionSetNode,
        parent: Any,
        depth: int,
        multiplier: int,
        page_size: int,
    ) -> _Level:
        self._reach(depth)
        return _Level(iter(selection_set.selections), parent, depth, multiplier, page_size, depth)

    def _spread(self, node: FragmentSpreadNode, level: _Level) -> _Level | None:
        name = node.name.value
        fragment = self.fragments.get(name)
        if fragment is None or name in self._open_fragments:
            return None  # unknown or cyclic: validation reports it
        # Below the root only the page size in force changes what a fragment adds; at the
        # root each root field reads its own.
        context = (True, 0) if level.depth == 1 else (False, level.page_size)
        known = self._contributions.get((name, context))
        if known is not None:
            reached = level.depth + known.depth
            self._reach(reached)
            level.deepest = max(level.deepest, reached)
            self._add_aliases(known.aliases)
            self._add_cost(level.multiplier * known.cost)
            return None
        self._open_fragments.add(name)
        target = self.schema.get_type(fragment.type_condition.name.value)
        body = self._level(
            fragment.selection_set, target, level.depth, level.multiplier, level.page_size
        )
        body.fragment = (name, context)
        body.cost_before, body.aliases_before = self.cost, self.aliases
        return body

    def _leave(self, level: _Level) -> None:
        if level.fragment is None:
            return
        name, _ = level.fragment
        self._open_fragments.discard(name)
        # Every cost added within the body was a multiple of the spread's multiplier.
        self._contributions[level.fragment] = _Contribution(
            cost=(self.cost - level.cost_before) // level.multiplier,
            aliases=self.aliases - level.aliases_before,
            depth=level.deepest - level.depth,
        )

    def _field(self, node: FieldNode, level: _Level) -> _Level | None:
        if node.alias is not None:
            self._add_aliases(1)
        name = node.name.value
        parent = level.parent
        cost = ROOT_FIELD_COST if level.depth == 1 else 1
        if (getattr(parent, "name", ""), name) in EXTRA_CALL_FIELDS:
            cost += EXTRA_CALL_COST
        self._add_cost(level.multiplier * cost)
        definition = getattr(parent, "fields", {}).get(name)
        if node.selection_set is None or definition is None:
            return None
        page_size = self._page_size(node) if level.depth == 1 else level.page_size
        field_type = definition.type
        while isinstance(field_type, GraphQLNonNull):
            field_type = field_type.of_type
        items = 1
        if isinstance(field_type, GraphQLList) and (level.depth == 1 or name == "entries"):
            items = page_size
        while isinstance(field_type, GraphQLList | GraphQLNonNull):
            field_type = field_type.of_type
        target = field_type if isinstance(field_type, GraphQLObjectType) else None
        return self._level(
            node.selection_set, target, level.depth + 1, level.multiplier * items, page_size
        )

    def _reach(self, depth: int) -> None:
        self.max_depth = max(self.max_depth, depth)
        if depth > self.limits.max_depth:
            _exceeded("max_depth", self.limits.max_depth, depth, at_least=True)

    def _add_aliases(self, count: int) -> None:
        self.aliases += count
        if self.aliases > self.limits.max_aliases:
            _exceeded("max_aliases", self.limits.max_aliases, self.aliases, at_least=True)

    def _add_cost(self, cost: int) -> None:
        self.cost += cost
        if self.cost > self.limits.max_cost:
            _exceeded("max_cost", self.limits.max_cost, self.cost, at_least=True)

    def _page_size(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value == "input":
                value = value_from_ast_untyped(argument.value, self.variables)
                if isinstance(value, dict) and isinstance(value.get("pageSize"), int):
                    return max(1, min(value["pageSize"], DEFAULT_PAGE_SIZE))
        return DEFAULT_PAGE_SIZE


class _BudgetedMerging(OverlappingFieldsCanBeMergedRule):
    """graphql-core's OverlappingFieldsCanBeMergedRule, given up after ``budget`` units."""

    def __init__(self, context: ValidationContext, budget: int) -> None:
        super().__init__(context)
        # The rule meters its own work in its context; the module-wide default is too high.
        self.rule_context.remaining_complexity_budget = budget
        self.budget = budget

    @property
    def work(self) -> int:
        """Units of work done so far (more than the budget once given up)."""
        return self.budget - self.rule_context.remaining_complexity_budget
