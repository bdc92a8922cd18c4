"""Changes over time: records added, finished, re-labelled and deleted while the sandbox serves.

Each method changes the dataset in place under its lock, keeps Qianfan's marker positions, and
returns the records it touched (in wire shape), so a test knows exactly what to expect next.
Unknown ids raise KeyError; a change that makes no sense (finishing a finished job) ValueError.

A change to a child listing moves its parent with it, as the vendors' parent listings report:
a Lingma file added or deleted sets the knowledge base's `fileCount`, `size`, `gmtModified` and
`lastActivityTime`; a VikingDB document its collection's `doc_num`, `pipeline_stat` counts and
`update_time`; a PAI job finishing as `Success` (or added so) moves the chunk total by its
AddChunkCount minus DeleteChunkCount.
"""

from __future__ import annotations

from typing import Any

from kb_pipeline.sandbox import records
from kb_pipeline.sandbox.dataset import Dataset, Positions
from kb_pipeline.sandbox.lingma.file_records import file_sizes
from kb_pipeline.sandbox.records import Record, iso_z
from kb_pipeline.sandbox.records.common import human_size, size_bytes
from kb_pipeline.sandbox.vikingdb.document_records import FAILED, PROCESS_STATUSES, PROCESSED

PAI_FINAL = ("Success", "Failed")
VIKINGDB_FINAL = ("success", "fail")


