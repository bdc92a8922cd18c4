"""Extraction in a thread of its own hands over each stream as soon as it is over, and stops when
its caller does: a fast vendor is recorded while a slow one still waits, and walking away leaves
only committed pages behind."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from kb_pipeline.config import load_config
from kb_pipeline.extract import extract_stream_by_stream
from kb_pipeline.sandbox import SandboxServer
from kb_pipeline.warehouse import Warehouse
from tests.pipeline.conftest import configure, rows

SLOW_S = 2.5


def slow_vikingdb(server: SandboxServer, answers: int) -> None:
    server.control.add_fault("vikingdb", "slow", count=answers, delay=SLOW_S)


def test_each_stream_is_handed_over_when_it_ends_not_with_the_slowest(tmp_path: Path) -> None:
    with SandboxServer(seed=11, scale=0.05, qps=None) as server:
        slow_vikingdb(server, answers=3)
        config = load_config(configure(server, tmp_path / "data"))
        arrivals: dict[str, float] = {}
        with Warehouse(config.data_dir) as warehouse:
            for report in extract_stream_by_stream(config, warehouse, run_id="r"):
                assert report.ok, report.errors
                arrivals[report.stream] = time.time()
                (count,) = warehouse.query_while_loading(  # the stream's rows are committed by now
                    "SELECT count(*) AS n FROM knowledge_bases WHERE source = 'lingma'"
                ).column("n")
                if report.stream == "lingma.knowledge_bases":
                    assert count.as_py() == sum(map(len, server.dataset.lingma_organizations.values()))
        slow_answers = [
            entry["at"] for entry in server.control.requests("vikingdb") if entry["fault"] == "slow"
        ]
    assert set(arrivals) >= {"lingma.knowledge_bases", "vikingdb.collections", "vikingdb.tasks"}
    assert len(slow_answers) == 3
    # the sandbox logs a request when it answers: lingma was handed over before VikingDB's were back
    assert arrivals["lingma.knowledge_bases"] < min(slow_answers)
    assert max(arrivals["vikingdb.collections"], arrivals["vikingdb.tasks"]) > max(slow_answers)


def test_leaving_early_cancels_the_rest_and_keeps_what_was_committed(tmp_path: Path) -> None:
    with SandboxServer(seed=11, scale=0.05, qps=None) as server:
        slow_vikingdb(server, answers=1000)  # vikingdb would take many minutes
        config = load_config(configure(server, tmp_path / "data"))
        with Warehouse(config.data_dir) as warehouse:
            extraction = extract_stream_by_stream(config, warehouse, run_id="r")
            first = next(extraction)
            left = time.monotonic()
            extraction.close()
            stopped_s = time.monotonic() - left
            assert not any(thread.name == "extraction" for thread in threading.enumerate())
            assert first.stream != "vikingdb.tasks"
    assert stopped_s < 10 * SLOW_S
    # the stream handed over is whole: a committed cursor for each of its partitions
    (done,) = rows(
        config.data_dir, f"SELECT count(*) AS n FROM _kb.stream_state WHERE stream = '{first.stream}'"
    )
    assert done["n"] == first.partitions


def test_a_sources_streams_run_at_once_unless_one_waits_for_another(tmp_path: Path) -> None:
    """VikingDB polls its tasks while its collections are still listed; its documents wait for them."""
    with SandboxServer(seed=11, scale=0.05, qps=None) as server:
        server.control.add_fault("vikingdb", "slow", path="/api/knowledge/collection/list", delay=2 * SLOW_S)
        config = load_config(configure(server, tmp_path / "data"))
        with Warehouse(config.data_dir) as warehouse:
            assert all(report.ok for report in extract_stream_by_stream(config, warehouse, run_id="r"))
        answered = {
            operation: [entry["at"] for entry in server.control.requests("vikingdb") if entry["path"] == path]
            for operation, path in (
                ("collections", "/api/knowledge/collection/list"),
                ("tasks", "/api/knowledge/task/info"),
                ("documents", "/api/knowledge/doc/list"),
            )
        }
    (collections,) = answered["collections"]
    assert answered["tasks"] and max(answered["tasks"]) < collections  # polled while collections were listed
    assert answered["documents"] and min(answered["documents"]) > collections
