"""A sandbox plus a configured warehouse directory, and ways to run the engine into it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from kb_pipeline.config import PipelineConfig, load_config
from kb_pipeline.demo import export_sandbox_environment, write_sandbox_config
from kb_pipeline.extract import RunReport, extract
from kb_pipeline.sandbox import SandboxServer
from kb_pipeline.warehouse import Warehouse


def configure(server: SandboxServer, data_dir: Path, **overrides: dict) -> Path:
    """Write a config for `server` into `data_dir`; `overrides` patch a source's settings."""
    export_sandbox_environment()
    path = write_sandbox_config(server.url, server.dataset, data_dir)
    if overrides:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for source, settings in overrides.items():
            document["sources"][source].update(settings)
        path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def run_engine(config: PipelineConfig | Path, *, run_id: str = "run", **options) -> RunReport:
    config = config if isinstance(config, PipelineConfig) else load_config(config)
    with Warehouse(config.data_dir) as warehouse:
        return extract(config, warehouse, run_id=run_id, **options)


def rows(data_dir: Path, sql: str) -> list[dict]:
    with Warehouse(data_dir, read_only=True) as warehouse:
        return warehouse.query(sql).to_pylist()


RUNNER = Path(__file__).with_name("extract_once.py")
ROOT = Path(__file__).resolve().parents[2]
# columns that depend on when a page was fetched, not on what it held
WHEN = {"first_seen_at", "last_seen_at", "observed_at"}
TABLE_KEYS = {
    "knowledge_bases": "source, kb_id",
    "documents": "source, kb_id, doc_id",
    "document_tags": "source, kb_id, doc_id, tag_key, tag_value",
    "jobs": "source, job_id",
    "job_files": "source, job_id, file_meta_id",
    "job_status_history": "source, job_id, status",
    "chunk_counts": "source, kb_id, pipeline, chunk_count",
}


def snapshot(data_dir: Path) -> dict[str, list[tuple]]:
    """Every table's content, less fetch times; repeated snapshots of the same state count once."""
    tables = {}
    for name, key in TABLE_KEYS.items():
        found = rows(data_dir, f"SELECT * FROM {name} ORDER BY {key}")
        values = [tuple((k, repr(v)) for k, v in row.items() if k not in WHEN) for row in found]
        tables[name] = sorted(set(values)) if name in ("chunk_counts", "job_status_history") else values
    return tables


def extraction(config: Path, run_id: str) -> subprocess.Popen:
    """The engine alone, extracting every stream in a subprocess (tests kill or resume it)."""
    return subprocess.Popen(
        [sys.executable, str(RUNNER), str(config), run_id],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def raw_pages(data_dir: Path) -> int:
    return sum(1 for _ in (data_dir / "raw").rglob("*.parquet")) if (data_dir / "raw").exists() else 0


def kill_then_resume(config: Path, data_dir: Path, after_pages: int) -> None:
    """SIGKILL an extraction once `after_pages` more raw pages have landed, then run it to the end."""
    landed = raw_pages(data_dir)
    victim = extraction(config, "killed")
    deadline = time.monotonic() + 60
    while (
        raw_pages(data_dir) < landed + after_pages and victim.poll() is None and time.monotonic() < deadline
    ):
        time.sleep(0.005)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    assert victim.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    rerun = extraction(config, "resumed")
    assert rerun.wait(timeout=120) == 0, rerun.stderr.read().decode()
