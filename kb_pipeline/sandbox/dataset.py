"""The sandbox's data: every vendor's records in wire shape, generated from a seed and a scale.

`Dataset.generate(seed, scale)` is deterministic: the same seed and scale give identical records.
The dataset is the ground truth a test compares the warehouse against, so its attributes are
plain containers of the exact JSON objects the endpoints serve:

- `pai_workspaces: list[str]`: PAI workspace ids.
- `pai_knowledge_bases: dict[str, list[dict]]`: workspace id -> `KnowledgeBase` objects, oldest first.
- `pai_jobs: dict[str, list[dict]]`: PAI KB id -> `KnowledgeBaseJob` objects (with
  `KnowledgeBaseJobResult.FileMetas`), oldest `GmtCreateTime` first.
- `lingma_organizations: dict[str, list[dict]]`: organization id -> knowledge-base objects, oldest first.
- `qianfan_knowledge_bases: list[dict]`: DescribeKnowledgeBases objects, oldest first.
- `qianfan_documents: dict[str, list[dict]]`: Qianfan KB id -> DescribeDocuments objects in the
  page's spelling (`id`, `displayStatus`, meta keys `mimeType`/`fileSize` or `mime_type`/`file_size`),
  oldest first (the marker order).
- `vikingdb_collections: dict[str, list[dict]]`: project -> collection objects (each carrying its
  own `project` and `resource_id`), oldest first.
- `vikingdb_tasks: dict[str, dict]`: task id -> task/info `data` object.

Child listings are generated when asked for, not stored (a scale-400 sandbox would hold about a
million of them), each from the seed and its parent's id, and agree with the parent's counts:

- `lingma_files.get(kb)`: a Lingma knowledge base's ListKbFiles entries, oldest `gmtAdded` first
  (`fileCount` of them, their sizes summing to `size`).
- `vikingdb_documents.get(collection)`: a collection's doc/list entries, oldest first (`doc_num`
  of them, their `point_num` summing to the collection's).
- `pai_chunk_total(kb_id)`: the chunks a PAI knowledge base's succeeded jobs left
  (`records.pai_chunk(kb, n)` is chunk n).

Scale 1 gives about 1,000 Qianfan documents and 100 PAI jobs; the counts grow linearly with scale
(knowledge bases with its square root). The ids a configuration names (PAI workspaces, Lingma
organizations, VikingDB task ids) depend on the seed only: every scale has the same three
workspaces and three organizations, and at least the same first 30 tasks, so one config file
(`config/sandbox.yaml`) fits a sandbox of any scale. Timestamps are drawn before `anchor` (default
2026-03-01T08:00:00Z), so the data does not depend on when it is generated. Change records only
through `Control` (it keeps the marker positions and takes `lock`); reading is free.
"""

from __future__ import annotations

import bisect
import gc
import math
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from random import Random
from typing import Any

import orjson

from kb_pipeline.sandbox import records
from kb_pipeline.sandbox.records import Record
from kb_pipeline.sandbox.records.common import hex_id

ANCHOR = int(datetime(2026, 3, 1, 8, 0, tzinfo=UTC).timestamp())
_DAY = 86_400
PAI_WORKSPACES = 3
VIKINGDB_TASKS = 30
"""Tasks at every scale (more above scale 1): the same first task ids whatever the scale."""
RECENT_CHILD_LISTS = 16
"""Generated child listings kept for the pages that follow (a listing is read page after page)."""


class Positions:
    """Creation positions of a marker-paged list; a deleted record keeps its position forever.

    Mirrors the live record list index for index, so a marker naming a deleted record still
    resumes at the right place.
    """

    def __init__(self, ids: list[str]) -> None:
        self._seq = {record_id: i for i, record_id in enumerate(ids)}
        self._live = list(range(len(ids)))
        self._next = len(ids)

    def append(self, record_id: str) -> None:
        self._seq[record_id] = self._next
        self._live.append(self._next)
        self._next += 1

    def remove(self, index: int) -> None:
        del self._live[index]

    def start_after(self, marker: str) -> int | None:
        """Index in the live list of the first record created after `marker`; None if never seen."""
        seq = self._seq.get(marker)
        return None if seq is None else bisect.bisect_right(self._live, seq)


