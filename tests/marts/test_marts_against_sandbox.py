"""Protects every mart against figures worked out here, in plain Python, from the sandbox's own
dataset: the pipeline loads a sandbox, the vendors then change (knowledge bases, a collection and a
document deleted, a job and a task failing), a second full run picks that up, and each mart must
agree with the wire records the sandbox now serves. Nothing here runs a mart's SQL a second time.

The session time zone is set away from UTC before the marts are read, so a mart that dates by the
session's zone instead of UTC gives itself away. Marts that measure against "now" are checked
against the moments just before and just after their query.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kb_pipeline.marts import MARTS, create_marts
from kb_pipeline.normalize import mime_type_of
from kb_pipeline.sandbox import SandboxServer
from kb_pipeline.sandbox.dataset import Dataset
from kb_pipeline.sources import SOURCES
from kb_pipeline.warehouse import Warehouse
from tests.pipeline.conftest import configure, run_engine

Row = dict[str, Any]

SEED, SCALE = 17, 0.5
CHECKED_MARTS = (
    "kb_inventory",
    "kb_inventory_by_scope",
    "document_status_funnel",
    "documents_stuck",
    "parse_failures_by_mime_type",
    "job_health_daily",
    "job_failures_by_error",
    "jobs_overrunning",
    "chunk_growth_daily",
    "chunk_growth_from_jobs",
    "extraction_freshness",
)
QIANFAN_STATUS = {
    "queuing": "queued",
    "notConfigured": "queued",
    "paused": "queued",
    "parsing": "processing",
    "indexing": "processing",
    "retrainingSegmentUnusable": "processing",
    "available": "available",
    "retrainErrSegmentUsable": "available",
    "parseError": "failed",
    "error": "failed",
}
PAI_STATUS = {"Running": "running", "Success": "succeeded", "Failed": "failed"}
VIKINGDB_STATUS = {"running": "running", "success": "succeeded", "fail": "failed"}
LINGMA_FILE_STATUS = {
    "pending": "queued",
    "processing": "processing",
    "success": "available",
    "failed": "failed",
}
VIKINGDB_DOC_STATUS = {0: "available", 1: "failed", 2: "queued", 6: "processing"}
FRESHNESS_TABLES = ("knowledge_bases", "documents", "jobs", "chunk_counts")
FEEDING_STREAMS = {
    (source.name, table): ", ".join(sorted(s.name for s in source.streams if table in s.tables))
    for source in SOURCES.values()
    for stream in source.streams
    for table in stream.tables
    if table in FRESHNESS_TABLES
}
"""The streams feeding each source's tables, as the registry of sources declares them."""
STUCK_AFTER = timedelta(hours=24)
CLOCK_SLACK = timedelta(milliseconds=1)
"""DuckDB's `current_timestamp` and Python read the same clock; this absorbs rounding at its edges."""
INVENTORY_FIGURES = (
    "scope_type",
    "scope_id",
    "kb_name",
    "documents",
    "documents_basis",
    "bytes",
    "chunks",
    "created_at",
    "last_activity_at",
)
NO_ERROR_MESSAGE = "(no error message)"
PAI_FAILURE = "index build failed: vendor changed under test"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SIZE_UNITS = ("B", "KB", "MB", "GB", "TB")


@dataclass(frozen=True)
class Window:
    """A span of wall-clock time that some moment (a run, a query's `current_timestamp`) lies in."""

    start: datetime
    end: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment <= self.end

    def hours_since(self, moment: datetime) -> tuple[float, float]:
        """The least and the most hours from `moment` to a point of this window."""
        return ((self.start - moment).total_seconds() / 3600, (self.end - moment).total_seconds() / 3600)


@dataclass(frozen=True)
class MartRead:
    rows: list[Row]
    asked: Window
    """When the query ran: the mart's `current_timestamp` lies in here."""


@dataclass(frozen=True)
class Changes:
    """What the vendors changed between the runs that the dataset itself no longer shows."""

    orphaned_documents: int
    """Documents of the deleted Qianfan knowledge base: nothing tells the pipeline they went too."""
    vanished_pipelines: int
    """Pipelines of the deleted VikingDB collection: snapshot in the first run only."""
    orphaned_files: int
    """Files of the deleted Lingma knowledge base, listed in the first run only."""
    orphaned_collection_documents: int
    """Documents of the deleted VikingDB collection, listed in the first run only."""


