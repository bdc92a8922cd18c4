"""PAI LangStudio pinned to its ListKnowledgeBaseJobs reference page and official SDK: job and KB fields, NextToken vs PageNumber
paging, filters, the flattened GetKnowledgeBaseJob, and the POP error envelope."""

from __future__ import annotations

import re

import pytest
from sandbox_clients import PAI_BASE, Pai

from kb_pipeline.sandbox import SandboxServer

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
JOB_FIELDS = {  # the reference page's example KnowledgeBaseJob, key for key
    "WorkspaceId": str,
    "Accessibility": str,
    "Creator": str,
    "GmtCreateTime": str,
    "GmtModifiedTime": str,
    "KnowledgeBaseId": str,
    "KnowledgeBaseJobId": str,
    "JobAction": str,
    "Description": str,
    "Status": str,
    "ResourceId": str,
    "EcsSpecs": list,
    "UserVpc": dict,
    "MaxRunningTimeInSeconds": int,
    "GmtFinishTime": str,
    "ErrorMessage": str,
    "PipelineRunInfo": dict,
    "KnowledgeBaseJobResult": dict,
    "EmbeddingConfig": dict,
}
ECS_FIELDS = {
    "Type": str,
    "InstanceType": str,
    "PodCount": int,
    "CPU": int,
    "GPU": int,
    "Memory": int,
    "SharedMemory": int,
    "GPUType": str,
    "Driver": str,
}
KB_FIELDS = {  # the official SDK's KnowledgeBase model
    "Accessibility",
    "AutoUpdateConfig",
    "ChunkConfig",
    "Creator",
    "DataSources",
    "DatasetId",
    "Description",
    "EmbeddingConfig",
    "GmtCreateTime",
    "GmtModifiedTime",
    "IndexColumnConfig",
    "KnowledgeBaseId",
    "KnowledgeBaseType",
    "MetaDataConfig",
    "Name",
    "OutputDir",
    "RuntimeId",
    "VectorDBConfig",
    "VersionName",
    "WorkspaceId",
}


@pytest.fixture(scope="module")
def busiest(shared: SandboxServer) -> str:
    """The KB with the most jobs."""
    jobs = shared.dataset.pai_jobs
    return max(jobs, key=lambda kb: len(jobs[kb]))


def _types_match(record: dict, fields: dict[str, type]) -> bool:
    return set(record) == set(fields) and all(isinstance(record[k], t) for k, t in fields.items())


def test_job_fields_and_types_match_the_seed(shared: SandboxServer, busiest: str) -> None:
    page = Pai(shared.url).jobs(busiest, MaxResults=100).json()
    assert set(page) == {"KnowledgeBaseJobs", "MaxResults", "NextToken", "RequestId", "TotalCount"}
    for job in page["KnowledgeBaseJobs"]:
        assert _types_match(job, JOB_FIELDS)
        assert all(_types_match(spec, ECS_FIELDS) for spec in job["EcsSpecs"])
        assert set(job["UserVpc"]) == {"VpcId", "VSwitchId", "SecurityGroupId"}
        assert set(job["EmbeddingConfig"]) == {"BatchSize", "Concurrency"}
        result = job["KnowledgeBaseJobResult"]
        assert set(result) == {"TotalFileCount", "AddChunkCount", "DeleteChunkCount", "FileMetas"}
        assert all(set(f) == {"FileMetaId", "FileName", "FileUri", "Action"} for f in result["FileMetas"])
        assert ISO_Z.match(job["GmtCreateTime"]) and ISO_Z.match(job["GmtModifiedTime"])
        assert (job["GmtFinishTime"] == "") == (job["Status"] == "Running")
        assert (job["ErrorMessage"] != "") == (job["Status"] == "Failed")


def test_next_token_mode_walks_every_job_newest_first(shared: SandboxServer, busiest: str) -> None:
    pai, seen, token = Pai(shared.url), [], None
    while True:
        query = {"MaxResults": 7, "PageNumber": 3} | ({"NextToken": token} if token is not None else {})
        page = pai.jobs(busiest, **query).json()
        assert page["MaxResults"] == 7 and len(page["KnowledgeBaseJobs"]) <= 7
        seen += [j["KnowledgeBaseJobId"] for j in page["KnowledgeBaseJobs"]]
        if page["NextToken"] == "":
            break
        assert isinstance(page["NextToken"], int)  # as the seed example shows
        token = page["NextToken"]
    expected = sorted(shared.dataset.pai_jobs[busiest], key=lambda j: j["GmtCreateTime"], reverse=True)
    assert seen == [j["KnowledgeBaseJobId"] for j in expected]


def test_max_results_overrides_page_size(shared: SandboxServer, busiest: str) -> None:
    page = Pai(shared.url).jobs(busiest, MaxResults=4, PageSize=50).json()
    assert len(page["KnowledgeBaseJobs"]) == 4 and page["MaxResults"] == 4


