"""`materialize_all`, what `kb-pipeline run` and `kb-pipeline demo` call: it loads the warehouse,
builds marts, feeds and report, prints a line per stream, and says whether everything succeeded;
with one vendor refusing us it returns False, names that vendor, and still publishes the rest."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from kb_pipeline.config import CONFIG_ENV_VAR
from kb_pipeline.demo import export_sandbox_environment, write_sandbox_config
from kb_pipeline.runner import Outcome, materialize_all
from kb_pipeline.sandbox import SandboxServer
from kb_pipeline.sources import SOURCES
from kb_pipeline.warehouse import table_counts
from kb_pipeline.warehouse.tables import TABLES
from tests.defs.graph_runs import with_wrong_credentials


@pytest.fixture
def config_file(sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CONFIG_ENV_VAR, "restored after the test")
    export_sandbox_environment()
    return write_sandbox_config(sandbox.url, sandbox.dataset, tmp_path / "data")


def run(config_file: Path, **options) -> tuple[bool, str]:
    output = io.StringIO()
    outcome = materialize_all(config_file, console=Console(file=output, width=120), **options)
    return outcome is Outcome.SUCCEEDED, output.getvalue()


def test_materializes_everything_and_reports_each_stream(config_file: Path) -> None:
    ok, output = run(config_file)

    assert ok, output
    streams = [stream.name for source in SOURCES.values() for stream in source.streams]
    assert all(name in output for name in streams)
    assert "failed" not in output
    counts = table_counts(config_file.parent)
    assert [table for table in TABLES if counts[table] == 0] == []
    assert (config_file.parent / "feeds" / "kb_inventory.parquet").exists()
    assert (config_file.parent / "report.html").exists()


def test_one_source_only(config_file: Path) -> None:
    ok, output = run(config_file, sources=["lingma"])

    assert ok, output
    assert "lingma.knowledge_bases" in output and "lingma.documents" in output
    assert "qianfan.documents" not in output
    counts = table_counts(config_file.parent)
    assert counts["knowledge_bases"] > 0 and counts["documents"] > 0
    assert counts["document_tags"] == counts["jobs"] == counts["chunk_counts"] == 0, "only Lingma ran"


def test_unknown_source_is_refused_before_anything_runs(config_file: Path) -> None:
    with pytest.raises(ValueError, match="confluence"):
        run(config_file, sources=["confluence"])


def test_failing_vendor_returns_false_and_the_rest_is_published(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = with_wrong_credentials(config_file, "qianfan", monkeypatch)

    ok, output = run(wrong)

    assert not ok
    assert "qianfan.knowledge_bases" in output and "failed" in output
    assert "not-the-secret" not in output
    counts = table_counts(config_file.parent)
    assert counts["document_tags"] == 0, "Qianfan's own table stays empty"
    assert counts["documents"] > 0 and counts["jobs"] > 0, "the other vendors' documents and jobs land"
    assert (config_file.parent / "feeds" / "kb_inventory.parquet").exists()
