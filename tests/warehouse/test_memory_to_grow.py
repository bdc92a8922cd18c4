"""A statement that needs more memory than DuckDB's cap is given more, and the cap comes back:
a report or a query over a view with many joins must not fail for lack of a cap the project set."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pytest

from kb_pipeline.warehouse import Warehouse, connection
from kb_pipeline.warehouse.connection import with_memory_to_grow

HUNGRY = (
    "SELECT count(*) AS groups FROM (SELECT i % 100000 AS g, count(*) FROM range(1000000) t(i) GROUP BY g)"
)
"""A hash aggregate of 100,000 groups: more than 2 MB, well within 64."""


def _limit_mb(con: duckdb.DuckDBPyConnection) -> float:
    (setting,) = con.execute("SELECT current_setting('memory_limit')").fetchone()
    number, unit = setting.split()
    return float(number) * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}[unit]


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(connection, "MEMORY_LIMIT_MB", 2)
    return 2


def test_a_statement_out_of_memory_is_tried_again_with_more(small_cap: int, caplog) -> None:
    con = duckdb.connect(config={"memory_limit": f"{small_cap}MB"})
    with pytest.raises(duckdb.OutOfMemoryException):
        con.execute(HUNGRY).fetchall()
    with caplog.at_level(logging.WARNING):
        (groups,) = with_memory_to_grow(con, lambda: con.execute(HUNGRY).fetchone(), "the hungry query")
    assert groups == 100_000
    assert "the hungry query needs more memory than DuckDB had" in caplog.text
    assert _limit_mb(con) < small_cap + 1  # the cap is back where it was


def test_the_cap_is_raised_only_so_far(small_cap: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "LARGEST_MEMORY_LIMIT_MB", 4)
    con = duckdb.connect(config={"memory_limit": f"{small_cap}MB"})
    attempts = []

    def never_enough() -> None:
        attempts.append(_limit_mb(con))
        raise duckdb.OutOfMemoryException("could not allocate")

    with pytest.raises(duckdb.OutOfMemoryException):
        with_memory_to_grow(con, never_enough, "a query")
    assert [round(limit) for limit in attempts] == [2, 4]
    assert _limit_mb(con) < small_cap + 1


def test_a_warehouse_query_gets_the_memory_it_needs(small_cap: int, tmp_path: Path) -> None:
    with Warehouse(tmp_path / "data") as warehouse:
        assert warehouse.query(HUNGRY).column("groups").to_pylist() == [100_000]
        assert _limit_mb(warehouse.connection) < small_cap + 1
