"""DataPacket's DateTime wire format (RFC 3339 at UTC), for the schema's scalar and for what
adapters send upstream or read from it."""

from __future__ import annotations

from datetime import UTC, datetime

from errors import quoted

__all__ = ["format_datetime", "parse_datetime"]


def format_datetime(value: datetime | str) -> str:
    """Render a datetime the way DataPacket does: UTC, milliseconds, trailing ``Z``.

    RFC 3339 throughout: the year has four digits (``0036-01-01T00:00:00.000Z``), which
    ``strftime("%Y")`` does not promise (glibc writes ``36``).
    """
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    utc = value.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="milliseconds") + "Z"


def parse_datetime(value: object) -> datetime:
    """Parse an RFC 3339 date-time string into an aware UTC datetime."""
    if not isinstance(value, str):
        raise ValueError("DateTime must be an RFC 3339 string such as 2025-01-14T17:07:11.144Z")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"Invalid DateTime {quoted(value)}: expected RFC 3339") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"Invalid DateTime {quoted(value)}: a UTC offset is required")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:30:00+01:00 is in year 0 at UTC, which has no datetime.
        raise ValueError(
            f"Invalid DateTime {quoted(value)}: outside years 0001 to 9999 at UTC"
        ) from None
