"""In the Dagster UI a stream shows its materialization and its checks as soon as it is over, not
when the slowest vendor is: the one extraction step records each stream as it ends."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from graph_runs import extract

from kb_pipeline.sandbox import SandboxServer

SLOW_S = 2.5


def _asset(event: dg.EventLogEntry) -> str:
    dagster_event = event.dagster_event
    key = dagster_event.asset_key or dagster_event.asset_check_evaluation_data.asset_key
    return key.to_user_string()


def test_a_fast_stream_is_recorded_while_a_slow_vendor_still_answers(
    vendor_sandbox: SandboxServer, config_file: Path, instance: dg.DagsterInstance
) -> None:
    vendor_sandbox.control.add_fault("vikingdb", "slow", count=3, delay=SLOW_S)
    result = extract(config_file, instance)
    assert result.success
    recorded = {  # the last event of each kind per asset: every check of lingma's, for one
        (
            event.dagster_event_type,
            _asset(event),
        ): event.timestamp
        for event in instance.all_logs(result.run_id)
        if event.dagster_event_type
        in (dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    }
    materialized = dg.DagsterEventType.ASSET_MATERIALIZATION
    checked = dg.DagsterEventType.ASSET_CHECK_EVALUATION
    # the sandbox logs a request when it answers: VikingDB was still held back after lingma's events
    last_slow_answer = max(
        entry["at"] for entry in vendor_sandbox.control.requests("vikingdb") if entry["fault"] == "slow"
    )
    assert recorded[(materialized, "lingma/knowledge_bases")] < last_slow_answer
    assert recorded[(checked, "lingma/knowledge_bases")] < last_slow_answer
    assert recorded[(materialized, "vikingdb/tasks")] > last_slow_answer
