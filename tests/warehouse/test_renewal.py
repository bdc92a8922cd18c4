"""The writer closes and reopens DuckDB every few loads, and nothing else can tell.

No row, cursor or reading thread is lost across the renewal, no other process opens the file
in the moment DuckDB is closed (the writer's lock spans it), and a stop request still reaches
the statement under way on the new connection.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from itertools import pairwise
from pathlib import Path

import duckdb
import pytest

from kb_pipeline.pages import NormalizedPage
from kb_pipeline.warehouse import Warehouse, connection
from kb_pipeline.warehouse import warehouse as warehouse_module
from tests.warehouse.builders import at, document, page

OTHER_PROCESS = """
import sys
from kb_pipeline.warehouse import Warehouse, WarehouseBusyError, read_only_query
for what, attempt in (("reader", lambda: read_only_query(sys.argv[1], "SELECT 1")),
                      ("writer", lambda: Warehouse(sys.argv[1], lock_timeout_s=0).close())):
    try:
        attempt()
        print(what, "opened")
    except WarehouseBusyError as error:
        print(what, "refused:", error)
"""


def load_one(warehouse: Warehouse, n: int) -> None:
    doc = document(f"doc-{n}")
    warehouse.load_pages(
        [
            NormalizedPage(
                page(records=[doc["raw"]], fetched_at=at(n), cursor={"marker": f"m{n}"}),
                {"documents": [doc]},
            )
        ]
    )


@pytest.fixture
def renew_every_two_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warehouse_module, "RENEW_EVERY_LOADS", 2)


def test_the_writer_reopens_duckdb_every_few_loads_and_loses_nothing(
    tmp_path: Path, renew_every_two_loads: None
) -> None:
    with Warehouse(tmp_path) as warehouse:
        connections = []
        for n in range(5):
            load_one(warehouse, n)
            connections.append(warehouse.connection)
            assert (
                warehouse.query_while_loading("SELECT count(*) AS n FROM documents")["n"][0].as_py() == n + 1
            )

        assert [c is d for c, d in pairwise(connections)] == [
            False,
            True,
            False,
            True,
        ]
        with pytest.raises(duckdb.ConnectionException):
            connections[0].execute("SELECT 1")  # closed, and DuckDB with it
        assert warehouse.get_cursors("qianfan.documents") == {"kb-1": {"marker": "m4"}}
        assert warehouse.query("SELECT current_setting('TimeZone') AS tz")["tz"][0].as_py() == "UTC"
    with Warehouse.reader(tmp_path) as reader:
        assert reader.query("SELECT count(*) AS n FROM documents")["n"][0].as_py() == 5


def test_no_other_process_opens_the_file_while_the_writer_reopens_it(
    tmp_path: Path, renew_every_two_loads: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With DuckDB closed and not yet reopened, a reader and a second writer are both refused."""
    answers: list[str] = []
    reopen = connection._connect

    def reopen_after_others_tried(*args: object) -> duckdb.DuckDBPyConnection:
        others = subprocess.run(
            [sys.executable, "-c", OTHER_PROCESS, str(tmp_path)], capture_output=True, text=True, timeout=120
        )
        answers.extend(others.stdout.splitlines())
        return reopen(*args)

    with Warehouse(tmp_path) as warehouse:
        monkeypatch.setattr(connection, "_connect", reopen_after_others_tried)
        load_one(warehouse, 1)
        assert answers == []
        load_one(warehouse, 2)  # the renewal
        load_one(warehouse, 3)
        assert warehouse.query("SELECT count(*) AS n FROM documents")["n"][0].as_py() == 3

    assert [answer.split(":")[0] for answer in answers] == ["reader refused", "writer refused"], answers
    assert all(f"PID {os.getpid()}" in answer for answer in answers), answers


def test_a_stop_request_reaches_the_statement_on_the_renewed_connection(
    tmp_path: Path, renew_every_two_loads: None
) -> None:
    with Warehouse(tmp_path) as warehouse:
        load_one(warehouse, 1)
        load_one(warehouse, 2)
        raised: list[BaseException] = []

        def long_query() -> None:
            try:
                warehouse.query("SELECT count(*) FROM range(100000) a, range(1000000) b")
            except BaseException as error:
                raised.append(error)

        running = threading.Thread(target=long_query)
        running.start()
        time.sleep(0.5)
        warehouse.interrupt()
        running.join(30)
        assert not running.is_alive()
        assert [type(error) for error in raised] == [duckdb.InterruptException]
