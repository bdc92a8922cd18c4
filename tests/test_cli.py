"""The `kb-pipeline` command as users meet it: the demo end to end, ad-hoc SQL, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kb_pipeline.cli import app
from kb_pipeline.warehouse import Warehouse

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("demo")
    result = runner.invoke(app, ["demo", "--scale", "0.1", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    return data_dir


def test_the_demo_builds_every_table_feed_and_the_report(demo_dir: Path) -> None:
    with Warehouse(demo_dir, read_only=True) as warehouse:
        counts = warehouse.table_counts()
    assert all(counts[table] > 0 for table in ("knowledge_bases", "documents", "jobs", "chunk_counts"))
    assert counts["_kb.quarantine"] == 0
    feeds = {path.stem for path in (demo_dir / "feeds").glob("*.parquet")}
    assert {"knowledge_bases", "documents", "kb_inventory", "job_health_daily"} <= feeds
    assert (demo_dir / "report.html").stat().st_size > 0


def test_sql_prints_a_table(demo_dir: Path) -> None:
    result = runner.invoke(
        app,
        [
            "sql",
            "select source, count(*) as n from knowledge_bases group by all",
            "--data-dir",
            str(demo_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "qianfan" in result.output and "lingma" in result.output


def test_sql_errors_are_one_clear_line(demo_dir: Path, tmp_path: Path) -> None:
    bad = runner.invoke(app, ["sql", "select * from no_such_table", "--data-dir", str(demo_dir)])
    assert bad.exit_code == 2
    assert "no_such_table" in bad.output and "Traceback" not in bad.output
    missing = runner.invoke(app, ["sql", "select 1", "--data-dir", str(tmp_path)])
    assert missing.exit_code == 2 and "no warehouse" in missing.output


def test_run_refuses_a_config_typo_naming_file_and_key(demo_dir: Path, tmp_path: Path) -> None:
    document = yaml.safe_load((demo_dir / "sandbox-config.yaml").read_text(encoding="utf-8"))
    document["sources"]["lingma"]["organisation_ids"] = document["sources"]["lingma"].pop("organization_ids")
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    result = runner.invoke(app, ["run", "--config", str(path)])
    assert result.exit_code == 2
    assert str(path) in result.output.replace("\n", "")
    assert "sources.lingma.organisation_ids" in result.output


def test_rebuild_recreates_the_tables_from_raw(demo_dir: Path) -> None:
    with Warehouse(demo_dir, read_only=True) as warehouse:
        before = warehouse.table_counts()
    result = runner.invoke(app, ["rebuild", "--data-dir", str(demo_dir)])
    assert result.exit_code == 0, result.output
    with Warehouse(demo_dir, read_only=True) as warehouse:
        assert warehouse.table_counts() == before
