"""What each vendor's streams do beyond the contract every stream keeps (test_source_contract.py):
records as received, incremental passes, the vendors' paging quirks and the faults only some
listings meet, compared with the sandbox generator's own records (never with the client's output)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb_pipeline.http.errors import AuthError, PaginationError
from kb_pipeline.normalize import redact_credentials
from kb_pipeline.sandbox import SandboxServer
from kb_pipeline.warehouse.known import KnownSnapshot
from tests.sources.conftest import config_for, ids, run_partition


def records(pages) -> list[dict]:
    return [record for page in pages for record in page.records]


def test_pai_jobs_come_newest_first_once_each_and_stop_at_the_high_water_mark(
    live: SandboxServer, tmp_path: Path
) -> None:
    config = config_for(live, tmp_path)
    kb_id = max(live.dataset.pai_jobs, key=lambda kb: len(live.dataset.pai_jobs[kb]))
    expected = live.dataset.pai_jobs[kb_id]
    small_pages = {"page_size": 7}
    pages = run_partition(config, "pai.jobs", kb_id, settings_override=small_pages)
    got = ids(pages, "KnowledgeBaseJobId")
    assert sorted(got) == sorted(job["KnowledgeBaseJobId"] for job in expected)
    assert len(got) == len(set(got))
    cursor = pages[-1].cursor
    assert cursor["high_water_mark"].startswith(max(job["GmtCreateTime"] for job in expected)[:19])
    running = {job["KnowledgeBaseJobId"] for job in expected if job["Status"] == "Running"}
    assert set(cursor["running"]) == running

    # incremental: two new jobs and one running job finished cost one re-read per running job
    # plus one listing page, and bring exactly the changes
    new_jobs = live.control.add_pai_jobs(kb_id, count=2)
    finished = sorted(running)[0] if running else None
    if finished:
        live.control.finish_pai_job(finished, status="Failed", error_message="quota exceeded")
    live.control.clear_requests()
    again = run_partition(config, "pai.jobs", kb_id, cursor=cursor, settings_override=small_pages)
    listed = live.control.requests(vendor="pai_langstudio")
    assert len(listed) == len(running) + 1
    got_again = {r["KnowledgeBaseJobId"]: r for r in records(again)}
    assert {job["KnowledgeBaseJobId"] for job in new_jobs} <= set(got_again)
    if finished:
        assert got_again[finished]["Status"] == "Failed"
        assert finished not in again[-1].cursor["running"]


@pytest.mark.parametrize("last_page", ["same", "empty", "absent", "past"])
def test_lingma_stops_whatever_the_last_page_says_next(last_page: str, tmp_path: Path) -> None:
    with SandboxServer(seed=5, scale=0.3, qps=None, lingma_last_page=last_page) as server:
        config = config_for(server, tmp_path)
        organization, expected = max(server.dataset.lingma_organizations.items(), key=lambda kv: len(kv[1]))
        pages = run_partition(config, "lingma.knowledge_bases", organization)
        assert sorted(ids(pages, "id")) == sorted(kb["id"] for kb in expected)
        assert len(server.control.requests(vendor="lingma")) == -(-len(expected) // 20)


def test_lingma_rescans_when_records_are_inserted_while_paging(live: SandboxServer, tmp_path: Path) -> None:
    config = config_for(live, tmp_path)
    organization = max(
        live.dataset.lingma_organizations, key=lambda o: len(live.dataset.lingma_organizations[o])
    )
    assert len(live.dataset.lingma_organizations[organization]) > 5
    live.control.add_fault("lingma", "insert_while_paging", records=3)
    pages = run_partition(config, "lingma.knowledge_bases", organization, settings_override={"page_size": 5})
    restarts = [p for p in pages if p.cursor.get("scan", {"next": 0})["next"] is None]
    assert len(restarts) == 1, "the shift is seen once and the listing read again from page 1"
    now_expected = {kb["id"] for kb in live.dataset.lingma_organizations[organization]}
    assert set(ids(pages, "id")) == now_expected
    assert pages[-1].scan_end is not None


def test_qianfan_documents_full_then_incremental_from_the_stored_marker(
    live: SandboxServer, tmp_path: Path
) -> None:
    config = config_for(live, tmp_path)
    kb_id = max(live.dataset.qianfan_documents, key=lambda kb: len(live.dataset.qianfan_documents[kb]))
    expected = live.dataset.qianfan_documents[kb_id]
    pages = run_partition(config, "qianfan.documents", kb_id)
    assert records(pages) == redact_credentials(expected)
    assert pages[-1].scan_end is not None
    assert all("authorization=" not in str(r) for r in records(pages))

    added = live.control.add_qianfan_documents(kb_id, count=3)
    live.control.clear_requests()
    again = run_partition(config, "qianfan.documents", kb_id, cursor=pages[-1].cursor)
    assert [r["id"] for r in records(again)] == [d["id"] for d in added]
    assert len(live.control.requests(vendor="qianfan")) == 1
    assert again[-1].scan_end is None

    live.control.clear_requests()
    quiet = run_partition(config, "qianfan.documents", kb_id, cursor=again[-1].cursor)
    assert records(quiet) == [] and len(live.control.requests(vendor="qianfan")) == 1


def test_qianfan_sdk_spelling_is_read_too(tmp_path: Path) -> None:
    with SandboxServer(seed=5, scale=0.3, qps=None, qianfan_fields="sdk") as server:
        config = config_for(server, tmp_path)
        kb_id = next(iter(server.dataset.qianfan_documents))
        pages = run_partition(config, "qianfan.documents", kb_id)
        assert sorted(ids(pages, "documentId")) == sorted(
            d["id"] for d in server.dataset.qianfan_documents[kb_id]
        )


def test_vikingdb_tasks_are_polled_until_they_finish(live: SandboxServer, tmp_path: Path) -> None:
    config = config_for(live, tmp_path)
    tasks = run_partition(config, "vikingdb.tasks", "")
    got = {r["task_id"]: r for r in records(tasks)}
    for task_id, info in live.dataset.vikingdb_tasks.items():
        assert got[task_id]["status"] == info["status"]
        assert "X-Tos-Signature" not in (got[task_id].get("attachment_link") or "")

    # finished tasks already in the warehouse are not asked again
    finished = {t: i["status"] for t, i in live.dataset.vikingdb_tasks.items() if i["status"] != "running"}
    statuses = {t: {"success": "succeeded", "fail": "failed"}.get(s, "running") for t, s in finished.items()}
    known = KnownSnapshot(jobs={"vikingdb": statuses})
    live.control.clear_requests()
    run_partition(config, "vikingdb.tasks", "", known=known)
    assert len(live.control.requests(vendor="vikingdb")) == len(live.dataset.vikingdb_tasks) - len(finished)


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        ("truncated", {"count": 1}),
        ("drop_connection", {"count": 1}),
        ("slow", {"count": 1, "delay": 0.2}),
    ],
)
def test_faults_are_survived_with_the_same_records(kind: str, extra: dict, tmp_path: Path) -> None:
    with SandboxServer(seed=5, scale=0.3, qps=None) as server:
        config = config_for(server, tmp_path)
        kb_id = next(iter(server.dataset.qianfan_documents))
        server.control.add_fault("qianfan", kind, operation="DescribeDocuments", **extra)
        pages = run_partition(config, "qianfan.documents", kb_id)
        assert ids(pages, "id") == [d["id"] for d in server.dataset.qianfan_documents[kb_id]]
        assert not server.control.pending_faults()


def test_pai_5xx_is_retried_with_a_fresh_signature(live: SandboxServer, tmp_path: Path) -> None:
    """Alibaba refuses a reused nonce, so a retry must be signed again to succeed."""
    config = config_for(live, tmp_path)
    workspace = live.dataset.pai_workspaces[0]
    live.control.add_fault("pai_langstudio", "server_error", count=2)
    pages = run_partition(config, "pai.knowledge_bases", workspace)
    assert len(records(pages)) == len(live.dataset.pai_knowledge_bases[workspace])


def test_a_repeating_marker_is_reported_not_looped(live: SandboxServer, tmp_path: Path) -> None:
    config = config_for(live, tmp_path)
    kb_id = max(live.dataset.qianfan_documents, key=lambda kb: len(live.dataset.qianfan_documents[kb]))
    live.control.add_fault("qianfan", "repeat_cursor", count=5, operation="DescribeDocuments")
    with pytest.raises(PaginationError, match=r"qianfan\.documents"):
        run_partition(config, "qianfan.documents", kb_id, settings_override={"page_size": 10})


def test_bad_credentials_stop_with_a_clear_message_and_no_secret(
    live: SandboxServer, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("KB_SANDBOX_QIANFAN_API_KEY", "bce-v3/ALTAK-wrong/definitely-not-valid")
    config = config_for(live, tmp_path)
    with pytest.raises(AuthError) as raised:
        run_partition(config, "qianfan.knowledge_bases", "")
    message = str(raised.value)
    assert message.startswith("qianfan.knowledge_bases DescribeKnowledgeBases: HTTP 401")
    assert "definitely-not-valid" not in message
