"""The latest outcome of each asset check, read from the Dagster instance for the report.

Checks run inside Dagster and their results live in its event log, not in the warehouse; the
report asset reads them here and hands the page plain `CheckOutcome` values.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import dagster as dg

from kb_pipeline.report.checks import CheckOutcome


def latest_check_outcomes(
    instance: dg.DagsterInstance, check_keys: Iterable[dg.AssetCheckKey]
) -> list[CheckOutcome]:
    """The latest evaluation of each check in `check_keys`; checks never evaluated are left out
    (a stream whose extraction failed plans its checks without evaluating them)."""
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(check_keys))
    outcomes = []
    for key, record in sorted(latest.items(), key=lambda item: item[0].to_user_string()):
        evaluation = record.event.asset_check_evaluation if record.event else None
        if evaluation is None:
            continue
        outcomes.append(
            CheckOutcome(
                asset=key.asset_key.to_user_string(),
                check=key.name,
                passed=evaluation.passed,
                severity=evaluation.severity.value,
                description=evaluation.description,
                evaluated_at=datetime.fromtimestamp(record.event.timestamp, UTC) if record.event else None,
            )
        )
    return outcomes
