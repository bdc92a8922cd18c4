"""Changes over time: records added, finished, re-labelled and deleted while the sandbox serves.

Each method changes the dataset in place under its lock, keeps Qianfan's marker positions, and
returns the records it touched (in wire shape), so a test knows exactly what to expect next.
Unknown ids raise KeyError; a change that makes no sense (finishing a finished job) ValueError.
"""

from __future__ import annotations

from typing import Any

from kb_pipeline.sandbox import records
from kb_pipeline.sandbox.dataset import Dataset, Positions
from kb_pipeline.sandbox.records import Record, iso_z

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
        if status not in records.PAI_STATUSES:
            raise ValueError(f"PAI job status must be one of {records.PAI_STATUSES}, not {status!r}")
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
                records.lingma_knowledge_base(data.rng, organization_id, creator, data.now() * 1000)
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
                        return kb
            raise KeyError(f"no Lingma knowledge base {kb_id!r}")

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
            for collection in data.vikingdb_collections.get(project, []):
                if collection["collection_name"] == collection_name:
                    data.vikingdb_collections[project].remove(collection)
                    return collection
            raise KeyError(f"no VikingDB collection {collection_name!r} in project {project!r}")

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


MUTATIONS = tuple(name for name in vars(Mutations) if not name.startswith("_"))
"""The change operations, by name: the control API exposes exactly these."""
