"""A fresh warehouse (a real DuckDB file in a temporary data directory) per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kb_pipeline.warehouse import Warehouse


@pytest.fixture
def warehouse(tmp_path) -> Iterator[Warehouse]:
    with Warehouse(tmp_path / "data") as opened:
        yield opened