@dataclass(frozen=True)
class Loaded:
    dataset: Dataset
    first_run: Window
    second_run: Window
    changes: Changes
    marts: dict[str, MartRead]


def _now() -> datetime:
    return datetime.now(UTC)


def _run(config: Path, run_id: str, **options: Any) -> Window:
    start = _now() - CLOCK_SLACK
    report = run_engine(config, run_id=run_id, **options)
    assert report.ok, [stream.errors for stream in report.streams if not stream.ok]
    return Window(start, _now() + CLOCK_SLACK)


def _change_the_vendors(server: SandboxServer) -> Changes:
    """Delete a Lingma and a Qianfan knowledge base, a VikingDB collection and two Qianfan documents;
    fail a running PAI job and a running VikingDB task."""
    data, control = server.dataset, server.control
    organization = next(iter(data.lingma_organizations))
    doomed_lingma = data.lingma_organizations[organization][-1]
    control.delete_lingma_knowledge_base(doomed_lingma["id"])

    largest = data.qianfan_knowledge_bases[0]["id"]
    small = [kb for kb, docs in data.qianfan_documents.items() if docs and kb != largest]
    doomed_kb = min(small, key=lambda kb: len(data.qianfan_documents[kb]))
    orphaned = len(data.qianfan_documents[doomed_kb])
    control.delete_qianfan_knowledge_base(doomed_kb)
    for wanted in ("queued", "failed"):
        doc = next(d for d in data.qianfan_documents[largest] if _document_status(d) == wanted)
        control.delete_qianfan_document(largest, doc["id"])

    project = next(p for p, collections in data.vikingdb_collections.items() if collections)
    collection = data.vikingdb_collections[project][0]
    control.delete_vikingdb_collection(project, collection["collection_name"])

    running = next(j for jobs in data.pai_jobs.values() for j in jobs if j["Status"] == "Running")
    control.finish_pai_job(running["KnowledgeBaseJobId"], status="Failed", error_message=PAI_FAILURE)
    task = next(t for t, info in data.vikingdb_tasks.items() if info["status"] == "running")
    control.finish_vikingdb_task(task, status="fail")
    return Changes(
        orphaned_documents=orphaned,
        vanished_pipelines=len(collection["pipeline_list"]),
        orphaned_files=doomed_lingma["fileCount"],
        orphaned_collection_documents=collection["doc_num"],
    )


def _read(warehouse: Warehouse, mart: str) -> MartRead:
    start = _now() - CLOCK_SLACK
    rows = warehouse.query(f"SELECT * FROM {mart}").to_pylist()
    return MartRead(rows, Window(start, _now() + CLOCK_SLACK))


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    data_dir = tmp_path_factory.mktemp("sandbox-marts")
    with SandboxServer(seed=SEED, scale=SCALE, qps=None) as server:
        config = configure(server, data_dir)
        first_run = _run(config, "first")
        changes = _change_the_vendors(server)
        second_run = _run(config, "second", full_refresh=True)
    with Warehouse(data_dir) as warehouse:
        create_marts(warehouse.connection)
        warehouse.connection.execute("SET TimeZone = 'Asia/Shanghai'")
        marts = {name: _read(warehouse, name) for name in CHECKED_MARTS}
    return Loaded(server.dataset, first_run, second_run, changes, marts)


# -- the dataset, read the way each mart's header describes ------------------------------------


def _iso(text: str) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(UTC) if text else None


def _epoch_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def _epoch_s(seconds: int) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)


def _latest(times: Iterable[datetime | None]) -> datetime | None:
    return max((t for t in times if t is not None), default=None)


def _size_bytes(text: str) -> int:
    """Lingma's display sizes (`"1.5 MB"`), binary units."""
    number, unit = text.split()
    return round(float(number) * 1024 ** _SIZE_UNITS.index(unit))


def _sum_or_none(values: Iterable[int | None]) -> int | None:
    """SQL's sum: NULLs left out, NULL when nothing is left."""
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _quantile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks, the definition of DuckDB's quantile_cont."""
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def _pick(row: Row, columns: Iterable[str]) -> Row:
    return {column: row[column] for column in columns}


def _rounded(row: Row) -> Row:
    return {key: round(value, 6) if isinstance(value, float) else value for key, value in row.items()}


