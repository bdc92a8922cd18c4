"""Protects the sql/ convention: one documented view per file, built in dependency order, all or nothing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from kb_pipeline.marts import MARTS, SQL_DIR, MartDefinitionError, create_marts, load_marts

EXPECTED_MARTS = {
    "kb_inventory",
    "kb_inventory_by_scope",
    "document_status_funnel",
    "documents_stuck",
    "parse_failures_by_mime_type",
    "job_health_daily",
    "job_failures_by_error",
    "jobs_overrunning",
    "chunk_growth_daily",
    "chunk_growth_from_jobs",
    "extraction_freshness",
}


def test_every_sql_file_is_a_documented_mart() -> None:
    assert {path.stem for path in SQL_DIR.glob("*.sql")} == EXPECTED_MARTS
    assert {mart.name for mart in MARTS} == EXPECTED_MARTS
    for mart in MARTS:
        assert mart.question.endswith("?"), mart.name
        assert mart.grain.startswith("one row per"), mart.name
        assert "--" not in mart.grain + mart.question


def test_header_continuation_lines_join_the_field_above() -> None:
    stuck = next(mart for mart in MARTS if mart.name == "documents_stuck")
    assert "24 hours" in stuck.grain  # the grain wraps onto a second comment line


def test_marts_come_after_the_marts_they_read() -> None:
    order = [mart.name for mart in MARTS]
    by_name = {mart.name: mart for mart in MARTS}
    assert by_name["kb_inventory_by_scope"].depends_on == ("kb_inventory",)
    assert by_name["kb_inventory"].depends_on == ("chunk_growth_daily",)
    assert by_name["chunk_growth_daily"].depends_on == ("chunk_growth_from_jobs",)
    for mart in MARTS:
        for dependency in mart.depends_on:
            assert order.index(dependency) < order.index(mart.name)


def test_create_marts_creates_every_view_and_can_run_again(warehouse: duckdb.DuckDBPyConnection) -> None:
    created = create_marts(warehouse)  # the fixture created them once already
    assert created == [mart.name for mart in MARTS]
    views = {
        name
        for (name,) in warehouse.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    }
    assert views == EXPECTED_MARTS


def _write(directory: Path, name: str, text: str) -> None:
    (directory / f"{name}.sql").write_text(text, encoding="utf-8")


HEADER = "-- Question: Why?\n-- Grain: one row per thing.\n"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("-- Grain: one row per thing.\nCREATE OR REPLACE VIEW broken AS SELECT 1;", "Question"),
        ("-- Question: Why?\nCREATE OR REPLACE VIEW broken AS SELECT 1;", "Grain"),
        (HEADER + "CREATE OR REPLACE VIEW other_name AS SELECT 1;", "other_name"),
        (HEADER + "SELECT 1;", "none"),
    ],
)
def test_a_file_off_the_convention_is_refused_with_its_path(
    tmp_path: Path, text: str, complaint: str
) -> None:
    _write(tmp_path, "broken", text)
    with pytest.raises(MartDefinitionError, match=complaint) as refused:
        load_marts(tmp_path)
    assert str(tmp_path / "broken.sql") in str(refused.value)


def test_marts_reading_each_other_in_a_cycle_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, "a_view", HEADER + "CREATE OR REPLACE VIEW a_view AS SELECT * FROM b_view;")
    _write(tmp_path, "b_view", HEADER + "CREATE OR REPLACE VIEW b_view AS SELECT * FROM a_view;")
    with pytest.raises(MartDefinitionError, match="cycle"):
        load_marts(tmp_path)


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(MartDefinitionError, match=str(tmp_path / "absent")):
        load_marts(tmp_path / "absent")


def test_a_failing_mart_leaves_no_view_behind(tmp_path: Path) -> None:
    _write(tmp_path, "a_good", HEADER + "CREATE OR REPLACE VIEW a_good AS SELECT 1 AS one;")
    _write(tmp_path, "b_bad", HEADER + "CREATE OR REPLACE VIEW b_bad AS SELECT * FROM no_such_table;")
    marts = load_marts(tmp_path)
    con = duckdb.connect()
    con.execute("CREATE SCHEMA _kb")  # the warehouse's bookkeeping schema, where _kb.streams goes
    with pytest.raises(MartDefinitionError, match="b_bad") as refused:
        create_marts(con, marts)
    assert "no_such_table" in str(refused.value)
    assert con.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)
