"""Alibaba Cloud PAI LangStudio (ROA, API version 2024-07-10), signed with ACS3-HMAC-SHA256.

Paging (ListKnowledgeBaseJobs reference): with `MaxResults`, NextToken mode (PageNumber ignored, MaxResults overrides
PageSize; an empty NextToken in the answer means done); without it, PageNumber/PageSize. The
NextToken is the offset of the next record, emitted as an integer as the seed example shows
(setting `pai_next_token="string"` emits `"20"`). Errors use the POP envelope
`{RequestId, HostId, Code, Message, Recommend}`; throttling sets `x-acs-retry-after` (milliseconds).

ListKnowledgeBaseChunks pages by PageNumber/PageSize only (the official SDK's request model has no
NextToken); `TotalCount` is the chunks the knowledge base's succeeded jobs left, so `PageSize=1`
counts them in one request. Every chunk is `Enable`; filtering by `MetaData` is refused as not
supported here. Operations of the SDK the sandbox does not serve (GetKnowledgeBase, ...) get the
POP answer for an unknown API, 404 `InvalidAction.NotFound`.
"""

from __future__ import annotations

import uuid
from types import MappingProxyType
from typing import Any

from kb_pipeline.sandbox import records
from kb_pipeline.sandbox.credentials import PAI_ACCESS_KEY_ID, PAI_ACCESS_KEY_SECRET, PAI_SECRETS
from kb_pipeline.sandbox.dataset import Dataset
from kb_pipeline.sandbox.gateway import Answer, Call, Headers, Operation, Refusal, Vendor, json_answer
from kb_pipeline.sandbox.mutations import Mutations
from kb_pipeline.sandbox.records import Record
from kb_pipeline.sandbox.signatures import AuthError, NonceLedger, SignedRequest, verify_acs3

API_VERSION = "2024-07-10"
BASE = "/api/v1/langstudio/knowledgebases"
MAX_PAGE = 100
DEFAULT_PAGE_SIZE = 10
JOB_STATUSES = ("Running", "Success", "Failed")
CHUNK_STATUSES = ("Enable", "Disable")
_UNKNOWN_API = (
    404,
    "InvalidAction.NotFound",
    "Specified api is not found, please check your url and method.",
)