def _document_status(doc: Row) -> str:
    return "disabled" if doc["enabled"] is False else QIANFAN_STATUS[doc["displayStatus"]]


def _qianfan_documents(data: Dataset) -> Iterator[tuple[str, Row]]:
    """(kb_id, document) of every live document of a live knowledge base."""
    for kb_id, docs in data.qianfan_documents.items():
        for doc in docs:
            yield kb_id, doc


@dataclass(frozen=True)
class Document:
    """A live document of a live knowledge base, whatever its vendor, as the documents table holds it."""

    source: str
    kb_id: str
    doc_id: str
    name: str
    status: str
    status_raw: str
    created_at: datetime
    mime_type: str | None


def _documents(data: Dataset) -> Iterator[Document]:
    """Every live document of Qianfan, Lingma (files) and VikingDB."""
    for kb_id, doc in _qianfan_documents(data):
        created = _iso(doc["createdAt"])
        status = _document_status(doc)
        yield Document(
            "qianfan", kb_id, doc["id"], doc["name"], status, doc["displayStatus"], created, _mime_type(doc)
        )
    for kbs in data.lingma_organizations.values():
        for kb in kbs:
            for file in data.lingma_files.get(kb):
                yield Document(
                    "lingma",
                    kb["id"],
                    file["fileId"],
                    file["filename"],
                    LINGMA_FILE_STATUS[file["fileState"]],
                    file["fileState"],
                    _epoch_ms(file["gmtAdded"]),
                    mime_type_of(file["filename"]),
                )
    for collections in data.vikingdb_collections.values():
        for collection in collections:
            for doc in data.vikingdb_documents.get(collection):
                code = doc["status"]["process_status"]
                yield Document(
                    "vikingdb",
                    collection["resource_id"],
                    doc["doc_id"],
                    doc["doc_name"],
                    VIKINGDB_DOC_STATUS[code],
                    str(code),
                    _epoch_ms(doc["create_time"]),
                    mime_type_of(doc["doc_type"]),
                )


def _kb_names(data: Dataset) -> dict[tuple[str, str], str]:
    return {
        **{("qianfan", kb["id"]): kb["name"] for kb in data.qianfan_knowledge_bases},
        **{("lingma", kb["id"]): kb["name"] for kbs in data.lingma_organizations.values() for kb in kbs},
        **{
            ("vikingdb", c["resource_id"]): c["collection_name"]
            for cs in data.vikingdb_collections.values()
            for c in cs
        },
    }


def _mime_type(doc: Row) -> str | None:
    meta = doc["meta"]
    return meta.get("mimeType", meta.get("mime_type"))


def _file_size(doc: Row) -> int | None:
    meta = doc["meta"]
    return meta.get("fileSize", meta.get("file_size"))


def _pai_jobs(data: Dataset) -> Iterator[Row]:
    for jobs in data.pai_jobs.values():
        yield from jobs


def _duration_s(job: Row) -> float | None:
    finished = _iso(job["GmtFinishTime"])
    return None if finished is None else (finished - _iso(job["GmtCreateTime"])).total_seconds()


def _pai_chunk_growth(data: Dataset) -> dict[str, list[Row]]:
    """Per PAI knowledge base, its succeeded jobs' add - delete chunk counts per UTC finish day."""
    deltas: dict[str, Counter[date]] = defaultdict(Counter)
    for job in _pai_jobs(data):
        if job["Status"] == "Success":
            result = job["KnowledgeBaseJobResult"]
            deltas[job["KnowledgeBaseId"]][_iso(job["GmtFinishTime"]).date()] += (
                result["AddChunkCount"] - result["DeleteChunkCount"]
            )
    growth = {}
    for kb_id, by_day in deltas.items():
        total, rows = 0, []
        for day in sorted(by_day):
            total += by_day[day]
            rows.append({"day": day, "method": "job_delta", "chunk_count": total, "chunk_delta": by_day[day]})
        growth[kb_id] = rows
    return growth


def _point_num(collection: Row) -> int:
    return sum(p["pipeline_stat"]["point_num"] for p in collection["pipeline_list"])