def test_page_number_mode_without_max_results(shared: SandboxServer, busiest: str) -> None:
    pai, total = Pai(shared.url), len(shared.dataset.pai_jobs[busiest])
    pages = [
        pai.jobs(busiest, PageNumber=n, PageSize=10, Order="ASC").json() for n in range(1, total // 10 + 3)
    ]
    assert all("NextToken" not in p and p["TotalCount"] == total for p in pages)
    seen = [j["KnowledgeBaseJobId"] for p in pages for j in p["KnowledgeBaseJobs"]]
    assert seen == [j["KnowledgeBaseJobId"] for j in shared.dataset.pai_jobs[busiest]]
    first = pai.jobs(busiest).json()["KnowledgeBaseJobs"]
    assert (
        pai.jobs(busiest, NextToken=10).json()["KnowledgeBaseJobs"] == first
    )  # NextToken alone: still pages


def test_string_next_token_setting(fresh: SandboxServer) -> None:
    fresh.control.configure(pai_next_token="string")
    kb_id = max(fresh.dataset.pai_jobs, key=lambda kb: len(fresh.dataset.pai_jobs[kb]))
    assert Pai(fresh.url).jobs(kb_id, MaxResults=1).json()["NextToken"] == "1"


def test_filters_by_status_action_and_job_id(shared: SandboxServer, busiest: str) -> None:
    pai, jobs = Pai(shared.url), shared.dataset.pai_jobs[busiest]
    for status in ("Running", "Success", "Failed"):
        page = pai.jobs(busiest, Status=status, MaxResults=100).json()
        assert page["TotalCount"] == sum(j["Status"] == status for j in jobs)
        assert {j["Status"] for j in page["KnowledgeBaseJobs"]} <= {status}
    assert pai.jobs(busiest, JobAction="SyncIndex", MaxResults=1).json()["TotalCount"] == len(jobs)
    assert pai.jobs(busiest, JobAction="Other").json()["TotalCount"] == 0
    wanted = jobs[len(jobs) // 2]["KnowledgeBaseJobId"]
    page = pai.jobs(busiest, KnowledgeBaseJobId=wanted).json()
    assert [j["KnowledgeBaseJobId"] for j in page["KnowledgeBaseJobs"]] == [wanted]


def test_get_job_is_flattened_with_request_id(shared: SandboxServer, busiest: str) -> None:
    job = shared.dataset.pai_jobs[busiest][0]
    answer = Pai(shared.url).get(
        f"{PAI_BASE}/{busiest}/knowledgebasejobs/{job['KnowledgeBaseJobId']}", action="GetKnowledgeBaseJob"
    )
    body = answer.json()
    assert body.pop("RequestId") == answer.headers["x-acs-request-id"]
    assert body == job


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"MaxResults": 101}, "InvalidParameter"),
        ({"MaxResults": 0}, "InvalidParameter"),
        ({"Status": "Done"}, "InvalidParameter"),
        ({"SortBy": "Name"}, "InvalidParameter"),
        ({"Order": "UP"}, "InvalidParameter"),
        ({"MaxResults": 5, "NextToken": "abc"}, "InvalidParameter"),
    ],
)
def test_invalid_parameters_are_400(shared: SandboxServer, busiest: str, query: dict, code: str) -> None:
    answer = Pai(shared.url).jobs(busiest, **query)
    assert answer.status_code == 400 and answer.json()["Code"] == code


def test_unknown_kb_and_job_are_404(shared: SandboxServer, busiest: str) -> None:
    pai = Pai(shared.url)
    assert pai.jobs("d-nosuchkb00").json()["Code"] == "InvalidKnowledgeBaseId.NotFound"
    assert pai.jobs("d-nosuchkb00").status_code == 404
    answer = pai.get(f"{PAI_BASE}/{busiest}/knowledgebasejobs/kbjob-nosuch", action="GetKnowledgeBaseJob")
    assert answer.status_code == 404 and answer.json()["Code"] == "InvalidKnowledgeBaseJobId.NotFound"
    other_workspace = next(
        w
        for w in shared.dataset.pai_workspaces
        if busiest not in {kb["KnowledgeBaseId"] for kb in shared.dataset.pai_knowledge_bases[w]}
    )
    assert pai.jobs(busiest, WorkspaceId=other_workspace).status_code == 404


def test_list_knowledge_bases_per_workspace(shared: SandboxServer) -> None:
    pai = Pai(shared.url)
    for workspace, kbs in shared.dataset.pai_knowledge_bases.items():
        page = pai.knowledge_bases(WorkspaceId=workspace, MaxResults=100).json()
        assert set(page) == {"KnowledgeBases", "MaxResults", "NextToken", "RequestId", "TotalCount"}
        assert page["TotalCount"] == len(kbs) and page["NextToken"] == ""
        assert all(set(kb) == KB_FIELDS and kb["WorkspaceId"] == workspace for kb in page["KnowledgeBases"])
        assert {kb["KnowledgeBaseId"] for kb in page["KnowledgeBases"]} == {
            kb["KnowledgeBaseId"] for kb in kbs
        }
    answer = pai.knowledge_bases(WorkspaceId="000000")
    assert answer.status_code == 404 and answer.json()["Code"] == "InvalidWorkspaceId.NotFound"


def test_wrong_action_header_is_refused(shared: SandboxServer, busiest: str) -> None:
    answer = Pai(shared.url).get(f"{PAI_BASE}/{busiest}/knowledgebasejobs", action="ListKnowledgeBases")
    assert answer.status_code == 404 and answer.json()["Code"] == "InvalidAction.NotFound"
