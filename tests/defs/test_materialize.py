"""The real asset graph against a live sandbox of all four vendors: a first materialization fills every
table, the marts, the feeds and the report, and its checks pass; after changes at the vendors a
second one asks only for what incremental paging needs; a vendor that refuses our credentials fails
its own assets and no other, and the marts, feeds and report are still built from the rest.

The tests share one sandbox and one warehouse and run in file order: first load, changes, failure."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from kb_pipeline.defs import defs
from kb_pipeline.defs.extraction import CURSORS_SHOWN, _materialization
from kb_pipeline.defs.publishing import PUBLISHED_KEYS
from kb_pipeline.defs.streams import STREAMS
from kb_pipeline.extract import StreamReport
from kb_pipeline.marts import MARTS
from kb_pipeline.sandbox import SandboxServer
from kb_pipeline.warehouse import read_only_query, table_counts
from kb_pipeline.warehouse.tables import TABLES
from tests.defs.graph_runs import extract, publish, run, with_wrong_credentials


def key(stream: str) -> dg.AssetKey:
    return dg.AssetKey(stream.split("."))


def data_dir(config_file: Path) -> Path:
    return config_file.parent


def materialized(result: dg.ExecuteInProcessResult) -> dict[dg.AssetKey, dict]:
    return {
        event.asset_key: {name: value.value for name, value in event.materialization.metadata.items()}
        for event in result.get_asset_materialization_events()
    }


def query(config_file: Path, sql: str) -> list[dict]:
    return read_only_query(data_dir(config_file), sql).to_pylist()


@pytest.fixture(scope="module")
def first_run(config_file: Path, instance: dg.DagsterInstance) -> tuple[dg.ExecuteInProcessResult, ...]:
    return extract(config_file, instance), publish(config_file, instance)


def test_first_run_fills_every_table_and_publishes(first_run, config_file: Path) -> None:
    extraction, publishing = first_run
    assert extraction.success and publishing.success
    counts = table_counts(data_dir(config_file))
    assert {table: counts[table] for table in TABLES if counts[table] == 0} == {}
    views = {row["view_name"] for row in query(config_file, "SELECT view_name FROM duckdb_views()")}
    assert {mart.name for mart in MARTS} <= views
    feeds = data_dir(config_file) / "feeds"
    for name in [*TABLES, *(mart.name for mart in MARTS)]:
        (rows,) = query(config_file, f"SELECT count(*) AS n FROM {name}")
        assert pq.ParquetFile(feeds / f"{name}.parquet").metadata.num_rows == rows["n"]
    assert (data_dir(config_file) / "report.html").stat().st_size > 100_000
    assert set(materialized(publishing)) == set(PUBLISHED_KEYS)


def test_row_counts_match_what_the_vendors_serve(first_run, vendor_sandbox: SandboxServer) -> None:
    extraction, _ = first_run
    data = vendor_sandbox.dataset
    expected = {
        "pai.knowledge_bases": sum(map(len, data.pai_knowledge_bases.values())),
        "pai.jobs": sum(map(len, data.pai_jobs.values())),
        "vikingdb.collections": sum(map(len, data.vikingdb_collections.values())),
        "vikingdb.tasks": len(data.vikingdb_tasks),
        "lingma.knowledge_bases": sum(map(len, data.lingma_organizations.values())),
        "qianfan.knowledge_bases": len(data.qianfan_knowledge_bases),
        "qianfan.documents": sum(map(len, data.qianfan_documents.values())),
        "lingma.documents": sum(kb["fileCount"] for kbs in data.lingma_organizations.values() for kb in kbs),
        "vikingdb.documents": sum(c["doc_num"] for cs in data.vikingdb_collections.values() for c in cs),
        "pai.chunk_counts": len(data.pai_jobs),
    }
    metadata = materialized(extraction)
    assert {stream: metadata[key(stream)]["dagster/row_count"] for stream in expected} == expected
    documents = metadata[key("qianfan.documents")]
    assert documents["records"] == expected["qianfan.documents"]
    assert documents["documents.inserted"] == expected["qianfan.documents"]
    assert documents["requests"] >= documents["pages"] >= len(data.qianfan_knowledge_bases)
    assert set(documents["cursor_after"]) == {kb["id"] for kb in data.qianfan_knowledge_bases}


def test_checks_run_and_pass_on_sandbox_data(first_run) -> None:
    extraction, _ = first_run
    evaluations = extraction.get_asset_check_evaluations()
    assert len(evaluations) == len(defs.resolve_asset_graph().asset_check_keys)
    failed = [f"{e.asset_key.to_user_string()}:{e.check_name}" for e in evaluations if not e.passed]
    assert failed == []


def test_checks_alone_read_the_warehouse_and_call_no_vendor(
    first_run, config_file: Path, instance: dg.DagsterInstance, vendor_sandbox: SandboxServer
) -> None:
    documents = key("qianfan.documents")
    requests_before = len(vendor_sandbox.requests)

    result = run(config_file, instance, dg.AssetSelection.checks_for_assets(documents))

    assert result.success
    assert len(vendor_sandbox.requests) == requests_before
    assert result.get_asset_materialization_events() == []
    all_checks = {c.name for c in defs.resolve_asset_graph().asset_check_keys if c.asset_key == documents}
    passed = {e.check_name for e in result.get_asset_check_evaluations() if e.passed}
    # quarantine is a figure of an extraction, so a run without one has no result for it
    assert passed == all_checks - {"nothing_quarantined"}


def test_second_run_loads_only_the_changes(
    first_run, config_file: Path, instance: dg.DagsterInstance, vendor_sandbox: SandboxServer
) -> None:
    data, control = vendor_sandbox.dataset, vendor_sandbox.control
    qianfan_kbs = [kb["id"] for kb in data.qianfan_knowledge_bases]
    added = control.add_qianfan_documents(qianfan_kbs[0], count=3)
    running_pai = [j for jobs in data.pai_jobs.values() for j in jobs if j["Status"] == "Running"]
    finished = control.finish_pai_job(running_pai[0]["KnowledgeBaseJobId"])
    task_id = next(t for t, task in data.vikingdb_tasks.items() if task["status"] == "running")
    control.finish_vikingdb_task(task_id)
    control.clear_requests()

    result = extract(config_file, instance)

    assert result.success
    documents = control.requests("qianfan", "DescribeDocuments")
    assert len(documents) == len(qianfan_kbs)  # one page per knowledge base, from its stored marker
    assert all(entry["body"].get("marker") for entry in documents)
    pai_kbs = sum(map(len, data.pai_knowledge_bases.values()))
    # one first page per knowledge base: it reaches the mark and the oldest running job, so no re-read
    assert len(control.requests("pai_langstudio", "ListKnowledgeBaseJobs")) == pai_kbs
    still_running = [t for t, task in data.vikingdb_tasks.items() if task["status"] == "running"]
    assert len(control.requests("vikingdb")) == 1 + len(still_running) + 1  # collections + tasks polled

    metadata = materialized(result)
    jobs_cost = metadata[key("pai.jobs")]
    assert (jobs_cost["requests.listing"], jobs_cost["requests.reread"]) == (pai_kbs, 0)
    assert metadata[key("vikingdb.tasks")]["requests.poll"] == len(still_running) + 1
    assert metadata[key("qianfan.documents")]["records"] == len(added)
    assert metadata[key("qianfan.documents")]["documents.inserted"] == len(added)
    new_ids = ", ".join(f"'{doc['id']}'" for doc in added)
    assert len(query(config_file, f"SELECT doc_id FROM documents WHERE doc_id IN ({new_ids})")) == len(added)
    (job,) = query(config_file, f"SELECT status FROM jobs WHERE job_id = '{finished['KnowledgeBaseJobId']}'")
    assert job["status"] == "succeeded"
    (task,) = query(config_file, f"SELECT status FROM jobs WHERE job_id = '{task_id}'")
    assert task["status"] == "succeeded"


def test_failing_vendor_fails_its_own_assets_only(
    first_run, config_file: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = with_wrong_credentials(config_file, "pai_langstudio", monkeypatch)
    settled = dg.evaluate_automation_conditions(defs, instance)
    settled = dg.evaluate_automation_conditions(defs, instance, cursor=settled.cursor)
    assert settled.total_requested == 0

    result = extract(wrong, instance)

    assert not result.success
    pai = {key("pai.knowledge_bases"), key("pai.jobs"), key("pai.chunk_counts")}
    assert set(materialized(result)) == set(STREAMS) - pai
    (failure,) = result.get_step_failure_events()
    message = failure.step_failure_data.error.message
    assert "pai.knowledge_bases" in message and "pai.jobs" in message
    assert "vikingdb" not in message and "not-the-secret" not in message
    checked = {evaluation.asset_key for evaluation in result.get_asset_check_evaluations()}
    assert checked == set(STREAMS) - pai

    # the UI's automation rebuilds marts, feeds and report from the other vendors' new data
    automation = dg.evaluate_automation_conditions(defs, instance, cursor=settled.cursor)
    assert {k for k in PUBLISHED_KEYS if automation.get_num_requested(k)} == set(PUBLISHED_KEYS)
    publishing = publish(wrong, instance)
    assert publishing.success
    assert set(materialized(publishing)) == set(PUBLISHED_KEYS)


def test_a_materialization_shows_the_cursors_that_moved_not_every_partitions() -> None:
    report = StreamReport(stream="lingma.documents", source="lingma", partitions=6_000)
    report.cursors_before = {f"kb-{n}": {"parent": n} for n in range(6_000)}
    report.cursors_after = {f"kb-{n}": {"parent": n + 1} for n in range(0, 6_000, 50)}  # 120 moved

    metadata = _materialization(report, {"documents": 10}, key("lingma.documents")).metadata

    assert metadata["cursors_moved"] == 120
    after, before = metadata["cursor_after"].value, metadata["cursor_before"].value
    assert list(after) == list(before) == [f"kb-{n}" for n in range(0, 50 * CURSORS_SHOWN, 50)]
    assert (before["kb-50"], after["kb-50"]) == ({"parent": 50}, {"parent": 51})