class ChildLists:
    """Child listings made from their parent on demand: the last few kept, changed ones kept for good.

    A listing that was changed in place can no longer be regenerated, so `changing` moves it out of
    the recent ones into a store that keeps it; `get` then serves that copy.
    """

    def __init__(self, key: Callable[[Record], str], make: Callable[[Record], list[Record]]) -> None:
        self._key, self._make = key, make
        self._recent: OrderedDict[str, list[Record]] = OrderedDict()
        self._changed: dict[str, list[Record]] = {}

    def get(self, parent: Record) -> list[Record]:
        key = self._key(parent)
        if key in self._changed:
            return self._changed[key]
        found = self._recent.get(key)
        if found is None:
            found = self._recent[key] = self._make(parent)
            if len(self._recent) > RECENT_CHILD_LISTS:
                self._recent.popitem(last=False)
        else:
            self._recent.move_to_end(key)
        return found

    def changing(self, parent: Record) -> list[Record]:
        """The listing of `parent` to change in place, kept from now on."""
        key = self._key(parent)
        if key not in self._changed:
            recent = self._recent.pop(key, None)
            self._changed[key] = self._make(parent) if recent is None else recent
        return self._changed[key]

    def forget(self, parent: Record) -> None:
        """Drop a deleted parent's listing."""
        key = self._key(parent)
        self._recent.pop(key, None)
        self._changed.pop(key, None)


@dataclass(eq=False)
class Dataset:
    seed: int
    scale: float
    anchor: int
    pai_workspaces: list[str]
    pai_knowledge_bases: dict[str, list[Record]]
    pai_jobs: dict[str, list[Record]]
    lingma_organizations: dict[str, list[Record]]
    qianfan_knowledge_bases: list[Record]
    qianfan_documents: dict[str, list[Record]]
    vikingdb_collections: dict[str, list[Record]]
    vikingdb_tasks: dict[str, Record]
    lock: threading.RLock = field(init=False, repr=False, default_factory=threading.RLock)
    rng: Random = field(init=False, repr=False)
    """Draws the records `Control` adds, so a scripted sequence of changes is reproducible too."""

    def __post_init__(self) -> None:
        self.rng = Random(f"{self.seed}:{self.scale}:changes")
        self.qianfan_kb_positions = Positions([kb["id"] for kb in self.qianfan_knowledge_bases])
        self.qianfan_doc_positions = {
            kb_id: Positions([d["id"] for d in docs]) for kb_id, docs in self.qianfan_documents.items()
        }
        self._encoded: dict[str, bytes] = {}
        self.lingma_files = ChildLists(lambda kb: kb["id"], lambda kb: records.lingma_files(self.seed, kb))
        self.vikingdb_documents = ChildLists(
            lambda c: c["resource_id"], lambda c: records.vikingdb_documents(self.seed, c)
        )

    @classmethod
    def generate(cls, seed: int, scale: float, anchor: int | datetime = ANCHOR) -> Dataset:
        """Build the dataset for `seed` at `scale` (> 0); identical inputs give identical records."""
        if scale <= 0:
            raise ValueError(f"scale must be positive, not {scale}")
        at = int(anchor.timestamp()) if isinstance(anchor, datetime) else int(anchor)
        collecting = gc.isenabled()
        gc.disable()  # nothing generated here is cyclic; collecting while building 10^5 dicts costs seconds
        try:
            workspaces, pai_kbs, jobs = _generate_pai(Random(f"{seed}:pai"), _ids(seed, "pai"), scale, at)
            qianfan_kbs, documents = _generate_qianfan(Random(f"{seed}:qianfan"), scale, at)
            collections, tasks = _generate_vikingdb(
                Random(f"{seed}:vikingdb"), _ids(seed, "vikingdb"), scale, at
            )
            organizations = _generate_lingma(Random(f"{seed}:lingma"), _ids(seed, "lingma"), seed, scale, at)
        finally:
            if collecting:
                gc.enable()
        return cls(
            seed=seed,
            scale=scale,
            anchor=at,
            pai_workspaces=workspaces,
            pai_knowledge_bases=pai_kbs,
            pai_jobs=jobs,
            lingma_organizations=organizations,
            qianfan_knowledge_bases=qianfan_kbs,
            qianfan_documents=documents,
            vikingdb_collections=collections,
            vikingdb_tasks=tasks,
        )

    def now(self) -> int:
        """Creation time for records added while serving: the wall clock, never before the anchor."""
        return max(int(time.time()), self.anchor + 1)

    def pai_knowledge_base(self, kb_id: str) -> Record | None:
        return next(
            (kb for kbs in self.pai_knowledge_bases.values() for kb in kbs if kb["KnowledgeBaseId"] == kb_id),
            None,
        )

    def pai_chunk_total(self, kb_id: str) -> int:
        return records.chunk_total(self.pai_jobs[kb_id])

    def lingma_knowledge_base(self, kb_id: str) -> Record | None:
        return next(
            (kb for kbs in self.lingma_organizations.values() for kb in kbs if kb["id"] == kb_id), None
        )

    def vikingdb_collection(self, project: str, name: str) -> Record | None:
        return next(
            (c for c in self.vikingdb_collections.get(project, ()) if c["collection_name"] == name), None
        )

    def qianfan_knowledge_base(self, kb_id: str) -> Record | None:
        return next((kb for kb in self.qianfan_knowledge_bases if kb["id"] == kb_id), None)

    def encoded_document(self, document: Record) -> bytes:
        """The document's JSON, encoded once and reused until the document changes."""
        cached = self._encoded.get(document["id"])
        if cached is None:
            cached = self._encoded[document["id"]] = orjson.dumps(document)
        return cached

    def forget_encoding(self, doc_id: str) -> None:
        self._encoded.pop(doc_id, None)

    def summary(self) -> dict[str, Any]:
        """Record counts per vendor, for a quick look at what is being served."""
        with self.lock:
            jobs = [j for js in self.pai_jobs.values() for j in js]
            docs = [d for ds in self.qianfan_documents.values() for d in ds]
            return {
                "seed": self.seed,
                "scale": self.scale,
                "pai_langstudio": {
                    "workspaces": len(self.pai_workspaces),
                    "knowledge_bases": sum(len(v) for v in self.pai_knowledge_bases.values()),
                    "jobs": len(jobs),
                    "jobs_by_status": dict(Counter(j["Status"] for j in jobs)),
                    "chunks": sum(self.pai_chunk_total(kb_id) for kb_id in self.pai_jobs),
                },
                "lingma": {
                    "organizations": len(self.lingma_organizations),
                    "knowledge_bases": sum(len(v) for v in self.lingma_organizations.values()),
                    "files": sum(kb["fileCount"] for kbs in self.lingma_organizations.values() for kb in kbs),
                },
                "qianfan": {
                    "knowledge_bases": len(self.qianfan_knowledge_bases),
                    "documents": len(docs),
                    "documents_by_status": dict(Counter(d["displayStatus"] for d in docs)),
                },
                "vikingdb": {
                    "projects": len(self.vikingdb_collections),
                    "collections": sum(len(v) for v in self.vikingdb_collections.values()),
                    "documents": sum(c["doc_num"] for cs in self.vikingdb_collections.values() for c in cs),
                    "tasks": len(self.vikingdb_tasks),
                    "tasks_by_status": dict(Counter(t["status"] for t in self.vikingdb_tasks.values())),
                },
            }


