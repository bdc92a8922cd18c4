"""`kb-pipeline`'s instance stores events through one engine per database, in Dagster's own files."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster._core.storage.event_log.schema import ConcurrencySlotsTable
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from kb_pipeline.event_log_storage import RUN_SHARD_ENGINES, PooledSqliteEventLogStorage
from kb_pipeline.instance import PROJECT_HOME, open_instance

CHECKS = 12
POOL = "kb_warehouse"
STEP = "extract"


@dg.asset(check_specs=[dg.AssetCheckSpec(f"check_{n}", asset="numbers") for n in range(CHECKS)])
def numbers() -> Iterator[dg.Output | dg.AssetCheckResult]:
    yield dg.Output(1)
    for n in range(CHECKS):
        yield dg.AssetCheckResult(check_name=f"check_{n}", passed=True)


def project_home(tmp_path: Path) -> Path:
    tmp_path.mkdir(exist_ok=True)
    shutil.copy(PROJECT_HOME / "dagster.yaml", tmp_path / "dagster.yaml")
    return tmp_path


@contextmanager
def counted_connects() -> Iterator[list[str]]:
    """The event-log database (`history/runs/*.db`) of every new connection SQLAlchemy opens inside."""
    opened: list[str] = []

    def on_connect(connection: sqlite3.Connection, _record: object) -> None:
        path = Path(connection.execute("PRAGMA database_list").fetchone()[2])
        if path.parent.name == "runs":
            opened.append(path.name)

    event.listen(Engine, "connect", on_connect)
    try:
        yield opened
    finally:
        event.remove(Engine, "connect", on_connect)


def test_the_projects_instance_pools_the_event_log_and_dagster_reads_the_same_files(tmp_path: Path) -> None:
    home = project_home(tmp_path)
    with open_instance(home) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        assert instance.event_log_storage.get_concurrency_info("kb_warehouse").limit == 1  # dagster.yaml kept
        run = dg.materialize([numbers], instance=instance)
        assert run.success
    with dg.DagsterInstance.from_config(str(home)) as dagster_default:
        assert type(dagster_default.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert dagster_default.get_latest_materialization_event(dg.AssetKey("numbers")) is not None
        check = dg.AssetCheckKey(dg.AssetKey("numbers"), "check_0")
        assert dagster_default.event_log_storage.get_latest_asset_check_execution_by_key([check])[
            check
        ].run_id == (run.run_id)
    assert (home / "history" / "runs" / f"{run.run_id}.db").exists()


def test_a_run_opens_a_few_connections_not_one_per_event(tmp_path: Path) -> None:
    with open_instance(project_home(tmp_path / "pooled")) as pooled, counted_connects() as opened:
        result = dg.materialize([numbers], instance=pooled)
        stored = len(pooled.all_logs(result.run_id))
        pooled_connects = len(opened)
    with (
        dg.DagsterInstance.from_config(str(project_home(tmp_path / "default"))) as default,
        counted_connects() as opened,
    ):
        dg.materialize([numbers], instance=default)
        default_connects = len(opened)

    assert stored > 3 * CHECKS  # planned and evaluated checks, outputs, steps
    assert default_connects > stored  # Dagster's class connects at least once per event
    assert pooled_connects <= 6  # the index and the run's shard, and their creation


def test_engines_stay_bounded_and_a_wipe_starts_clean(tmp_path: Path) -> None:
    with open_instance(project_home(tmp_path)) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, PooledSqliteEventLogStorage)
        runs = [dg.materialize([numbers], instance=instance).run_id for _ in range(RUN_SHARD_ENGINES + 2)]
        assert len(storage._engines) == RUN_SHARD_ENGINES + 1  # the newest runs' shards and the index

        storage.wipe()
        assert not (tmp_path / "history" / "runs" / f"{runs[-1]}.db").exists()
        after = dg.materialize([numbers], instance=instance)
        assert after.success
        records = instance.fetch_materializations(dg.AssetKey("numbers"), limit=10).records
        assert [record.run_id for record in records] == [after.run_id]


def test_storage_configured_in_dagster_yaml_is_left_as_configured(tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text(
        f"storage:\n  sqlite:\n    base_dir: {tmp_path / 'elsewhere'}\n", encoding="utf-8"
    )
    with open_instance(tmp_path) as instance:
        assert not isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        assert dg.materialize([numbers], instance=instance).success
    assert (tmp_path / "elsewhere").is_dir()


def claim_slot_read_earlier(instance: dg.DagsterInstance, slot_id: int, run_id: str) -> int:
    """Dagster's own write of a claim (`_claim_concurrency_slot`) to a slot it read as free before
    another run took it: the race two runs claiming at once can meet. Rows changed."""
    with instance.event_log_storage.index_connection() as connection:
        return connection.execute(
            ConcurrencySlotsTable.update()
            .values(run_id=run_id, step_key=STEP)
            .where(ConcurrencySlotsTable.c.id == slot_id)
        ).rowcount


def held_slot(instance: dg.DagsterInstance) -> tuple[int, str]:
    with instance.event_log_storage.index_connection() as connection:
        return connection.execute(
            select(ConcurrencySlotsTable.c.id, ConcurrencySlotsTable.c.run_id).where(
                ConcurrencySlotsTable.c.concurrency_key == POOL
            )
        ).one()


def test_a_held_slot_is_not_taken_by_a_claim_that_read_it_free(tmp_path: Path) -> None:
    guarded, unguarded = project_home(tmp_path / "guarded"), project_home(tmp_path / "unguarded")
    with open_instance(guarded):
        pass  # what every kb-pipeline command does first
    for home in (guarded, unguarded):
        # a plain `dagster` command's instance, Dagster's own class
        with dg.DagsterInstance.from_config(str(home)) as instance:
            instance.event_log_storage.initialize_concurrency_limit_to_default(POOL)  # as a run does
            assert instance.event_log_storage.claim_concurrency_slot(POOL, "first", STEP).is_claimed
            slot_id, holder = held_slot(instance)
            assert holder == "first"
            taken = claim_slot_read_earlier(instance, slot_id, "second")
            assert held_slot(instance)[1] == ("first" if home == guarded else "second")
            assert taken == (0 if home == guarded else 1)

    with dg.DagsterInstance.from_config(str(guarded)) as instance:
        storage = instance.event_log_storage
        assert not storage.claim_concurrency_slot(POOL, "second", STEP).is_claimed
        storage.free_concurrency_slots_for_run("first")  # the first run's step ended
        assert storage.claim_concurrency_slot(POOL, "second", STEP).is_claimed
        assert held_slot(instance)[1] == "second"
