"""A live sandbox of all four vendors, a config file pointing at it, and a Dagster instance, shared by
the tests of one module (they run the graph into a temporary data directory)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from kb_pipeline.demo import export_sandbox_environment, write_sandbox_config
from kb_pipeline.sandbox import SandboxServer


@pytest.fixture(scope="module")
def vendor_sandbox() -> Iterator[SandboxServer]:
    """A sandbox of this module's own (tests here change its data): seed 5, scale 0.2, no rate limits."""
    export_sandbox_environment()
    with SandboxServer(seed=5, scale=0.2, qps=None) as server:
        yield server


@pytest.fixture(scope="module")
def config_file(vendor_sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("warehouse") / "data"
    return write_sandbox_config(vendor_sandbox.url, vendor_sandbox.dataset, data_dir)


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral
