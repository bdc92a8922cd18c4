"""Protects the marts against an empty warehouse: every view answers, with no rows and no error."""

from __future__ import annotations

import duckdb
import pytest

from kb_pipeline.marts import MARTS


@pytest.mark.parametrize("name", [mart.name for mart in MARTS])
def test_every_mart_answers_with_no_rows_on_empty_tables(
    warehouse: duckdb.DuckDBPyConnection, name: str
) -> None:
    assert warehouse.execute(f"SELECT count(*) FROM {name}").fetchone() == (0,)


def test_a_day_with_no_finished_job_has_no_success_rate_rather_than_an_error(
    warehouse, insert, query
) -> None:
    insert(
        "jobs",
        [
            {
                "source": "pai_langstudio",
                "job_id": "j1",
                "status": "running",
                "created_at": "2025-03-01 10:00:00+00",
            }
        ],
    )
    [day] = query("job_health_daily")
    assert (day["runs"], day["running"], day["success_rate"], day["p50_duration_s"]) == (1, 1, None, None)