class Mutations:
    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    # PAI LangStudio
    def add_pai_knowledge_base(self, workspace_id: str | None = None, **fields: Any) -> Record:
        data = self.dataset
        with data.lock:
            workspace = workspace_id or data.pai_workspaces[0]
            if workspace not in data.pai_knowledge_bases:
                data.pai_workspaces.append(workspace)
                data.pai_knowledge_bases[workspace] = []
            index = sum(len(kbs) for kbs in data.pai_knowledge_bases.values())
            kb = records.pai_knowledge_base(data.rng, workspace, data.now(), index) | fields
            data.pai_knowledge_bases[workspace].append(kb)
            data.pai_jobs[kb["KnowledgeBaseId"]] = []
            return kb

    def add_pai_jobs(self, kb_id: str, count: int = 1, status: str = "Running") -> list[Record]:
        _require(status, records.PAI_STATUSES, "PAI job status")
        data = self.dataset
        with data.lock:
            kb = data.pai_knowledge_base(kb_id)
            if kb is None:
                raise KeyError(f"no PAI knowledge base {kb_id!r}")
            jobs = [records.pai_job(data.rng, kb, data.now(), status) for _ in range(count)]
            data.pai_jobs[kb_id].extend(jobs)
            return jobs

    def finish_pai_job(self, job_id: str, status: str = "Success", error_message: str = "") -> Record:
        """Move a running job to `Success` or `Failed` (with `error_message`), finished now."""
        if status not in PAI_FINAL:
            raise ValueError(f"a PAI job finishes as one of {PAI_FINAL}, not {status!r}")
        data = self.dataset
        with data.lock:
            job = next(
                (j for js in data.pai_jobs.values() for j in js if j["KnowledgeBaseJobId"] == job_id), None
            )
            if job is None:
                raise KeyError(f"no PAI job {job_id!r}")
            if job["Status"] != "Running":
                raise ValueError(f"PAI job {job_id} is {job['Status']}, not Running")
            now = iso_z(data.now())
            failed = status == "Failed"
            job |= {
                "Status": status,
                "GmtFinishTime": now,
                "GmtModifiedTime": now,
                "ErrorMessage": (error_message or "index build failed: embedding service timeout")
                if failed
                else "",
            }
            return job

    def delete_pai_knowledge_base(self, kb_id: str) -> Record:
        data = self.dataset
        with data.lock:
            kb = data.pai_knowledge_base(kb_id)
            if kb is None:
                raise KeyError(f"no PAI knowledge base {kb_id!r}")
            data.pai_knowledge_bases[kb["WorkspaceId"]].remove(kb)
            del data.pai_jobs[kb_id]
            return kb

    # Lingma
    def add_lingma_knowledge_bases(self, organization_id: str, count: int = 1) -> list[Record]:
        data = self.dataset
        with data.lock:
            kbs = data.lingma_organizations.get(organization_id)
            if kbs is None:
                raise KeyError(f"no Lingma organization {organization_id!r}")
            creator = kbs[0]["creator"] if kbs else records.lingma_user(data.rng)
            added = [
                records.lingma_knowledge_base(
                    data.rng, data.seed, organization_id, creator, data.now() * 1000
                )
                for _ in range(count)
            ]
            kbs.extend(added)
            return added

    def delete_lingma_knowledge_base(self, kb_id: str) -> Record:
        data = self.dataset
        with data.lock:
            for kbs in data.lingma_organizations.values():
                for kb in kbs:
                    if kb["id"] == kb_id:
                        kbs.remove(kb)
                        data.lingma_files.forget(kb)
                        return kb
            raise KeyError(f"no Lingma knowledge base {kb_id!r}")

    def add_lingma_files(self, kb_id: str, count: int = 1, state: str = "success") -> list[Record]:
        """Upload `count` files to a knowledge base now, in `fileState` `state`."""
        _require(state, records.FILE_STATES, "Lingma fileState")
        data = self.dataset
        with data.lock:
            kb = self._lingma_kb(kb_id)
            files = data.lingma_files.changing(kb)
            now = data.now() * 1000
            added = [
                records.lingma_file(data.rng, kb, now, size, len(files) + n, state)
                for n, size in enumerate(file_sizes(data.rng, count))
            ]
            files.extend(added)
            _files_changed(kb, files, now)
            return added

    def delete_lingma_file(self, kb_id: str, file_id: str) -> Record:
        data = self.dataset
        with data.lock:
            kb = self._lingma_kb(kb_id)
            files = data.lingma_files.changing(kb)
            index = next((i for i, f in enumerate(files) if f["fileId"] == file_id), None)
            if index is None:
                raise KeyError(f"no file {file_id!r} in Lingma knowledge base {kb_id!r}")
            deleted = files.pop(index)
            _files_changed(kb, files, data.now() * 1000)
            return deleted

    def _lingma_kb(self, kb_id: str) -> Record:
        kb = self.dataset.lingma_knowledge_base(kb_id)
        if kb is None:
            raise KeyError(f"no Lingma knowledge base {kb_id!r}")
        return kb

    # Qianfan
    def add_qianfan_knowledge_base(self, **fields: Any) -> Record:
        data = self.dataset
        with data.lock:
            index = len(data.qianfan_knowledge_bases)
            kb = records.qianfan_knowledge_base(data.rng, data.now(), index) | fields
            data.qianfan_knowledge_bases.append(kb)
            data.qianfan_kb_positions.append(kb["id"])
            data.qianfan_documents[kb["id"]] = []
            data.qianfan_doc_positions[kb["id"]] = Positions([])
            return kb

    def delete_qianfan_knowledge_base(self, kb_id: str) -> Record:
        data = self.dataset
        with data.lock:
            index = next((i for i, kb in enumerate(data.qianfan_knowledge_bases) if kb["id"] == kb_id), None)
            if index is None:
                raise KeyError(f"no Qianfan knowledge base {kb_id!r}")
            kb = data.qianfan_knowledge_bases.pop(index)
            data.qianfan_kb_positions.remove(index)
            for doc in data.qianfan_documents.pop(kb_id):
                data.forget_encoding(doc["id"])
            del data.qianfan_doc_positions[kb_id]
            return kb

    def add_qianfan_documents(self, kb_id: str, count: int = 1, status: str | None = None) -> list[Record]:
        """Upload `count` documents now: they sort after every existing one (marker order)."""
        if status is not None and status not in records.QIANFAN_STATUSES:
            raise ValueError(
                f"Qianfan displayStatus must be one of {records.QIANFAN_STATUSES}, not {status!r}"
            )
        data = self.dataset
        with data.lock:
            docs = self._qianfan_docs(kb_id)
            added = [
                records.qianfan_document(data.rng, data.now(), len(docs) + n, status) for n in range(count)
            ]
            for doc in added:
                docs.append(doc)
                data.qianfan_doc_positions[kb_id].append(doc["id"])
            return added

    def set_qianfan_document_status(
        self, kb_id: str, doc_id: str, status: str | None = None, enabled: bool | None = None
    ) -> Record:
        """Change a document's `displayStatus` and/or `enabled` flag."""
        if status is not None and status not in records.QIANFAN_STATUSES:
            raise ValueError(
                f"Qianfan displayStatus must be one of {records.QIANFAN_STATUSES}, not {status!r}"
            )
        data = self.dataset
        with data.lock:
            _, doc = self._qianfan_doc(kb_id, doc_id)
            if status is not None:
                doc["displayStatus"] = status
                if status == "available" and not doc["wordCount"]:
                    doc["wordCount"] = data.rng.randint(200, 90_000)
            if enabled is not None:
                doc["enabled"] = enabled
            data.forget_encoding(doc_id)
            return doc

    def delete_qianfan_document(self, kb_id: str, doc_id: str) -> Record:
        """Delete a document; a marker naming it keeps working (it resumes after its position)."""
        data = self.dataset
        with data.lock:
            index, doc = self._qianfan_doc(kb_id, doc_id)
            del data.qianfan_documents[kb_id][index]
            data.qianfan_doc_positions[kb_id].remove(index)
            data.forget_encoding(doc_id)
            return doc

    def _qianfan_docs(self, kb_id: str) -> list[Record]:
        docs = self.dataset.qianfan_documents.get(kb_id)
        if docs is None:
            raise KeyError(f"no Qianfan knowledge base {kb_id!r}")
        return docs

    def _qianfan_doc(self, kb_id: str, doc_id: str) -> tuple[int, Record]:
        for index, doc in enumerate(self._qianfan_docs(kb_id)):
            if doc["id"] == doc_id:
                return index, doc
        raise KeyError(f"no document {doc_id!r} in Qianfan knowledge base {kb_id!r}")

    # VikingDB
    def add_vikingdb_collection(self, project: str = "default", **fields: Any) -> Record:
        data = self.dataset
        with data.lock:
            index = sum(len(c) for c in data.vikingdb_collections.values())
            collection = records.vikingdb_collection(data.rng, project, data.now(), index) | fields
            data.vikingdb_collections.setdefault(project, []).append(collection)
            return collection

    def delete_vikingdb_collection(self, project: str, collection_name: str) -> Record:
        data = self.dataset
        with data.lock:
            collection = self._collection(project, collection_name)
            data.vikingdb_collections[project].remove(collection)
            data.vikingdb_documents.forget(collection)
            return collection

    def add_vikingdb_documents(
        self, project: str, collection_name: str, count: int = 1, process_status: int = PROCESSED
    ) -> list[Record]:
        """Add `count` documents to a collection now, in `status.process_status` `process_status`."""
        _require(process_status, PROCESS_STATUSES, "VikingDB process_status")
        data = self.dataset
        with data.lock:
            collection = self._collection(project, collection_name)
            docs = data.vikingdb_documents.changing(collection)
            now = data.now()
            collection["update_time"] = now
            added = [
                records.vikingdb_document(
                    data.rng,
                    collection,
                    now * 1000,
                    process_status,
                    data.rng.randint(3, 40) if process_status == PROCESSED else 0,
                    len(docs) + n,
                )
                for n in range(count)
            ]
            docs.extend(added)
            _documents_changed(collection, docs, now)
            return added

    def delete_vikingdb_document(self, project: str, collection_name: str, doc_id: str) -> Record:
        data = self.dataset
        with data.lock:
            collection = self._collection(project, collection_name)
            docs = data.vikingdb_documents.changing(collection)
            index = next((i for i, d in enumerate(docs) if d["doc_id"] == doc_id), None)
            if index is None:
                raise KeyError(f"no document {doc_id!r} in VikingDB collection {collection_name!r}")
            deleted = docs.pop(index)
            _documents_changed(collection, docs, data.now())
            return deleted

    def _collection(self, project: str, collection_name: str) -> Record:
        collection = self.dataset.vikingdb_collection(project, collection_name)
        if collection is None:
            raise KeyError(f"no VikingDB collection {collection_name!r} in project {project!r}")
        return collection

    def add_vikingdb_tasks(self, count: int = 1, status: str = "running") -> dict[str, Record]:
        if status not in ("running", *VIKINGDB_FINAL):
            raise ValueError(f"VikingDB task status must be running, success or fail, not {status!r}")
        data = self.dataset
        with data.lock:
            added = {}
            for _ in range(count):
                task_id = f"task-{data.rng.randint(10**18, 10**19 - 1)}"
                added[task_id] = records.vikingdb_task(data.rng, task_id, data.now(), status)
            data.vikingdb_tasks.update(added)
            return added

    def finish_vikingdb_task(self, task_id: str, status: str = "success") -> Record:
        if status not in VIKINGDB_FINAL:
            raise ValueError(f"a VikingDB task finishes as one of {VIKINGDB_FINAL}, not {status!r}")
        data = self.dataset
        with data.lock:
            task = data.vikingdb_tasks.get(task_id)
            if task is None:
                raise KeyError(f"no VikingDB task {task_id!r}")
            if task["status"] != "running":
                raise ValueError(f"VikingDB task {task_id} is {task['status']}, not running")
            task |= records.vikingdb_task(data.rng, task_id, data.now(), status)
            if status == "fail":
                task["percentage"] = min(task["percentage"], 99)
            return task


