"""How long to wait before trying something again: pure arithmetic, usable from any domain module."""

from datetime import timedelta


def retry_delay(attempts_made: int, base_seconds: float, max_seconds: float) -> timedelta:
    """Exponential backoff after ``attempts_made`` failed attempts: base, 2x base, 4x base ... capped."""
    return timedelta(seconds=min(max_seconds, base_seconds * 2 ** max(0, attempts_made - 1)))
