"""When to try a failed call again and how long to wait: exponential backoff with full jitter,
Retry-After honoured, bounded both in attempts and in total time."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from kb_pipeline.http.errors import ApiError


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retries of one call.

    After failed attempt n a retryable failure waits a random time in
    [0, min(max_backoff_s, initial_backoff_s * 2**(n-1))] (full jitter), or exactly the vendor's
    retry-after when it gave one. No wait starts that would end past `max_total_s` after the
    first attempt: the call gives up at once instead (an attempt in flight is bounded by the
    HTTP client's timeouts).
    """

    max_attempts: int = 6
    initial_backoff_s: float = 0.2
    max_backoff_s: float = 20.0
    max_total_s: float = 120.0

    def retrying(self, before_sleep: Callable[[RetryCallState], None] | None = None) -> AsyncRetrying:
        """A fresh tenacity controller for one call (it re-raises the last ApiError when it gives up)."""
        return AsyncRetrying(
            retry=retry_if_exception(_is_retryable),
            stop=stop_after_attempt(self.max_attempts) | stop_before_delay(self.max_total_s),
            wait=_HonourRetryAfter(wait_random_exponential(self.initial_backoff_s, self.max_backoff_s)),
            before_sleep=before_sleep,
            reraise=True,
        )


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, ApiError) and error.retryable


@dataclass(frozen=True)
class _HonourRetryAfter:
    """Waits what the vendor asked for, else what the jittered backoff draws."""

    backoff: wait_random_exponential

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, ApiError) and error.retry_after_s is not None:
            return max(error.retry_after_s, 0.0)
        return self.backoff(state)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from an HTTP `Retry-After` value (delta-seconds or an HTTP date), else None."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
