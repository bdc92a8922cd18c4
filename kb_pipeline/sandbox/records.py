"""Record factories: one vendor record in its exact wire shape, drawn from a seeded random source.

Every factory takes a `random.Random` and the record's creation time (epoch seconds), so the same
seed always yields the same records. Values copy the variety real tenants show: Chinese and
English names, every documented status, optional fields left out, human size strings, and
pre-signed download URLs carrying (fake) credentials.
"""

from __future__ import annotations

import time
import uuid
from random import Random
from typing import Any
from urllib.parse import quote

Record = dict[str, Any]

QIANFAN_STATUSES = (
    "available",
    "queuing",
    "notConfigured",
    "paused",
    "parsing",
    "indexing",
    "parseError",
    "error",
    "retrainingSegmentUnusable",
    "retrainErrSegmentUsable",
)
QIANFAN_STATUS_WEIGHTS = (70, 3, 2, 2, 4, 5, 3, 3, 4, 4)
QIANFAN_SOURCES = ("upload_file", "datatable", "url")
PAI_STATUSES = ("Success", "Failed", "Running")

_CN_TOPICS = ("医疗卫生常识", "员工手册", "产品说明书", "财务报销制度", "客服问答", "安全生产规范", "售后政策")
_EN_TOPICS = ("employee-handbook", "Product FAQ", "release-notes", "Onboarding Guide", "api-reference", "pricing")
_UPLOAD_EXTS = ("doc", "docx", "pdf", "txt", "ppt", "pptx", "json")
_TABLE_EXTS = ("xlsx", "xls", "csv")
_TAGS = {
    "知识": ("医疗知识", "产品知识", "法规"),
    "部门": ("研发部", "市场部", "客服中心"),
    "product": ("cloud-ai", "search", "storage"),
    "language": ("zh", "en"),
    "year": ("2024", "2025", "2026"),
}
_FAIL_REASONS = (
    "embedding service timeout after 3 retries",
    "OSS object not found: oss://kb-sandbox/raw/missing.pdf",
    "解析文件失败：不支持的文件格式",
    "vector store write quota exceeded",
)
_PAI_KB_TYPES = ("TEXT", "STRUCTURED", "IMAGE", "VIDEO")


def iso_z(epoch: float) -> str:
    """`2026-03-01T08:15:30Z`: the UTC ISO form PAI and Qianfan use."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def new_uuid(rng: Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def hex_id(rng: Random, length: int) -> str:
    return f"{rng.getrandbits(length * 4):0{length}x}"


def alnum_id(rng: Random, length: int) -> str:
    return "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=length))


def human_size(size: int) -> str:
    """Lingma's size strings: `0 B`, `312 KB`, `1.5 MB`."""
    value, unit = float(size), "B"
    for next_unit in ("KB", "MB", "GB", "TB"):
        if value < 1024:
            break
        value, unit = value / 1024, next_unit
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{text} {unit}"


def _title(rng: Random, index: int) -> str:
    if rng.random() < 0.5:
        return f"{rng.choice(_CN_TOPICS)}{index}"
    return f"{rng.choice(_EN_TOPICS)}-{index}"


def _tags(rng: Random) -> list[Record]:
    keys = rng.sample(sorted(_TAGS), k=rng.choice((0, 1, 1, 2, 3)))
    return [{"key": k, "values": rng.sample(_TAGS[k], k=rng.randint(1, len(_TAGS[k])))} for k in keys]


def bos_presigned_url(rng: Random, created: int, ext: str) -> str:
    """A Baidu BOS download URL with a `bce-auth-v1` authorization query, as Qianfan returns."""
    auth = f"bce-auth-v1/ALTAKsandboxBosFake01/{iso_z(created)}/1800/host/{hex_id(rng, 64)}"
    path = f"upload_files/{new_uuid(rng)}/{new_uuid(rng)}.{ext}"
    return f"https://copilot-engine-bos.bj.bcebos.com/{path}?authorization={quote(auth, safe='')}"