def _expected_inventory(data: Dataset) -> dict[tuple[str, str], Row]:
    """kb_inventory's figures for every live knowledge base, keyed by (source, kb_id)."""
    inventory: dict[tuple[str, str], Row] = {}
    for workspace, kbs in data.pai_knowledge_bases.items():
        for kb in kbs:
            jobs = data.pai_jobs[kb["KnowledgeBaseId"]]
            job_times = [
                _iso(j[f]) for j in jobs for f in ("GmtCreateTime", "GmtModifiedTime", "GmtFinishTime")
            ]
            created = _iso(kb["GmtCreateTime"])
            inventory[("pai_langstudio", kb["KnowledgeBaseId"])] = {
                "scope_type": "workspace",
                "scope_id": workspace,
                "kb_name": kb["Name"],
                "documents": None,
                "documents_basis": None,
                "bytes": None,
                "chunks": data.pai_chunk_total(kb["KnowledgeBaseId"]),
                "created_at": created,
                "last_activity_at": _latest([created, _iso(kb["GmtModifiedTime"]), *job_times]),
            }
    for organization, kbs in data.lingma_organizations.items():
        for kb in kbs:
            inventory[("lingma", kb["id"])] = {
                "scope_type": "organization",
                "scope_id": organization,
                "kb_name": kb["name"],
                "documents": len(data.lingma_files.get(kb)),
                "documents_basis": "documents",
                "bytes": _size_bytes(kb["size"]),
                "chunks": None,
                "created_at": _epoch_ms(kb["gmtCreate"]),
                "last_activity_at": _epoch_ms(
                    max(kb["gmtCreate"], kb["gmtModified"], kb["lastActivityTime"])
                ),
            }
    for kb in data.qianfan_knowledge_bases:
        docs = data.qianfan_documents[kb["id"]]
        created = _iso(kb["createAt"])
        inventory[("qianfan", kb["id"])] = {
            "scope_type": None,
            "scope_id": None,
            "kb_name": kb["name"],
            "documents": len(docs),
            "documents_basis": "documents",
            "bytes": _sum_or_none(_file_size(d) for d in docs),
            "chunks": None,
            "created_at": created,
            "last_activity_at": _latest([created, *(_iso(d["createdAt"]) for d in docs)]),
        }
    for project, collections in data.vikingdb_collections.items():
        for collection in collections:
            inventory[("vikingdb", collection["resource_id"])] = {
                "scope_type": "project",
                "scope_id": project,
                "kb_name": collection["collection_name"],
                "documents": len(docs := data.vikingdb_documents.get(collection)),
                "documents_basis": "documents",
                "bytes": None,
                "chunks": _point_num(collection),
                "created_at": _epoch_s(collection["create_time"]),
                "last_activity_at": _latest(
                    [
                        _epoch_s(max(collection["create_time"], collection["update_time"])),
                        *(_epoch_ms(d["create_time"]) for d in docs),
                    ]
                ),
            }
    return inventory


# -- the marts -----------------------------------------------------------------------------------


def test_every_mart_is_checked_against_the_sandbox() -> None:
    assert set(CHECKED_MARTS) == {mart.name for mart in MARTS}


def test_kb_inventory_holds_each_live_knowledge_base_with_its_figures(loaded: Loaded) -> None:
    expected = _expected_inventory(loaded.dataset)
    got = {
        (row["source"], row["kb_id"]): _pick(row, INVENTORY_FIGURES)
        for row in loaded.marts["kb_inventory"].rows
    }
    assert got.keys() == expected.keys()
    assert got == expected
    assert {row["documents_basis"] for row in got.values()} == {None, "documents"}


def test_kb_inventory_by_scope_sums_its_knowledge_bases(loaded: Loaded) -> None:
    scopes: dict[tuple, list[Row]] = defaultdict(list)
    for (source, _), kb in _expected_inventory(loaded.dataset).items():
        scopes[(source, kb["scope_type"], kb["scope_id"])].append(kb)
    expected = {
        scope: {
            "knowledge_bases": len(kbs),
            "documents": _sum_or_none(kb["documents"] for kb in kbs),
            "bytes": _sum_or_none(kb["bytes"] for kb in kbs),
            "chunks": _sum_or_none(kb["chunks"] for kb in kbs),
            "last_activity_at": _latest(kb["last_activity_at"] for kb in kbs),
        }
        for scope, kbs in scopes.items()
    }
    figures = ("knowledge_bases", "documents", "bytes", "chunks", "last_activity_at")
    got = {
        (row["source"], row["scope_type"], row["scope_id"]): _pick(row, figures)
        for row in loaded.marts["kb_inventory_by_scope"].rows
    }
    assert got == expected


