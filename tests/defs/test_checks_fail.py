"""Protects the asset checks' power to fail: each kind of check is shown failing on a warehouse that
breaks its rule (a real DuckDB file), and one through a real Dagster run after real extraction.

A check that cannot fail protects nothing; these tests break the data on purpose, the way a bug or
a vendor would, and assert that the check named for it says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from kb_pipeline.defs import checks
from kb_pipeline.defs.streams import STREAMS, stream_key
from kb_pipeline.warehouse import Warehouse
from tests.defs.graph_runs import extract, run
from tests.warehouse.builders import document, job, page

DOCUMENTS = stream_key("qianfan.documents")
JOBS = stream_key("pai.jobs")


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    """A warehouse holding three Qianfan documents and two PAI jobs, all within the contract."""
    now = datetime.now(UTC)
    with Warehouse(tmp_path / "data") as opened:
        opened.load_page(
            page(fetched_at=now, cursor={"marker": "c"}),
            {"documents": [document("a"), document("b"), document("c")]},
        )
        opened.load_page(page("pai.jobs", "d-ksicx823d", fetched_at=now), {"jobs": [job("j1"), job("j2")]})
        yield opened


def results(
    warehouse: Warehouse,
    key: dg.AssetKey,
    *,
    previous_rows: int | None = None,
    quarantined: dict[str, int] | None = None,
) -> dict[str, dg.AssetCheckResult]:
    """Every check of the stream asset `key`, evaluated as the extraction step evaluates them."""
    source, stream = STREAMS[key]
    names = [spec.name for spec in checks.check_specs(key, stream)]
    rows = checks.live_rows(warehouse.query, stream.tables[0], source.name)
    evaluated = checks.evaluate(
        warehouse.query,
        key,
        stream,
        source.name,
        selected=names,
        rows=rows,
        previous_rows=previous_rows,
        quarantined=quarantined,
    )
    return {result.check_name: result for result in evaluated}


def failed(found: dict[str, dg.AssetCheckResult]) -> set[str]:
    return {name for name, result in found.items() if not result.passed}


def test_every_check_passes_on_data_within_the_contract(warehouse: Warehouse) -> None:
    assert failed(results(warehouse, DOCUMENTS, previous_rows=3, quarantined={"documents": 0})) == set()
    assert failed(results(warehouse, JOBS, previous_rows=2, quarantined={"jobs": 0})) == set()


@pytest.mark.parametrize(
    ("table", "column", "value", "key"),
    [
        ("documents", "status", "'indexing'", DOCUMENTS),
        ("documents", "file_size_bytes", "-1", DOCUMENTS),
        ("jobs", "progress_pct", "100.5", JOBS),
        ("jobs", "duration_s", "-3", JOBS),
        ("jobs", "status", "'Success'", JOBS),
    ],
)
def test_schema_check_fails_on_a_value_out_of_contract(
    warehouse: Warehouse, table: str, column: str, value: str, key: dg.AssetKey
) -> None:
    warehouse.connection.execute(
        f"UPDATE {table} SET {column} = {value} WHERE rowid = (SELECT min(rowid) FROM {table})"
    )

    result = results(warehouse, key)[f"{table}_schema"]

    assert not result.passed
    assert result.metadata["failures"].value == 1
    sample = result.metadata["failure_sample"].value
    assert [case["column"] for case in sample] == [column]


def test_schema_check_fails_on_a_column_stored_with_another_type(warehouse: Warehouse) -> None:
    warehouse.connection.execute("DROP INDEX IF EXISTS jobs_lookup")  # an index pins the table's columns
    warehouse.connection.execute("ALTER TABLE jobs ALTER progress_pct TYPE VARCHAR")

    result = results(warehouse, JOBS)["jobs_schema"]

    assert not result.passed
    assert result.metadata["failure_sample"].value == [
        {"column": "progress_pct", "check": "dtype('DOUBLE')", "failure_case": "VARCHAR"}
    ]


def test_unique_key_check_fails_when_a_key_is_stored_twice(warehouse: Warehouse) -> None:
    # the table enforces its key today; rebuilt without the constraint, as a merge bug would need
    con = warehouse.connection
    con.execute("CREATE TABLE documents_unkeyed AS SELECT * FROM documents")
    con.execute("DROP TABLE documents")
    con.execute("ALTER TABLE documents_unkeyed RENAME TO documents")
    con.execute("INSERT INTO documents SELECT * FROM documents WHERE doc_id = 'a'")

    result = results(warehouse, DOCUMENTS)["documents_unique_key"]

    assert not result.passed
    assert result.metadata["sample"].value == [
        {"source": "qianfan", "kb_id": "kb-1", "doc_id": "a", "copies": 2}
    ]


def test_freshness_check_fails_when_nothing_was_extracted_for_26_hours(warehouse: Warehouse) -> None:
    long_ago = datetime.now(UTC) - checks.FRESH_WITHIN - timedelta(hours=1)
    warehouse.connection.execute("UPDATE documents SET last_seen_at = ?", [long_ago])
    warehouse.connection.execute("UPDATE _kb.stream_state SET updated_at = ?", [long_ago])

    result = results(warehouse, DOCUMENTS)["fresh"]

    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["hours_since"].value > 26


def test_quarantine_check_fails_when_this_run_set_records_aside(warehouse: Warehouse) -> None:
    result = results(warehouse, DOCUMENTS, quarantined={"documents": 2, "document_tags": 1})

    assert failed(result) == {"nothing_quarantined"}
    assert result["nothing_quarantined"].metadata["quarantined"].value == 3


def test_sharp_drop_check_fails_when_live_rows_halve(warehouse: Warehouse) -> None:
    warehouse.connection.execute("UPDATE documents SET deleted_at = now() WHERE doc_id IN ('a', 'b')")

    result = results(warehouse, DOCUMENTS, previous_rows=3)

    assert failed(result) == {"no_sharp_drop"}
    assert result["no_sharp_drop"].metadata["share_of_previous"].value == pytest.approx(1 / 3, abs=1e-3)


def test_a_broken_row_fails_the_schema_check_of_a_real_dagster_run(
    config_file: Path, instance: dg.DagsterInstance
) -> None:
    assert extract(config_file, instance).success
    data_dir = config_file.parent
    with Warehouse(data_dir) as store:
        store.connection.execute(
            "UPDATE documents SET status = 'indexing' WHERE rowid = (SELECT min(rowid) FROM documents WHERE source = 'qianfan')"
        )

    result = run(config_file, instance, dg.AssetSelection.checks_for_assets(DOCUMENTS))

    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    schema = evaluations["documents_schema"]
    assert not schema.passed
    assert schema.severity == dg.AssetCheckSeverity.ERROR
    assert schema.metadata["failure_sample"].value[0]["failure_case"] == "indexing"
    assert all(e.passed for name, e in evaluations.items() if name != "documents_schema")
