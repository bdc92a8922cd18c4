"""Shared fixtures for the whole suite."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb_pipeline.instance import PROJECT_HOME, open_instance
from kb_pipeline.sandbox import SandboxServer


def new_dagster_home(home: Path) -> Path:
    """A new Dagster instance at `home`, configured like the project's (its pools and limits) and
    opened once as `kb-pipeline` opens it (which guards its pool slots)."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_HOME / "dagster.yaml", home / "dagster.yaml")
    # create its SQLite storages now: processes that start together on a new instance would each
    # create (and stamp) them at once
    with open_instance(home) as instance:
        instance.get_runs(limit=1)
        instance.event_log_storage.get_concurrency_info("kb_warehouse")
        instance.schedule_storage.all_instigator_state()
    return home


@pytest.fixture(scope="session", autouse=True)
def dagster_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An instance of the test session's own, so `kb-pipeline demo|run` in the tests record their
    runs there and never in the project's `dagster_home/`. Set as DAGSTER_HOME, so subprocesses use
    it too."""
    home = new_dagster_home(tmp_path_factory.mktemp("dagster_home"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        yield home


@pytest.fixture
def own_dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Dagster instance of the test's own, set as DAGSTER_HOME: for a test whose checks compare
    with earlier runs, which the session's instance has of other tenants."""
    home = new_dagster_home(tmp_path / "dagster_home")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    """One running sandbox for the session: seed 1, scale 0.1 (about 100 Qianfan documents, 10 PAI
    jobs), rate limits off. Shared: a test that changes its data or arms faults should start its own
    `SandboxServer` instead (about 0.1 s)."""
    with SandboxServer(seed=1, scale=0.1, qps=None) as server:
        yield server