def tos_presigned_url(rng: Random, created: int, task_id: str) -> str:
    """A Volcengine TOS download URL with `X-Tos-*` signature parameters, as task/info returns."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(created))
    credential = quote(f"AKLTsandboxTosFake01/{stamp[:8]}/cn-beijing/tos/request", safe="")
    return (
        f"https://knowledgebase-sandbox.tos-cn-beijing.volces.com/export/{task_id}/{task_id}.zip"
        f"?X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Credential={credential}&X-Tos-Date={stamp}"
        f"&X-Tos-Expires=900&X-Tos-SignedHeaders=host&X-Tos-Signature={hex_id(rng, 64)}"
    )


def qianfan_document(
    rng: Random, created: int, index: int, status: str | None = None, source: str | None = None
) -> Record:
    """A DescribeDocuments entry in the page's spelling (meta keys spelled either way)."""
    source = source or rng.choices(QIANFAN_SOURCES, weights=(70, 15, 15))[0]
    status = status or rng.choices(QIANFAN_STATUSES, weights=QIANFAN_STATUS_WEIGHTS)[0]
    title = _title(rng, index)
    snake = rng.random() < 0.5
    meta: Record = {"source": source}
    if source == "url":
        slug = quote(title.replace(" ", "-"))
        meta |= {"fileId": None, "url": f"https://docs.example.com/{slug}.html", "mime_type": "url"}
        name = title
    else:
        ext = rng.choice(_UPLOAD_EXTS if source == "upload_file" else _TABLE_EXTS)
        name = f"{title}.{ext}"
        size = int(rng.lognormvariate(12, 1.5))
        meta |= {"fileId": new_uuid(rng), "url": bos_presigned_url(rng, created, ext)}
        meta |= {"mime_type": ext, "file_size": size} if snake else {"mimeType": ext, "fileSize": size}
    if source == "url" and not snake:
        meta["mimeType"] = meta.pop("mime_type")
    meta["tags"] = _tags(rng)
    parsed = status not in ("queuing", "notConfigured", "parsing", "parseError")
    return {
        "id": new_uuid(rng),
        "name": name,
        "createdAt": iso_z(created),
        "displayStatus": status,
        "wordCount": int(rng.lognormvariate(9, 1.2)) if parsed else 0,
        "enabled": rng.random() >= 0.08,
        "meta": meta,
    }


def qianfan_knowledge_base(rng: Random, created: int, index: int) -> Record:
    index_type = rng.choice(("public", "public", "bes", "vdb"))
    config: Record = {"index": {"type": index_type}}
    if index_type == "bes":
        config["index"]["esUrl"] = f"http://es-sandbox-{hex_id(rng, 8)}.bes.example.com:8200"
    name = rng.choice((f"产品知识库{index}", f"support-kb-{index}", f"内部制度库{index}", f"docs-{index}"))
    return {
        "id": new_uuid(rng),
        "name": name,
        "description": rng.choice(("", "客服问答知识库", "Product documentation for RAG")),
        "createAt": iso_z(created),
        "config": config,
    }


def pai_knowledge_base(rng: Random, workspace_id: str, created: int, index: int) -> Record:
    kb_id = f"d-{alnum_id(rng, 10)}"
    kb_type = _PAI_KB_TYPES[index % len(_PAI_KB_TYPES)] if index < 8 else "TEXT"
    creator = str(rng.randint(10**15, 10**16 - 1))
    return {
        "Accessibility": rng.choice(("PRIVATE", "PUBLIC")),
        "AutoUpdateConfig": {
            "EcsSpecs": [_ecs_spec(rng)],
            "EmbeddingConfig": {"BatchSize": 32, "Concurrency": 4},
            "MaxRunningTimeInSeconds": 7200,
            "ResourceId": "public-cluster",
            "Status": rng.choice(("Enabled", "Disabled")),
            "UserVpc": {"SecurityGroupId": "", "VSwitchId": "", "VpcId": ""},
        },
        "ChunkConfig": {"ChunkDuration": 0, "ChunkOverlap": 100, "ChunkSize": 1024, "ChunkStrategy": "text"},
        "Creator": creator,
        "DataSources": [{"Uri": f"oss://kb-sandbox-{workspace_id}/raw/{kb_id}/"}],
        "DatasetId": f"d-{alnum_id(rng, 10)}",
        "Description": rng.choice(("", "企业内部文档知识库", "Support articles for the chatbot")),
        "EmbeddingConfig": {"ConnectionId": f"conn-{alnum_id(rng, 12)}", "ConnectionName": "dashscope",
                            "Model": rng.choice(("text-embedding-v3", "bge-m3"))},
        "GmtCreateTime": iso_z(created),
        "GmtModifiedTime": iso_z(created + rng.randint(0, 86400 * 30)),
        "IndexColumnConfig": {"ColumnDefinitions": [], "ContentColumns": [], "EmbeddingColumns": []},
        "KnowledgeBaseId": kb_id,
        "KnowledgeBaseType": kb_type,
        "MetaDataConfig": {"CustomMetaData": [{"Key": "department", "ReferenceCount": rng.randint(0, 50),
                                               "ValueCount": rng.randint(1, 6), "ValueType": "string"}]},
        "Name": rng.choice((f"知识库{index}", f"support-kb-{index}", f"产品文档-{index}")),
        "OutputDir": f"oss://kb-sandbox-{workspace_id}/index/{kb_id}/",
        "RuntimeId": f"rt-{alnum_id(rng, 10)}",
        "VectorDBConfig": {"CollectionName": f"kb_{kb_id.replace('-', '_')}", "ConnectionId": f"conn-{alnum_id(rng, 12)}",
                           "ConnectionName": "milvus-sandbox", "VectorDBType": rng.choice(("Milvus", "Elasticsearch"))},
        "VersionName": "v1",
        "WorkspaceId": workspace_id,
    }


