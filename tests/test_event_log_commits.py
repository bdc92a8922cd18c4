"""Dagster's SQLite storage commits without a disk sync per event inside `cheap_commits`, and only there."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import dagster as dg
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from kb_pipeline.event_log_commits import cheap_commits

FULL, NORMAL = 2, 1


def create_database(path: Path, *, journal_mode: str = "WAL") -> Path:
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA journal_mode={journal_mode}")
    connection.execute("CREATE TABLE events (body TEXT)")
    connection.commit()
    connection.close()
    return path


def rows(path: Path) -> int:
    connection = sqlite3.connect(path)
    (count,) = connection.execute("SELECT count(*) FROM events").fetchone()
    connection.close()
    return count


def insert_as_dagster_does(path: Path) -> int:
    """One event on a connection of its own (Dagster's NullPool); returns the connection's sync level."""
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    with engine.connect() as connection, connection.begin():
        connection.execute(text("INSERT INTO events VALUES ('e')"))
        level = connection.execute(text("PRAGMA synchronous")).scalar_one()
    engine.dispose()
    return level


def test_inside_commits_skip_the_sync_and_closing_does_not_checkpoint(tmp_path: Path) -> None:
    database = create_database(tmp_path / "run.db")
    log = tmp_path / "run.db-wal"
    insert_as_dagster_does(database)
    assert not log.exists()  # by default, closing the last connection checkpoints and removes the log
    with cheap_commits():
        assert [insert_as_dagster_does(database) for _ in range(3)] == [NORMAL] * 3
        assert log.exists()  # Dagster's connection closed, but it was not the last one
    assert not log.exists()  # leaving closed the held connection: one checkpoint, log removed
    assert rows(database) == 4


def test_outside_and_for_other_journal_modes_sqlite_keeps_its_defaults(tmp_path: Path) -> None:
    database = create_database(tmp_path / "run.db")
    with cheap_commits():
        pass
    assert insert_as_dagster_does(database) == FULL
    assert not (tmp_path / "run.db-wal").exists()

    rollback_journal = create_database(tmp_path / "plain.db", journal_mode="DELETE")
    with cheap_commits():
        assert insert_as_dagster_does(rollback_journal) == FULL


def test_a_dagster_run_inside_is_stored_whole(tmp_path: Path) -> None:
    @dg.asset
    def numbers() -> int:
        return 1

    with cheap_commits(), dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        assert dg.materialize([numbers], instance=instance).success
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        assert instance.get_latest_materialization_event(dg.AssetKey("numbers")) is not None
