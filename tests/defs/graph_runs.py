"""Runs of the real asset graph (the definitions' own assets, with resources pointing at a given config
file) in process, and a config variant whose vendor refuses our credentials."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from kb_pipeline.defs import ASSETS
from kb_pipeline.defs.extraction import ignore_pages
from kb_pipeline.defs.publishing import PUBLISHED_KEYS
from kb_pipeline.defs.resources import PipelineSettings, WarehouseResource
from kb_pipeline.defs.streams import STREAMS

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def resources_for(config_file: Path) -> dict[str, dg.ConfigurableResource]:
    settings = PipelineSettings(config_file=str(config_file))
    return {
        "settings": settings,
        "warehouse": WarehouseResource(settings=settings),
        "page_progress": ignore_pages,
    }


def run(
    config_file: Path, instance: dg.DagsterInstance, selection: dg.AssetSelection | list[dg.AssetKey]
) -> dg.ExecuteInProcessResult:
    """Materialize `selection` of the definitions' assets (and their checks) against `config_file`."""
    return dg.materialize(
        ASSETS,
        selection=selection,
        instance=instance,
        resources=resources_for(config_file),
        run_config=QUIET,
        raise_on_error=False,
    )


def extract(config_file: Path, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """Every stream asset, with its checks."""
    return run(config_file, instance, list(STREAMS))


def publish(config_file: Path, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """The marts, feeds and report."""
    return run(config_file, instance, PUBLISHED_KEYS)


def with_wrong_credentials(config_file: Path, source: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of `config_file` (same data directory) whose `source` signs with a secret the vendor refuses."""
    document = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    credentials = document["sources"][source]["credentials"]
    field = next(reversed(credentials))
    monkeypatch.setenv("KB_TEST_WRONG_SECRET", "not-the-secret")
    credentials[field] = "${KB_TEST_WRONG_SECRET}"
    path = config_file.with_name(f"wrong-{source}.yaml")
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path
