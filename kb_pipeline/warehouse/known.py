"""What the warehouse already holds, read once per stream so streams can decide what to ask for."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa


class Queryable(Protocol):
    def query(self, sql: str) -> pa.Table: ...


@dataclass(frozen=True)
class KnownSnapshot:
    """Live knowledge bases per source, and each source's jobs with their normalized status."""

    knowledge_bases: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)
    jobs: dict[str, dict[str, str | None]] = field(default_factory=dict)

    @classmethod
    def read(cls, warehouse: Queryable) -> KnownSnapshot:
        kbs: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
        kb_rows = warehouse.query(
            "SELECT source, kb_id, scope_id FROM knowledge_bases WHERE deleted_at IS NULL ORDER BY source, kb_id"
        ).to_pylist()
        for row in kb_rows:
            kbs[row["source"]].append((row["kb_id"], row["scope_id"]))
        jobs: dict[str, dict[str, str | None]] = defaultdict(dict)
        for row in warehouse.query(
            "SELECT source, job_id, status FROM jobs ORDER BY source, job_id"
        ).to_pylist():
            jobs[row["source"]][row["job_id"]] = row["status"]
        return cls(dict(kbs), dict(jobs))

    def knowledge_base_ids(self, source: str, scope_id: str | None = None) -> list[str]:
        return [kb for kb, scope in self.knowledge_bases.get(source, []) if scope_id in (None, scope)]

    def running_job_ids(self, source: str) -> list[str]:
        return [job for job, status in self.jobs.get(source, {}).items() if status == "running"]

    def job_ids(self, source: str) -> set[str]:
        return set(self.jobs.get(source, {}))
