"""Fixtures for the sandbox tests: a read-only server per module, a fresh one per mutating test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kb_pipeline.sandbox import SandboxServer


@pytest.fixture(scope="module")
def shared() -> Iterator[SandboxServer]:
    """A module's read-only sandbox at scale 1 (tests using it must not change it)."""
    with SandboxServer(seed=11, scale=1.0, qps=None) as server:
        yield server


@pytest.fixture
def fresh() -> Iterator[SandboxServer]:
    """A sandbox of its own for a test that changes data, settings or faults."""
    with SandboxServer(seed=5, scale=0.3, qps=None) as server:
        yield server
