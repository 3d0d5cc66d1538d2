"""One place that reads the time, always timezone-aware UTC."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """MongoDB returns naive datetimes unless the client is tz-aware; treat naive values as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
