"""Typed failures of a vendor call: where it failed, what the vendor said, and whether to retry.

Messages are built from the vendor's own code, request id and message only: no URL, header or
credential ever goes into one, so they are safe to log and to show in the Dagster UI.
"""

from __future__ import annotations

MAX_MESSAGE_CHARS = 500


class ApiError(Exception):
    """A failed call to a vendor API.

    `str()` reads like
    `qianfan.documents DescribeDocuments: HTTP 401 UnauthorizedError (request id abc-123): invalid api key`.
    `stream` is the full stream name (e.g. `qianfan.documents`); without one the source is named.
    """

    retryable_by_default = False

    def __init__(
        self,
        message: str,
        *,
        source: str = "",
        stream: str = "",
        endpoint: str = "",
        http_status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retryable: bool | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = _shorten(message)
        self.source = source
        self.stream = stream
        self.endpoint = endpoint
        self.http_status = http_status
        self.code = code
        self.request_id = request_id
        self.retryable = self.retryable_by_default if retryable is None else retryable
        self.retry_after_s = retry_after_s
        self.attempts = 1

    def __str__(self) -> str:
        where = " ".join(part for part in (self.stream or self.source, self.endpoint) if part)
        said = " ".join(
            part
            for part in (
                f"HTTP {self.http_status}" if self.http_status is not None else "",
                self.code or "",
                f"(request id {self.request_id})" if self.request_id else "",
            )
            if part
        )
        text = ": ".join(part for part in (where, said, self.message) if part)
        if self.attempts > 1:
            text += f" (gave up after {self.attempts} attempts)"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class AuthError(ApiError):
    """The credentials were refused (HTTP 401/403): retrying cannot help."""


class NotFoundError(ApiError):
    """The resource does not exist (HTTP 404, or the vendor's own not-found code)."""


class ThrottledError(ApiError):
    """The vendor asked us to slow down (429, a throttling code or a retry-after header)."""

    retryable_by_default = True


class TransportError(ApiError):
    """No usable answer arrived: connection refused or dropped, or a timeout."""

    retryable_by_default = True


class MalformedResponseError(ApiError):
    """The answer was not the JSON expected (not JSON, truncated, or missing a required part)."""

    retryable_by_default = True


class PaginationError(ApiError):
    """A listing cannot go on safely: a cursor repeats, a page is served twice, or max_pages is hit."""


def _shorten(message: str) -> str:
    message = " ".join(message.split())
    return message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 1] + "…"
