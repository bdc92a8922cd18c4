"""A sandbox plus a configured warehouse directory, and ways to run the engine into it."""

from __future__ import annotations

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
