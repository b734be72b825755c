"""Error messages in graphql-js's wording, which DataPacket's server (graphql-js) answers in.

Clients match on these texts (``Cannot query field "x" on type "Y".``), so FleetQL words them
as graphql-js does: names and values in double quotes, ``null``, ``true`` and ``false``.
``quoted`` renders a value in FleetQL's own messages; ``graphql_js`` translates graphql-core's,
which quote with single quotes and print Python's ``None``, ``True`` and ``False``.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

__all__ = ["NOT_AUTHORIZED", "graphql_js", "quoted"]

#: DataPacket's message for NOT_AUTHORIZED ("not authorized" is what its clients look for).
NOT_AUTHORIZED = "You are not authorized to perform this action"

#: graphql-core 3.3 words variable coercion as graphql-js 17 does; DataPacket's graphql-js
#: (16) words these two, which clients check for, differently. Matched after the quotes.
_MESSAGES = (
    (
        re.compile(
            r'^Variable "\$(\w+)" has invalid value: '
            r'Expected value of non-null type "([^"]+)" not to be null\.$'
        ),
        'Variable "$\\1" of non-null type "\\2" must not be null.',
    ),
    (
        re.compile(
            r'^Variable "\$(\w+)" has invalid value: '
            r'Expected a value of non-null type "([^"]+)" to be provided\.$'
        ),
        'Variable "$\\1" of required type "\\2" was not provided.',
    ),
)
#: A single-quoted name or Python string repr (escapes included), as graphql-core prints them.
_SINGLE_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'")
_PYTHON_LITERALS = re.compile(r"\b(None|True|False)\b")
_JS_LITERALS = {"None": "null", "True": "true", "False": "false"}


def quoted(value: Any) -> str:
    """``value`` as graphql-js prints it in a message: ``"DP-1"``, ``null``, ``12``, ``true``.

    Example:
        ``f"No server matches name={quoted('DP-1')}."`` is ``No server matches name="DP-1".``
    """
    return json.dumps(value, ensure_ascii=False, default=str)


def graphql_js(message: str) -> str:
    """graphql-core's message (parse, validation, variable coercion) in graphql-js's wording.

    Example:
        ``graphql_js("Cannot query field 'x' on type 'Account'.")`` is
        ``Cannot query field "x" on type "Account".``
    """
    translated = _double_quoted(message)
    for pattern, replacement in _MESSAGES:
        translated, count = pattern.subn(replacement, translated)
        if count:
            break
    return translated


def _double_quoted(message: str) -> str:
    """Single-quoted parts in double quotes; Python's literals outside them as JSON's."""
    parts, end = [], 0
    for match in _SINGLE_QUOTED.finditer(message):
        parts.append(_js_literals(message[end : match.start()]))
        parts.append(_as_json_string(match.group()))
        end = match.end()
    parts.append(_js_literals(message[end:]))
    return "".join(parts)


def _js_literals(text: str) -> str:
    return _PYTHON_LITERALS.sub(lambda match: _JS_LITERALS[match.group()], text)


def _as_json_string(single_quoted: str) -> str:
    """A Python-repr string in double quotes, its text unescaped (a message is read by people:
    graphql-js does not escape a name or a nested message it quotes either)."""
    try:
        value = ast.literal_eval(single_quoted)
    except (SyntaxError, ValueError):
        value = None
    return '"' + (value if isinstance(value, str) else single_quoted[1:-1]) + '"'