def test_document_status_funnel_counts_live_documents_per_status(loaded: Loaded) -> None:
    data = loaded.dataset
    names = _kb_names(data)
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for doc in _documents(data):
        counts[(doc.source, doc.kb_id)][doc.status] += 1
    statuses = ("queued", "processing", "available", "failed", "disabled")
    expected = {
        kb: {
            "kb_name": names[kb],
            **{status: by_status[status] for status in statuses},
            "total": by_status.total(),
        }
        for kb, by_status in counts.items()
    }
    got = {
        (row["source"], row["kb_id"]): _pick(row, ("kb_name", *statuses, "total"))
        for row in loaded.marts["document_status_funnel"].rows
    }
    assert got == expected
    first = ("qianfan", data.qianfan_knowledge_bases[0]["id"])
    assert all(got[first][status] for status in statuses), "the generator gives its first KB every status"
    assert {source for source, _ in got} == {"qianfan", "lingma", "vikingdb"}


def test_documents_stuck_lists_live_waiting_documents_older_than_a_day(loaded: Loaded) -> None:
    read = loaded.marts["documents_stuck"]
    waiting = {
        doc.doc_id: doc for doc in _documents(loaded.dataset) if doc.status in ("queued", "processing")
    }
    created = {doc_id: doc.created_at for doc_id, doc in waiting.items()}
    surely = {doc_id for doc_id, at in created.items() if at < read.asked.start - STUCK_AFTER}
    perhaps = {doc_id for doc_id, at in created.items() if at < read.asked.end - STUCK_AFTER}
    got = {row["doc_id"]: row for row in read.rows}
    assert surely <= got.keys() <= perhaps
    assert surely, "every sandbox document predates its anchor, so waiting ones are stuck by now"
    assert {row["source"] for row in got.values()} == {"qianfan", "lingma", "vikingdb"}
    for doc_id, row in got.items():
        doc = waiting[doc_id]
        assert (row["source"], row["kb_id"], row["name"], row["status_raw"], row["created_at"]) == (
            doc.source,
            doc.kb_id,
            doc.name,
            doc.status_raw,
            doc.created_at,
        )
        assert row["status"] == doc.status
        least, most = read.asked.hours_since(created[doc_id])
        assert least <= row["age_hours"] <= most, doc_id


def test_parse_failures_by_mime_type_share_failed_live_documents(loaded: Loaded) -> None:
    totals: Counter[tuple[str, str]] = Counter()
    failed: Counter[tuple[str, str]] = Counter()
    for doc in _documents(loaded.dataset):
        key = (doc.source, doc.mime_type or "unknown")
        totals[key] += 1
        failed[key] += doc.status == "failed"
    expected = {
        key: {
            "failed_documents": failed[key],
            "documents": totals[key],
            "failed_share": round(failed[key] / totals[key], 6),
        }
        for key in totals
        if failed[key]
    }
    got = {
        (row["source"], row["mime_type"]): _rounded(
            _pick(row, ("failed_documents", "documents", "failed_share"))
        )
        for row in loaded.marts["parse_failures_by_mime_type"].rows
    }
    assert got == expected
    assert {source for source, _ in got} == {"qianfan", "lingma", "vikingdb"}


def test_job_health_daily_counts_rates_and_durations_per_utc_day(loaded: Loaded) -> None:
    days: dict[date, list[Row]] = defaultdict(list)
    for job in _pai_jobs(loaded.dataset):
        days[_iso(job["GmtCreateTime"]).date()].append(job)
    expected = {}
    for day, jobs in days.items():
        statuses = Counter(PAI_STATUS[job["Status"]] for job in jobs)
        finished = statuses["succeeded"] + statuses["failed"]
        durations = sorted(_duration_s(job) for job in jobs if job["Status"] != "Running")
        expected[("pai_langstudio", day)] = _rounded(
            {
                "runs": len(jobs),
                "succeeded": statuses["succeeded"],
                "failed": statuses["failed"],
                "running": statuses["running"],
                "success_rate": statuses["succeeded"] / finished if finished else None,
                "p50_duration_s": _quantile(durations, 0.5),
                "p95_duration_s": _quantile(durations, 0.95),
            }
        )
    # VikingDB tasks carry no creation time on the wire, so they have no day
    figures = ("runs", "succeeded", "failed", "running", "success_rate", "p50_duration_s", "p95_duration_s")
    got = {
        (row["source"], row["day"]): _rounded(_pick(row, figures))
        for row in loaded.marts["job_health_daily"].rows
    }
    assert got == expected