def _require(value: object, allowed: tuple[object, ...], what: str) -> None:
    """Refuse a value the vendor never reports, naming the ones it does."""
    if value not in allowed:
        raise ValueError(f"{what} must be one of {allowed}, not {value!r}")


def _files_changed(kb: Record, files: list[Record], now_ms: int) -> None:
    """What a Lingma knowledge base reports after its files changed at `now_ms`."""
    total = sum(size_bytes(f["fileSize"]) for f in files)
    kb |= {
        "fileCount": len(files),
        "size": human_size(total),
        "gmtModified": now_ms,
        "lastActivityTime": now_ms,
    }


def _documents_changed(collection: Record, docs: list[Record], now: int) -> None:
    """What a VikingDB collection reports after its documents changed at `now` (epoch seconds)."""
    stat = collection["pipeline_list"][0]["pipeline_stat"]
    statuses = [d["status"]["process_status"] for d in docs]
    stat |= {
        "doc_num": len(docs),
        "finish_doc_num": sum(1 for s in statuses if s in (PROCESSED, FAILED)),
        "success_doc_num": statuses.count(PROCESSED),
        "point_num": sum(d["point_num"] for d in docs),
    }
    collection |= {"doc_num": len(docs), "update_time": now}


MUTATIONS = tuple(name for name in vars(Mutations) if not name.startswith("_"))
"""The change operations, by name: the control API exposes exactly these."""
