"""What the warehouse already holds, read once per stream so streams can decide what to ask for.

A stream asks only about its own source, so a snapshot holds one source's rows: the Lingma
streams never read the jobs, and a job-listing source reads its own jobs and no other's.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import pyarrow as pa
import pyarrow.compute

from kb_pipeline.pages import RunningWindow


class Queryable(Protocol):
    def query(self, sql: str) -> pa.Table: ...


_RUNNING_WINDOWS = """
    WITH oldest AS (
        SELECT source, kb_id, min(created_at) AS oldest_created
        FROM jobs WHERE status = 'running' AND kb_id IS NOT NULL AND created_at IS NOT NULL AND {of_source}
        GROUP BY source, kb_id
    )
    SELECT o.source, o.kb_id, o.oldest_created, count(*) AS jobs
    FROM oldest o JOIN jobs j ON j.source = o.source AND j.kb_id = o.kb_id
    WHERE j.created_at >= o.oldest_created
    GROUP BY o.source, o.kb_id, o.oldest_created
"""


_JOB_STATES = """
    SELECT source, kb_id, md5(string_agg(
        concat_ws('|', job_id, status, CAST(modified_at AS VARCHAR), CAST(finished_at AS VARCHAR)),
        ',' ORDER BY job_id
    )) AS state
    FROM jobs WHERE kb_id IS NOT NULL AND deleted_at IS NULL AND {of_source}
    GROUP BY source, kb_id
"""

PARENT_FIELDS = ("scope_id", "updated_at", "last_activity_at", "file_count", "size_bytes")
"""What a child listing may compare with its last listing to tell whether to list again."""


@dataclass(frozen=True)
class KnownSnapshot:
    """Live knowledge bases per source (and what each last said of itself), each source's jobs
    with their normalized status, a fingerprint of each knowledge base's jobs, and the running
    window of each knowledge base that has running jobs."""

    knowledge_bases: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)
    jobs: dict[str, dict[str, str | None]] = field(default_factory=dict)
    running_windows: dict[tuple[str, str], RunningWindow] = field(default_factory=dict)
    parents: dict[tuple[str, str], dict[str, object]] = field(default_factory=dict)
    job_states: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def read(cls, warehouse: Queryable, source: str | None = None) -> KnownSnapshot:
        """What the warehouse holds of `source` (of every source when None)."""
        of_source = "TRUE" if source is None else "source = '{}'".format(source.replace("'", "''"))
        kbs: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
        parents: dict[tuple[str, str], dict[str, object]] = {}
        kb_rows = warehouse.query(
            f"SELECT source, kb_id, {', '.join(PARENT_FIELDS)} FROM knowledge_bases "
            f"WHERE deleted_at IS NULL AND {of_source} ORDER BY source, created_at NULLS FIRST, kb_id"
        ).to_pylist()
        for row in kb_rows:
            kbs[row["source"]].append((row["kb_id"], row["scope_id"]))
            parents[(row["source"], row["kb_id"])] = {
                name: row[name].isoformat() if isinstance(row[name], datetime) else row[name]
                for name in PARENT_FIELDS
            }
        job_states = {
            (row["source"], row["kb_id"]): row["state"]
            for row in warehouse.query(_JOB_STATES.format(of_source=of_source)).to_pylist()
        }
        jobs: dict[str, dict[str, str | None]] = {}
        stored = warehouse.query(f"SELECT source, job_id, status FROM jobs WHERE {of_source} ORDER BY job_id")
        # column by column: a dict per row would cost several times the ids themselves
        for name in stored.column("source").unique().to_pylist():
            held = stored.filter(pa.compute.equal(stored.column("source"), name))
            jobs[name] = dict(
                zip(held.column("job_id").to_pylist(), held.column("status").to_pylist(), strict=True)
            )
        windows = {
            (row["source"], row["kb_id"]): RunningWindow(row["oldest_created"], row["jobs"])
            for row in warehouse.query(_RUNNING_WINDOWS.format(of_source=of_source)).to_pylist()
        }
        return cls(dict(kbs), jobs, windows, parents, job_states)

    def knowledge_base_ids(self, source: str, scope_id: str | None = None) -> list[str]:
        """Live knowledge bases, oldest first (as a listing in creation order has them)."""
        return [kb for kb, scope in self.knowledge_bases.get(source, []) if scope_id in (None, scope)]

    def running_job_ids(self, source: str) -> list[str]:
        return [job for job, status in self.jobs.get(source, {}).items() if status == "running"]

    def job_ids(self, source: str) -> set[str]:
        return set(self.jobs.get(source, {}))

    def running_window(self, source: str, kb_id: str) -> RunningWindow | None:
        return self.running_windows.get((source, kb_id))

    def knowledge_base(self, source: str, kb_id: str) -> dict[str, object] | None:
        """What a live knowledge base last said of itself (`PARENT_FIELDS`, times as ISO text)."""
        return self.parents.get((source, kb_id))

    def job_state(self, source: str, kb_id: str) -> str | None:
        """A fingerprint of a knowledge base's jobs and their statuses; it moves when any job does."""
        return self.job_states.get((source, kb_id))
