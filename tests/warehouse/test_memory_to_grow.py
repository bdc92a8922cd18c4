"""A statement that needs more memory than DuckDB's cap is given more, and the cap comes back:
a report, a query over a view with many joins, a large load or the marts' creation must not fail
for lack of a cap the project set."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import duckdb
import pytest

from kb_pipeline.marts import MARTS, create_marts
from kb_pipeline.pages import NormalizedPage
from kb_pipeline.warehouse import Warehouse, connection
from kb_pipeline.warehouse.connection import with_memory_to_grow
from tests.warehouse.builders import document, page

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


def test_a_load_that_runs_out_is_loaded_whole_with_more(small_cap: int, tmp_path: Path, caplog) -> None:
    documents = [document(f"doc-{n}", raw={"id": n, "text": "x" * 400}) for n in range(5_000)]
    with Warehouse(tmp_path / "data") as warehouse:
        with caplog.at_level(logging.WARNING):
            (stats,) = warehouse.load_pages(
                [NormalizedPage(page(records=documents, cursor={"marker": "m2"}), {"documents": documents})]
            )
        assert "a load of 1 pages needs more memory than DuckDB had" in caplog.text
        assert stats.tables["documents"].inserted == 5_000
        assert warehouse.query("SELECT count(*) AS n FROM documents").column("n").to_pylist() == [5_000]
        assert warehouse.get_cursors("qianfan.documents") == {"kb-1": {"marker": "m2"}}
        assert len(list(warehouse.iter_raw_pages())) == 1  # the failed attempt left no raw page
        assert _limit_mb(warehouse.connection) < small_cap + 1


class _RunsOutOnce:
    """A connection whose first mart statement runs out of memory, as on a full buffer pool."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con, self.ran_out = con, False

    def execute(self, sql: str, *args: object) -> duckdb.DuckDBPyConnection:
        if "CREATE OR REPLACE VIEW" in sql and not self.ran_out:
            self.ran_out = True
            raise duckdb.OutOfMemoryException("failed to allocate data of size 32.0 KiB")
        return self.con.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self.con, name)


def test_marts_that_run_out_are_created_with_more(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "data") as warehouse:
        con = _RunsOutOnce(warehouse.connection)
        with pytest.raises(duckdb.OutOfMemoryException):  # as it is, not as the mart's own fault
            create_marts(con)  # type: ignore[arg-type]
        con.ran_out = False
        created = with_memory_to_grow(con, lambda: create_marts(con), "creating the marts")  # type: ignore[arg-type]
        assert created == [mart.name for mart in MARTS]
        views = warehouse.query("SELECT view_name FROM duckdb_views() WHERE NOT internal")
        assert set(views.column("view_name").to_pylist()) == set(created)


def test_a_reading_query_waits_for_the_load_in_progress(tmp_path: Path, monkeypatch) -> None:
    """A check's query and a load never run at once: they share the cap, and either would push the
    other onto a larger one."""
    documents = [document("doc-1")]
    finished: list[str] = []
    with Warehouse(tmp_path / "data") as warehouse:
        reader = threading.Thread(
            target=lambda: (warehouse.query_while_loading("SELECT 1"), finished.append("query"))
        )
        load_pages = warehouse._load_pages

        def slow_load(*args: object) -> object:
            reader.start()
            reader.join(0.5)  # the query may start now, but does not
            finished.append("load")
            return load_pages(*args)

        monkeypatch.setattr(warehouse, "_load_pages", slow_load)
        warehouse.load_pages([NormalizedPage(page(records=documents), {"documents": documents})])
        reader.join()
    assert finished == ["load", "query"]