def _ecs_spec(rng: Random) -> Record:
    gpu = rng.random() < 0.3
    return {
        "CPU": 8 if gpu else rng.choice((2, 4)),
        "Driver": "535.161.08" if gpu else "",
        "GPU": 1 if gpu else 0,
        "GPUType": "A10" if gpu else "",
        "InstanceType": "ecs.gn7i-c8g1.2xlarge" if gpu else "ecs.c6.large",
        "Memory": 30 if gpu else 8,
        "PodCount": 1,
        "SharedMemory": 0,
        "Type": "GPU" if gpu else "CPU",
    }


PAI_MAX_RUNNING_TIMES = (3600, 7200, 10800)


def pai_job(rng: Random, kb: Record, created: int, status: str, max_running: int | None = None) -> Record:
    """A ListKnowledgeBaseJobs entry; running jobs have no finish time yet."""
    max_running = max_running or rng.choice(PAI_MAX_RUNNING_TIMES)
    files = [
        {
            "Action": rng.choice(("Add", "Add", "Update", "Delete")),
            "FileMetaId": f"fm-{alnum_id(rng, 14)}",
            "FileName": (name := f"{_title(rng, i)}.{rng.choice(_UPLOAD_EXTS)}"),
            "FileUri": f"oss://kb-sandbox-{kb['WorkspaceId']}/raw/{kb['KnowledgeBaseId']}/{quote(name)}",
        }
        for i in range(rng.randint(1, 5))
    ]
    added = sum(rng.randint(5, 400) for f in files if f["Action"] != "Delete")
    deleted = sum(rng.randint(5, 200) for f in files if f["Action"] != "Add")
    finished = created + rng.randint(60, 3000)
    if status == "Running":
        added, deleted = added // 3, 0
    elif status == "Failed":
        added = added // 4
    return {
        "Accessibility": kb["Accessibility"],
        "Creator": kb["Creator"],
        "Description": rng.choice(("", "scheduled index sync", "手动更新索引")),
        "EcsSpecs": [_ecs_spec(rng)],
        "EmbeddingConfig": {"BatchSize": rng.choice((16, 32, 64)), "Concurrency": rng.choice((2, 4, 8))},
        "ErrorMessage": rng.choice(_FAIL_REASONS) if status == "Failed" else "",
        "GmtCreateTime": iso_z(created),
        "GmtFinishTime": "" if status == "Running" else iso_z(finished),
        "GmtModifiedTime": iso_z(created + 30 if status == "Running" else finished),
        "JobAction": "SyncIndex",
        "KnowledgeBaseId": kb["KnowledgeBaseId"],
        "KnowledgeBaseJobId": f"kbjob-{alnum_id(rng, 14)}",
        "KnowledgeBaseJobResult": {
            "AddChunkCount": added,
            "DeleteChunkCount": deleted,
            "FileMetas": files,
            "TotalFileCount": len(files),
        },
        "MaxRunningTimeInSeconds": max_running,
        "PipelineRunInfo": {"PipelineRunId": f"flow-{alnum_id(rng, 16)}"},
        "ResourceId": rng.choice(("public-cluster", f"quota{alnum_id(rng, 10)}")),
        "Status": status,
        "UserVpc": rng.choice(
            (
                {"SecurityGroupId": "", "VSwitchId": "", "VpcId": ""},
                {"SecurityGroupId": f"sg-{alnum_id(rng, 12)}", "VSwitchId": f"vsw-{alnum_id(rng, 12)}",
                 "VpcId": f"vpc-{alnum_id(rng, 12)}"},
            )
        ),
        "WorkspaceId": kb["WorkspaceId"],
    }


