"""Custom scalars of the DataPacket schema."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NewType

import strawberry

__all__ = ["DATETIME_SCALAR", "DateTime", "format_datetime", "parse_datetime"]


def format_datetime(value: datetime | str) -> str:
    """Render a datetime the way DataPacket does: UTC, milliseconds, trailing ``Z``."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_datetime(value: object) -> datetime:
    """Parse an RFC 3339 date-time string into an aware UTC datetime."""
    if not isinstance(value, str):
        raise ValueError("DateTime must be an RFC 3339 string such as 2025-01-14T17:07:11.144Z")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"Invalid DateTime {value!r}: expected RFC 3339") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"Invalid DateTime {value!r}: a UTC offset is required")
    return parsed.astimezone(UTC)


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
