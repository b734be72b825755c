"""Custom scalars of the DataPacket schema."""

from __future__ import annotations

from typing import NewType

import strawberry

from providers.datetimes import format_datetime, parse_datetime

__all__ = ["DATETIME_SCALAR", "DateTime"]


#: The annotation used by types and inputs; ``schema`` maps it to ``DATETIME_SCALAR``.
DateTime = NewType("DateTime", str)

DATETIME_SCALAR = strawberry.scalar(
    name="DateTime",
    description=(
        "A date-time string at UTC, such as 2007-12-03T10:15:30Z, compliant with the date-time "
        "format outlined in section 5.6 of the RFC 3339 profile of the ISO 8601 standard for "
        "representation of dates and times using the Gregorian calendar.This scalar is serialized "
        "to a string in ISO 8601 format and parsed from a string in ISO 8601 format."
    ),
    serialize=format_datetime,
    parse_value=parse_datetime,
)