def lingma_user(rng: Random) -> Record:
    user_name = rng.choice(("zhang.wei", "li.na", "wang.fang", "alice", "bob.chen", "liu.yang"))
    user_id = hex_id(rng, 24)
    return {
        "avatarUrl": f"https://tcs-devops.aliyuncs.com/thumbnail/{hex_id(rng, 36)}/w/100/h/100",
        "displayName": f"{user_name}_{user_id[:4]}",
        "id": user_id,
        "userName": user_name,
    }


def lingma_knowledge_base(
    rng: Random, org_id: str, creator: Record, created_ms: int, scene: str | None = None, state: str | None = None
) -> Record:
    file_count = rng.choice((0, 0, 1, 3, 12, 40, 150))
    size = 0 if file_count == 0 else int(rng.lognormvariate(13, 1.8))
    modified = created_ms + rng.randint(0, 86_400_000 * 20)
    return {
        "accessLevel": rng.choice((0, 10)),
        "creator": dict(creator),
        "description": rng.choice(("", "前端组件规范", "Backend coding guidelines", "代码补全示例库")),
        "fileCount": file_count,
        "gmtCreate": created_ms,
        "gmtModified": modified,
        "id": hex_id(rng, 24),
        "lastActivityTime": modified + rng.randint(0, 86_400_000 * 10),
        "memberCount": rng.randint(1, 40),
        "name": rng.choice(("研发规范", "frontend-kb", "代码示例", "api-guidelines", "测试用例库", "ops-runbook"))
        + f"-{hex_id(rng, 4)}",
        "organizationId": org_id,
        "sceneType": scene or rng.choice(("chat", "complement")),
        "size": human_size(size),
        "state": state or rng.choice(("enable", "enable", "disable")),
    }


def vikingdb_collection(rng: Random, project: str, created: int, index: int) -> Record:
    structured = rng.random() < 0.3
    doc_num = rng.randint(0, 3000)
    finished = rng.randint(0, doc_num)
    pipeline: Record = {
        "pipeline_type": "user_define",
        "pipeline_stat": {
            "doc_num": doc_num,
            "finish_doc_num": finished,
            "point_num": finished * rng.randint(3, 40),
            "success_doc_num": finished - rng.randint(0, finished // 10),
        },
        "index_list": [
            {
                "index_type": "hnsw_hybrid",
                "index_config": {
                    "vector_field": {"field_name": "_sys_auto_content_vector", "field_type": "vector", "dim": 2048},
                    "sparse_vector_field": {"field_name": "_sys_auto_content_sparse_vector",
                                            "field_type": "sparse_vector"},
                    "cpu_quota": 1,
                    "distance": "ip",
                    "quant": "int8",
                    "embedding_model": "doubao-embedding-and-m3",
                    "embedding_dimension": 2048,
                    "need_instruction": True,
                    "fields": [
                        {"field_name": name, "field_type": kind}
                        for name, kind in (("_sys_auto_id", "string"), ("_sys_auto_doc_id", "string"),
                                           ("_sys_auto_chunk_id", "int64"), ("_sys_auto_doc_type", "string"),
                                           ("_sys_auto_add_type", "string"))
                    ],
                },
                "primary_key": "",
                "status": rng.choice((-1, 0, 1, 1, 1, 2)),
            }
        ],
        "preprocessing_list": [{"chunking_strategy": "default", "chunking_identifier": None, "chunk_length": 2000}],
    }
    if structured:
        pipeline["table_config_list"] = [
            {"table_type": "row", "table_pos": 1, "start_pos": 2, "table_fields": [
                {"field_name": name, "field_type": "string", "if_embedding": True, "if_filter": False}
                for name in ("讲解模块", "子模块", "问题示例")
            ]}
        ]
    return {
        "collection_name": rng.choice(("product_faq", "support_docs", "legal_kb", "code_snippets")) + f"_{index}",
        "description": rng.choice(("", "客服知识库", "Product manuals for the assistant")),
        "doc_num": doc_num,
        "create_time": created,
        "update_time": created + rng.randint(0, 86400 * 30),
        "creator": rng.choice(("zhangsan", "ml-platform", "alice")),
        "pipeline_list": [pipeline],
        "data_type": "structured_data" if structured else "unstructured_data",
        "resource_id": f"kb-{hex_id(rng, 16)}",
        "project": project,
    }


def vikingdb_task(rng: Random, task_id: str, created: int, status: str) -> Record:
    """A task/info `data` object: only finished exports carry a download link."""
    percentage = {"success": 100, "running": rng.randint(0, 99), "fail": rng.randint(0, 90)}[status]
    link = tos_presigned_url(rng, created, task_id) if status == "success" else ""
    return {"status": status, "percentage": percentage, "attachment_link": link}