_AUTH_ANSWERS = {
    "missing": (401, "IncompleteSignature", "The request signature does not conform to Aliyun standards."),
    "malformed": (401, "IncompleteSignature", "The request signature does not conform to Aliyun standards."),
    "unknown_key": (404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."),
    "mismatch": (403, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."),
    "body_hash": (403, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."),
    "expired": (400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."),
    "nonce_reused": (400, "SignatureNonceUsed", "Specified signature nonce was used already."),
}


def _invalid(name: str, value: str) -> Refusal:
    return Refusal(400, "InvalidParameter", f"The parameter {name} is invalid: {value!r}.")


def _bounded(call: Call, name: str, high: int | None = None) -> int | None:
    """An integer query parameter in [1, high]; None when absent or empty."""
    value = call.arg(name)
    if value in (None, ""):
        return None
    if not value.isdigit() or int(value) < 1 or (high is not None and int(value) > high):
        raise _invalid(name, value)
    return int(value)


def _cursor(call: Call) -> str | None:
    """The position a listing request resumes from: its NextToken, or a PageNumber after the first."""
    if call.arg("MaxResults"):
        return call.arg("NextToken") or None
    page = call.arg("PageNumber")
    return page if page not in (None, "", "1") else None


class PaiLangStudio(Vendor):
    name = "pai_langstudio"
    auth = "ACS3-HMAC-SHA256 signature (PAI_ACCESS_KEY_ID / PAI_ACCESS_KEY_SECRET)"
    default_qps = 20.0
    credentials = MappingProxyType(
        {
            "access_key_id": ("KB_SANDBOX_PAI_ACCESS_KEY_ID", PAI_ACCESS_KEY_ID),
            "access_key_secret": ("KB_SANDBOX_PAI_ACCESS_KEY_SECRET", PAI_ACCESS_KEY_SECRET),
        }
    )

    @classmethod
    def scope(cls, dataset: Dataset) -> dict[str, Any]:
        return {"region": "cn-hangzhou", "workspace_ids": list(dataset.pai_workspaces)}

    def holds(self, operation: str) -> dict[str, list[Record]]:
        listings = {
            "ListKnowledgeBases": self.dataset.pai_knowledge_bases,
            "ListKnowledgeBaseJobs": self.dataset.pai_jobs,
        }
        if operation == "ListKnowledgeBaseChunks":
            return {
                kb_id: [{"TotalCount": self.dataset.pai_chunk_total(kb_id)}]
                for kb_id in self.dataset.pai_jobs
            }
        return listings.get(operation, {})

    operations = (
        Operation("ListKnowledgeBases", "GET", BASE, "list_knowledge_bases", _cursor),
        Operation(
            "ListKnowledgeBaseJobs",
            "GET",
            BASE + "/{KnowledgeBaseId}/knowledgebasejobs",
            "list_jobs",
            _cursor,
        ),
        Operation(
            "GetKnowledgeBaseJob",
            "GET",
            BASE + "/{KnowledgeBaseId}/knowledgebasejobs/{KnowledgeBaseJobId}",
            "get_job",
        ),
        Operation(
            "ListKnowledgeBaseChunks",
            "GET",
            BASE + "/{KnowledgeBaseId}/knowledgebasechunks",
            "list_chunks",
            _cursor,
        ),
    )
    unserved_prefix = "/api/v1/langstudio/"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.nonces = NonceLedger()

    def new_request_id(self) -> str:
        return str(uuid.uuid4()).upper()

    def request_id_headers(self, request_id: str) -> Headers:
        return [("x-acs-request-id", request_id)]

    def authenticate(self, call: Call) -> None:
        request = SignedRequest(call.method, call.raw_path, call.query, call.headers, call.body)
        try:
            verify_acs3(request, PAI_SECRETS, self.nonces)
        except AuthError as error:
            status, code, message = _AUTH_ANSWERS[error.reason]
            if error.string_to_sign:  # POP shows the string it signed, so a client can find its mistake
                message += f" server string to sign is:{error.string_to_sign}"
            else:
                message += f" {error.detail[0].upper()}{error.detail[1:]}."
            raise Refusal(status, code, message) from None
        if call.header("x-acs-version") != API_VERSION:
            raise Refusal(
                400, "InvalidVersion", f"Specified parameter Version is not valid; expected {API_VERSION}."
            )
        if call.header("x-acs-action") != call.operation:
            raise Refusal(*_UNKNOWN_API)

    def requested_operation(self, call: Call) -> str:
        return call.header("x-acs-action") or call.path

    def unserved(self, call: Call) -> Refusal:
        return Refusal(*_UNKNOWN_API)

    def render(self, call: Call, refusal: Refusal) -> Answer:
        return json_answer(
            {
                "RequestId": call.request_id,
                "HostId": call.header("host") or "pailangstudio.aliyuncs.com",
                "Code": refusal.code,
                "Message": refusal.message,
                "Recommend": f"https://api.aliyun.com/troubleshoot?q={refusal.code}&product=PAILangStudio"
                f"&requestId={call.request_id}",
            },
            refusal.status,
        )

    def throttling(self, retry_after: float) -> Refusal:
        millis = max(1, round(retry_after * 1000))
        return Refusal(
            429,
            "Throttling.User",
            "Request was denied due to user flow control.",
            [("x-acs-retry-after", str(millis))],
        )

    def server_failure(self, status: int) -> Refusal:
        if status == 503:
            return Refusal(
                503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."
            )
        return Refusal(
            status,
            "InternalError",
            "The request processing has failed due to some unknown error, exception or failure.",
        )

    def insert_records(self, call: Call, count: int) -> None:
        changes = Mutations(self.dataset)
        if call.operation == "ListKnowledgeBaseJobs":
            changes.add_pai_jobs(call.path_params["KnowledgeBaseId"], count)
        elif call.operation == "ListKnowledgeBaseChunks":
            changes.add_pai_jobs(call.path_params["KnowledgeBaseId"], count, status="Success")
        else:
            for _ in range(count):
                changes.add_pai_knowledge_base(call.arg("WorkspaceId") or None)

    # operations
    def list_knowledge_bases(self, call: Call) -> Answer:
        workspace = call.arg("WorkspaceId")
        if workspace and workspace not in self.dataset.pai_knowledge_bases:
            raise Refusal(404, "InvalidWorkspaceId.NotFound", f"The workspace {workspace} does not exist.")
        pools = (
            [self.dataset.pai_knowledge_bases[workspace]]
            if workspace
            else self.dataset.pai_knowledge_bases.values()
        )
        kbs = sorted((kb for pool in pools for kb in pool), key=lambda kb: kb["GmtCreateTime"])
        name = call.arg("Name")
        exact = {
            field: call.arg(field)
            for field in ("KnowledgeBaseId", "KnowledgeBaseType", "Creator", "Accessibility")
        }
        kbs = [
            kb
            for kb in kbs
            if (not name or name in kb["Name"]) and all(not v or kb[k] == v for k, v in exact.items())
        ]
        return json_answer(self._page(call, kbs, "KnowledgeBases"))

    def list_jobs(self, call: Call) -> Answer:
        kb = self._knowledge_base(call)
        status = call.arg("Status")
        if status and status not in JOB_STATUSES:
            raise _invalid("Status", status)
        exact = {
            "Status": status,
            "JobAction": call.arg("JobAction"),
            "KnowledgeBaseJobId": call.arg("KnowledgeBaseJobId"),
            "Accessibility": call.arg("Accessibility"),
        }
        wanted = {k: v for k, v in exact.items() if v}
        jobs = self.dataset.pai_jobs[kb["KnowledgeBaseId"]]
        if wanted:
            jobs = [job for job in jobs if all(job[k] == v for k, v in wanted.items())]
        return json_answer(self._page(call, jobs, "KnowledgeBaseJobs"))

    def get_job(self, call: Call) -> Answer:
        kb = self._knowledge_base(call)
        job_id = call.path_params["KnowledgeBaseJobId"]
        job = next(
            (j for j in self.dataset.pai_jobs[kb["KnowledgeBaseId"]] if j["KnowledgeBaseJobId"] == job_id),
            None,
        )
        if job is None:
            raise Refusal(
                404, "InvalidKnowledgeBaseJobId.NotFound", f"The knowledge base job {job_id} does not exist."
            )
        return json_answer({**job, "RequestId": call.request_id})

    def list_chunks(self, call: Call) -> Answer:
        kb = self._knowledge_base(call)
        status, version = call.arg("ChunkStatus"), call.arg("VersionName")
        if status and status not in CHUNK_STATUSES:
            raise _invalid("ChunkStatus", status)
        if version and version != kb["VersionName"]:
            raise _invalid("VersionName", version)
        if any(name.startswith("MetaData") for name, _ in call.query):
            raise Refusal(
                400, "InvalidParameter", "Filtering chunks by MetaData is not supported by the sandbox."
            )
        total = 0 if status == "Disable" else self.dataset.pai_chunk_total(kb["KnowledgeBaseId"])
        size = _bounded(call, "PageSize", MAX_PAGE) or DEFAULT_PAGE_SIZE
        number = _bounded(call, "PageNumber") or 1
        if call.fault is not None and call.fault.kind == "repeat_cursor" and number > 1:
            number -= 1
        first = (number - 1) * size
        chunks = [records.pai_chunk(kb, n) for n in range(first, min(first + size, total))]
        return json_answer(
            {
                "KnowledgeBaseChunks": chunks,
                "MaxResults": size,
                "RequestId": call.request_id,
                "TotalCount": total,
            }
        )

    def _knowledge_base(self, call: Call) -> Record:
        kb_id = call.path_params["KnowledgeBaseId"]
        kb = self.dataset.pai_knowledge_base(kb_id)
        workspace = call.arg("WorkspaceId")
        if kb is None or (workspace and kb["WorkspaceId"] != workspace):
            raise Refusal(
                404, "InvalidKnowledgeBaseId.NotFound", f"The knowledge base {kb_id} does not exist."
            )
        return kb

    def _page(self, call: Call, items: list[Record], key: str) -> dict[str, Any]:
        """One page of `items` (oldest first) in the order and mode the request asks for."""
        sort_by = call.arg("SortBy")
        if sort_by and sort_by != "GmtCreateTime":
            raise _invalid("SortBy", sort_by)
        order = call.arg("Order") or "DESC"
        if order not in ("ASC", "DESC"):
            raise _invalid("Order", order)
        ordered = items if order == "ASC" else items[::-1]
        repeat = call.fault is not None and call.fault.kind == "repeat_cursor"
        max_results = _bounded(call, "MaxResults", MAX_PAGE)
        page: dict[str, Any] = {key: [], "RequestId": call.request_id, "TotalCount": len(ordered)}
        if max_results is not None:
            token = call.arg("NextToken") or "0"
            if not token.isdigit():
                raise _invalid("NextToken", token)
            offset = int(token)
            end = offset + max_results
            page[key] = ordered[offset:end]
            following = offset if repeat else (end if end < len(ordered) else None)
            page["MaxResults"] = max_results
            page["NextToken"] = self._token(following)
        else:
            size = _bounded(call, "PageSize", MAX_PAGE) or DEFAULT_PAGE_SIZE
            number = _bounded(call, "PageNumber") or 1
            if repeat and number > 1:
                number -= 1
            page[key] = ordered[(number - 1) * size : number * size]
            page["MaxResults"] = size
        return page

    def _token(self, offset: int | None) -> int | str:
        if offset is None:
            return ""
        return offset if self.settings.pai_next_token == "int" else str(offset)


VENDOR = PaiLangStudio
