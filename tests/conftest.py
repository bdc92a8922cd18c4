"""Shared fixtures for the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kb_pipeline.sandbox import SandboxServer


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    """One running sandbox for the session: seed 1, scale 0.1 (about 100 Qianfan documents, 10 PAI
    jobs), rate limits off. Shared: a test that changes its data or arms faults should start its own
    `SandboxServer` instead (about 0.1 s)."""
    with SandboxServer(seed=1, scale=0.1, qps=None) as server:
        yield server
