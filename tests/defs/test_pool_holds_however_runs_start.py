"""The per-vendor limit lives on the assets (pool `kb_warehouse`, limit 1 in dagster.yaml), not on run
tags: two runs started with plain `dagster asset materialize`, which sets no tag of ours, still
never call a vendor or write the warehouse at the same time. Real processes, instance and sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from kb_pipeline.config import CONFIG_ENV_VAR
from kb_pipeline.defs.extraction import EXTRACTION_OP
from kb_pipeline.demo import export_sandbox_environment, write_sandbox_config
from kb_pipeline.sandbox import SandboxServer

pytestmark = pytest.mark.slow

DAGSTER = str(Path(sys.executable).with_name("dagster"))
SELECTION = "lingma/knowledge_bases"


def step_window(instance: dg.DagsterInstance, run_id: str) -> tuple[float, float]:
    """When the run's extraction step started and ended."""
    events = [event for event in instance.all_logs(run_id) if event.step_key == EXTRACTION_OP]
    started = [e.timestamp for e in events if e.dagster_event_type == dg.DagsterEventType.STEP_START]
    ended = [e.timestamp for e in events if e.dagster_event_type == dg.DagsterEventType.STEP_SUCCESS]
    assert len(started) == len(ended) == 1, [e.dagster_event_type for e in events]
    return started[0], ended[0]


def test_two_plain_dagster_runs_of_one_vendor_take_turns(tmp_path: Path) -> None:
    export_sandbox_environment()
    with SandboxServer(seed=3, scale=0.1, qps=None) as sandbox:
        config = write_sandbox_config(sandbox.url, sandbox.dataset, tmp_path / "data")
        # each run's first listing answers after 3 s, so unlimited runs would overlap
        sandbox.control.add_fault("lingma", "slow", count=2, delay=3.0)
        command = [DAGSTER, "asset", "materialize", "-m", "kb_pipeline.defs", "--select", SELECTION]
        env = {**os.environ, CONFIG_ENV_VAR: str(config)}
        runs = [
            subprocess.Popen(
                command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            for _ in range(2)
        ]
        for run in runs:
            assert run.wait(timeout=600) == 0, run.stderr.read().decode()

    with dg.DagsterInstance.get() as instance:  # DAGSTER_HOME: the session's instance (tests/conftest.py)
        recent = instance.get_runs(limit=2)
        assert all(not run.tags.get("kb_pipeline/host") for run in recent)  # no tag of ours
        first, second = sorted(step_window(instance, run.run_id) for run in recent)
    assert second[0] >= first[1], "the two extraction steps ran at the same time"
    assert first[1] - first[0] >= 3.0