def test_job_failures_by_error_groups_live_failed_jobs(loaded: Loaded) -> None:
    data = loaded.dataset
    failures: dict[tuple[str, str], list[tuple[str | None, datetime | None]]] = defaultdict(list)
    for job in _pai_jobs(data):
        if job["Status"] == "Failed":
            message = job["ErrorMessage"].strip() or NO_ERROR_MESSAGE
            failed_at = (
                _iso(job["GmtFinishTime"]) or _iso(job["GmtModifiedTime"]) or _iso(job["GmtCreateTime"])
            )
            failures[("pai_langstudio", message)].append((job["KnowledgeBaseId"], failed_at))
    for task in data.vikingdb_tasks.values():
        if VIKINGDB_STATUS[task["status"]] == "failed":  # a task names no knowledge base, error or time
            failures[("vikingdb", NO_ERROR_MESSAGE)].append((None, None))
    expected = {
        key: {
            "failed_jobs": len(jobs),
            "knowledge_bases": len({kb for kb, _ in jobs if kb is not None}),
            "first_seen_at": min((at for _, at in jobs if at), default=None),
            "last_seen_at": _latest(at for _, at in jobs),
        }
        for key, jobs in failures.items()
    }
    figures = ("failed_jobs", "knowledge_bases", "first_seen_at", "last_seen_at")
    got = {
        (row["source"], row["error_message"]): _pick(row, figures)
        for row in loaded.marts["job_failures_by_error"].rows
    }
    assert got == expected
    assert ("pai_langstudio", PAI_FAILURE) in got


def test_jobs_overrunning_lists_jobs_past_their_limit(loaded: Loaded) -> None:
    read = loaded.marts["jobs_overrunning"]
    limited = {
        job["KnowledgeBaseJobId"]: job for job in _pai_jobs(loaded.dataset) if job["MaxRunningTimeInSeconds"]
    }

    def run_time_bounds(job: Row) -> tuple[float, float]:
        if job["Status"] == "Running":
            least, most = read.asked.hours_since(_iso(job["GmtCreateTime"]))
            return least * 3600, most * 3600
        return _duration_s(job), _duration_s(job)

    bounds = {job_id: run_time_bounds(job) for job_id, job in limited.items()}
    surely = {
        job_id for job_id, (least, _) in bounds.items() if least > limited[job_id]["MaxRunningTimeInSeconds"]
    }
    perhaps = {
        job_id for job_id, (_, most) in bounds.items() if most > limited[job_id]["MaxRunningTimeInSeconds"]
    }
    got = {row["job_id"]: row for row in read.rows}
    assert surely <= got.keys() <= perhaps
    assert {got[job_id]["status"] for job_id in surely} == {"running", "failed"}, (
        "the sandbox's running jobs outlive their limit by now, and the job failed months after it began"
    )
    for job_id, row in got.items():
        job, (least, most) = limited[job_id], bounds[job_id]
        limit = job["MaxRunningTimeInSeconds"]
        assert _pick(row, ("source", "kb_id", "action", "status", "created_at", "finished_at")) == {
            "source": "pai_langstudio",
            "kb_id": job["KnowledgeBaseId"],
            "action": job["JobAction"],
            "status": PAI_STATUS[job["Status"]],
            "created_at": _iso(job["GmtCreateTime"]),
            "finished_at": _iso(job["GmtFinishTime"]),
        }
        assert row["max_running_time_s"] == limit
        assert least <= row["run_time_s"] <= most, job_id
        assert row["overrun_s"] == pytest.approx(row["run_time_s"] - limit)


