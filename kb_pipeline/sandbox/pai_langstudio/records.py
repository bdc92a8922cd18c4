"""PAI LangStudio records: KnowledgeBase and KnowledgeBaseJob objects (the API reference and the official SDK's models)."""

from __future__ import annotations

from random import Random
from urllib.parse import quote

from kb_pipeline.sandbox.records.common import UPLOAD_EXTS, Record, alnum_id, iso_z, title

PAI_STATUSES = ("Success", "Failed", "Running")
PAI_MAX_RUNNING_TIMES = (3600, 7200, 10800)
_FAIL_REASONS = (
    "embedding service timeout after 3 retries",
    "OSS object not found: oss://kb-sandbox/raw/missing.pdf",
    "解析文件失败：不支持的文件格式",
    "vector store write quota exceeded",
)
_PAI_KB_TYPES = ("TEXT", "STRUCTURED", "IMAGE", "VIDEO")


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
        "EmbeddingConfig": {
            "ConnectionId": f"conn-{alnum_id(rng, 12)}",
            "ConnectionName": "dashscope",
            "Model": rng.choice(("text-embedding-v3", "bge-m3")),
        },
        "GmtCreateTime": iso_z(created),
        "GmtModifiedTime": iso_z(created + rng.randint(0, 86400 * 30)),
        "IndexColumnConfig": {"ColumnDefinitions": [], "ContentColumns": [], "EmbeddingColumns": []},
        "KnowledgeBaseId": kb_id,
        "KnowledgeBaseType": kb_type,
        "MetaDataConfig": {
            "CustomMetaData": [
                {
                    "Key": "department",
                    "ReferenceCount": rng.randint(0, 50),
                    "ValueCount": rng.randint(1, 6),
                    "ValueType": "string",
                }
            ]
        },
        "Name": rng.choice((f"知识库{index}", f"support-kb-{index}", f"产品文档-{index}")),
        "OutputDir": f"oss://kb-sandbox-{workspace_id}/index/{kb_id}/",
        "RuntimeId": f"rt-{alnum_id(rng, 10)}",
        "VectorDBConfig": {
            "CollectionName": f"kb_{kb_id.replace('-', '_')}",
            "ConnectionId": f"conn-{alnum_id(rng, 12)}",
            "ConnectionName": "milvus-sandbox",
            "VectorDBType": rng.choice(("Milvus", "Elasticsearch")),
        },
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


def pai_job(rng: Random, kb: Record, created: int, status: str, max_running: int | None = None) -> Record:
    """A ListKnowledgeBaseJobs entry; running jobs have no finish time yet."""
    max_running = max_running or rng.choice(PAI_MAX_RUNNING_TIMES)
    files = [
        {
            "Action": rng.choice(("Add", "Add", "Update", "Delete")),
            "FileMetaId": f"fm-{alnum_id(rng, 14)}",
            "FileName": (name := f"{title(rng, i)}.{rng.choice(UPLOAD_EXTS)}"),
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
                {
                    "SecurityGroupId": f"sg-{alnum_id(rng, 12)}",
                    "VSwitchId": f"vsw-{alnum_id(rng, 12)}",
                    "VpcId": f"vpc-{alnum_id(rng, 12)}",
                },
            )
        ),
        "WorkspaceId": kb["WorkspaceId"],
    }