def _ids(seed: int, vendor: str) -> Random:
    """Draws the ids a configuration names (workspaces, organizations, task ids) from the seed alone,
    so one configuration fits a sandbox of any scale."""
    return Random(f"{seed}:{vendor}:ids")


def _count(base: float, scale: float, minimum: int) -> int:
    return max(minimum, round(base * scale))


def _kb_count(base: float, scale: float) -> int:
    return max(2, round(base * math.sqrt(scale)))


def _generate_pai(rng: Random, ids: Random, scale: float, anchor: int) -> tuple[list[str], dict, dict]:
    workspaces = [str(n) for n in ids.sample(range(100_000, 1_000_000), PAI_WORKSPACES)]
    kbs: dict[str, list[Record]] = {ws: [] for ws in workspaces}
    all_kbs = []
    for i in range(_kb_count(4, scale)):
        ws = workspaces[i % len(workspaces)]
        kb = records.pai_knowledge_base(rng, ws, anchor - rng.randint(30 * _DAY, 365 * _DAY), i)
        kbs[ws].append(kb)
        all_kbs.append(kb)
    for ws_kbs in kbs.values():
        ws_kbs.sort(key=lambda kb: kb["GmtCreateTime"])

    n_jobs = _count(100, scale, 4)
    # the first four guarantee the variety: finished, failed, running, running past its limit
    variety = ["Success", "Failed", "Running", "overdue"]
    kinds = [*variety, *rng.choices(variety, weights=(80, 12, 6, 2), k=n_jobs - 4)]
    owners = rng.choices(all_kbs, weights=[1 / (i + 1) for i in range(len(all_kbs))], k=n_jobs)
    jobs: dict[str, list[Record]] = {kb["KnowledgeBaseId"]: [] for kb in all_kbs}
    for kb, kind in zip(owners, kinds, strict=True):
        max_running = rng.choice(records.PAI_MAX_RUNNING_TIMES)
        if kind == "overdue":
            created = anchor - max_running - rng.randint(300, 7200)
        elif kind == "Running":
            created = anchor - rng.randint(30, max_running // 2)
        else:
            kb_created = int(datetime.fromisoformat(kb["GmtCreateTime"]).timestamp())
            created = rng.randint(kb_created, anchor - 3 * 3600)
        status = "Running" if kind == "overdue" else kind
        jobs[kb["KnowledgeBaseId"]].append(records.pai_job(rng, kb, created, status, max_running))
    for kb_jobs in jobs.values():
        kb_jobs.sort(key=lambda j: j["GmtCreateTime"])
    return workspaces, kbs, jobs


def _generate_lingma(
    rng: Random, ids: Random, seed: int, scale: float, anchor: int
) -> dict[str, list[Record]]:
    sizes = [_count(45, scale, 3), _count(12, scale, 2), _count(5, scale, 1)]
    organizations: dict[str, list[Record]] = {}
    for size in sizes:
        org_id = hex_id(ids, 24)
        users = [records.lingma_user(rng) for _ in range(5)]
        created = sorted(rng.randint((anchor - 365 * _DAY) * 1000, anchor * 1000) for _ in range(size))
        kbs = [records.lingma_knowledge_base(rng, seed, org_id, rng.choice(users), ms) for ms in created]
        if not organizations:  # the first organization shows both scene types and both states
            kbs[0] |= {"sceneType": "chat", "state": "enable"}
            kbs[1] |= {"sceneType": "complement", "state": "disable"}
        organizations[org_id] = kbs
    return organizations


def _generate_qianfan(rng: Random, scale: float, anchor: int) -> tuple[list[Record], dict[str, list[Record]]]:
    n_kbs = _kb_count(5, scale)
    kb_times = sorted(anchor - rng.randint(60 * _DAY, 400 * _DAY) for _ in range(n_kbs))
    kbs = [records.qianfan_knowledge_base(rng, t, i) for i, t in enumerate(kb_times)]
    # one large KB (many pages), an empty one when there are three or more, the rest small
    weights = [n_kbs] + [1] * (n_kbs - 1)
    if n_kbs >= 3:
        weights[-1] = 0
    owners = Counter(rng.choices(range(n_kbs), weights=weights, k=_count(1000, scale, 5)))
    documents: dict[str, list[Record]] = {}
    for i, kb in enumerate(kbs):
        times = sorted(rng.randint(kb_times[i], anchor) for _ in range(owners[i]))
        docs = []
        for n, created in enumerate(times):
            forced_status = (
                records.QIANFAN_STATUSES[n] if i == 0 and n < len(records.QIANFAN_STATUSES) else None
            )
            forced_source = records.QIANFAN_SOURCES[n] if i == 0 and n < 3 else None
            docs.append(records.qianfan_document(rng, created, n, forced_status, forced_source))
        if i == 0 and len(docs) > 1:
            docs[1]["enabled"] = False
        documents[kb["id"]] = docs
    return kbs, documents


def _generate_vikingdb(
    rng: Random, ids: Random, scale: float, anchor: int
) -> tuple[dict[str, list[Record]], dict[str, Record]]:
    projects = ["default", "rag-prod"] + (["ops-kb"] if scale >= 1 else [])
    collections: dict[str, list[Record]] = {p: [] for p in projects}
    n_collections = max(3, round(8 * math.sqrt(scale)))
    times = sorted(anchor - rng.randint(_DAY, 300 * _DAY) for _ in range(n_collections))
    for i, created in enumerate(times):
        project = projects[i % len(projects)]
        collections[project].append(records.vikingdb_collection(rng, project, created, i))
    tasks: dict[str, Record] = {}
    n_tasks = _count(30, scale, VIKINGDB_TASKS)
    variety = ["running", "success", "fail"]
    statuses = [*variety, *rng.choices(variety, weights=(15, 75, 10), k=n_tasks - 3)]
    for status in statuses:  # ids drawn in turn: a larger scale adds tasks after the same first ones
        task_id = f"task-{ids.randint(10**18, 10**19 - 1)}"
        tasks[task_id] = records.vikingdb_task(rng, task_id, anchor - rng.randint(60, 30 * _DAY), status)
    return collections, tasks
