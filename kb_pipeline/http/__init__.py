"""The one async HTTP client every vendor shares: retries, rate limits, typed errors, paging."""

from kb_pipeline.http.client import (
    ClientStats,
    ErrorInfo,
    ErrorParser,
    JsonResponse,
    VendorClient,
    create_http_client,
    default_request_id,
    http_error_parser,
)
from kb_pipeline.http.errors import (
    ApiError,
    AuthError,
    MalformedResponseError,
    NotFoundError,
    PaginationError,
    ThrottledError,
    TransportError,
)
from kb_pipeline.http.paginators import (
    ApiPage,
    Cursor,
    HeaderPagePaginator,
    MarkerPaginator,
    NextTokenPaginator,
    Paginator,
    RequestSpec,
    SinglePage,
    Step,
    dig,
    paginate,
)
from kb_pipeline.http.paths import expand_path
from kb_pipeline.http.retry import RetryPolicy, parse_retry_after

__all__ = [
    "ApiError",
    "ApiPage",
    "AuthError",
    "ClientStats",
    "Cursor",
    "ErrorInfo",
    "ErrorParser",
    "HeaderPagePaginator",
    "JsonResponse",
    "MalformedResponseError",
    "MarkerPaginator",
    "NextTokenPaginator",
    "NotFoundError",
    "PaginationError",
    "Paginator",
    "RequestSpec",
    "RetryPolicy",
    "SinglePage",
    "Step",
    "ThrottledError",
    "TransportError",
    "VendorClient",
    "create_http_client",
    "default_request_id",
    "dig",
    "expand_path",
    "http_error_parser",
    "paginate",
    "parse_retry_after",
]