def test_chunk_growth_daily_follows_snapshots(loaded: Loaded) -> None:
    data = loaded.dataset
    got: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in sorted(loaded.marts["chunk_growth_daily"].rows, key=lambda r: r["day"]):
        got[(row["source"], row["kb_id"])].append(_pick(row, ("day", "method", "chunk_count", "chunk_delta")))
    counts = {
        **{
            ("vikingdb", c["resource_id"]): _point_num(c)
            for cs in data.vikingdb_collections.values()
            for c in cs
        },
        **{("pai_langstudio", kb): data.pai_chunk_total(kb) for kb in data.pai_jobs},
    }
    assert got.keys() == counts.keys()
    run_days = {loaded.first_run.start.date(), loaded.second_run.end.date()}
    for kb, count in counts.items():
        rows = got[kb]
        # both runs counted the same chunks (the job finished between them failed): one row per UTC
        # day a snapshot was taken, no change
        assert {row["day"] for row in rows} <= run_days
        assert {(row["method"], row["chunk_count"]) for row in rows} == {("snapshot", count)}
        assert [row["chunk_delta"] for row in rows] == [None] + [0] * (len(rows) - 1), kb


def test_chunk_growth_from_jobs_cumulates_succeeded_jobs_per_finish_day(loaded: Loaded) -> None:
    got: dict[str, list[Row]] = defaultdict(list)
    for row in sorted(loaded.marts["chunk_growth_from_jobs"].rows, key=lambda r: r["day"]):
        assert row["source"] == "pai_langstudio"
        got[row["kb_id"]].append({"method": "job_delta", **_pick(row, ("day", "chunk_count", "chunk_delta"))})
    expected = _pai_chunk_growth(loaded.dataset)
    assert got == {kb: [{**row} for row in rows] for kb, rows in expected.items()}


def test_extraction_freshness_lists_each_table_with_rows_as_of_the_last_run(loaded: Loaded) -> None:
    data, changes = loaded.dataset, loaded.changes
    read = loaded.marts["extraction_freshness"]
    pipelines = sum(len(c["pipeline_list"]) for cs in data.vikingdb_collections.values() for c in cs)
    documents = sum(len(docs) for docs in data.qianfan_documents.values())
    files = sum(len(data.lingma_files.get(kb)) for kbs in data.lingma_organizations.values() for kb in kbs)
    collection_documents = sum(
        len(data.vikingdb_documents.get(c)) for cs in data.vikingdb_collections.values() for c in cs
    )
    live_rows = {
        ("pai_langstudio", "knowledge_bases"): {sum(map(len, data.pai_knowledge_bases.values()))},
        ("pai_langstudio", "jobs"): {sum(map(len, data.pai_jobs.values()))},
        # one count per knowledge base in each run
        ("pai_langstudio", "chunk_counts"): {2 * len(data.pai_jobs)},
        ("lingma", "knowledge_bases"): {sum(map(len, data.lingma_organizations.values()))},
        ("lingma", "documents"): {files, files + changes.orphaned_files},
        ("qianfan", "knowledge_bases"): {len(data.qianfan_knowledge_bases)},
        # whether the documents of a vanished knowledge base are marked deleted is the pipeline's
        # business, not this mart's: either count is right
        ("qianfan", "documents"): {documents, documents + changes.orphaned_documents},
        ("vikingdb", "knowledge_bases"): {sum(map(len, data.vikingdb_collections.values()))},
        ("vikingdb", "documents"): {
            collection_documents,
            collection_documents + changes.orphaned_collection_documents,
        },
        # every snapshot row stays: the first run's, the deleted collection's included, and the second's
        ("vikingdb", "chunk_counts"): {2 * pipelines + changes.vanished_pipelines},
        ("vikingdb", "jobs"): {len(data.vikingdb_tasks)},
    }
    got = {(row["source"], row["table_name"]): row for row in read.rows}
    assert got.keys() == live_rows.keys() == FEEDING_STREAMS.keys()
    extracted = Window(loaded.first_run.start, loaded.second_run.end)
    for key, row in got.items():
        assert row["live_rows"] in live_rows[key], (key, row["live_rows"])
        assert row["last_seen_at"] in extracted, key
        assert row["streams"] == FEEDING_STREAMS[key]
        assert row["cursor_updated_at"] in extracted, key
        # every stream ran again in the second run and saw rows of each of its tables
        assert row["last_extracted_at"] in loaded.second_run, key
        least, most = read.asked.hours_since(row["last_extracted_at"])
        assert least <= row["hours_since_extraction"] <= most, key
