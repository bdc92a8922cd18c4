"""VikingDB records: collection/list entries and task/info data (seeds 001, 004)."""

from __future__ import annotations

import time
from random import Random
from urllib.parse import quote

from kb_pipeline.sandbox.records.common import Record, hex_id


def tos_presigned_url(rng: Random, created: int, task_id: str) -> str:
    """A Volcengine TOS download URL with `X-Tos-*` signature parameters, as task/info returns."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(created))
    credential = quote(f"AKLTsandboxTosFake01/{stamp[:8]}/cn-beijing/tos/request", safe="")
    return (
        f"https://knowledgebase-sandbox.tos-cn-beijing.volces.com/export/{task_id}/{task_id}.zip"
        f"?X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Credential={credential}&X-Tos-Date={stamp}"
        f"&X-Tos-Expires=900&X-Tos-SignedHeaders=host&X-Tos-Signature={hex_id(rng, 64)}"
    )


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
                    "vector_field": {
                        "field_name": "_sys_auto_content_vector",
                        "field_type": "vector",
                        "dim": 2048,
                    },
                    "sparse_vector_field": {
                        "field_name": "_sys_auto_content_sparse_vector",
                        "field_type": "sparse_vector",
                    },
                    "cpu_quota": 1,
                    "distance": "ip",
                    "quant": "int8",
                    "embedding_model": "doubao-embedding-and-m3",
                    "embedding_dimension": 2048,
                    "need_instruction": True,
                    "fields": [
                        {"field_name": name, "field_type": kind}
                        for name, kind in (
                            ("_sys_auto_id", "string"),
                            ("_sys_auto_doc_id", "string"),
                            ("_sys_auto_chunk_id", "int64"),
                            ("_sys_auto_doc_type", "string"),
                            ("_sys_auto_add_type", "string"),
                        )
                    ],
                },
                "primary_key": "",
                "status": rng.choice((-1, 0, 1, 1, 1, 2)),
            }
        ],
        "preprocessing_list": [
            {"chunking_strategy": "default", "chunking_identifier": None, "chunk_length": 2000}
        ],
    }
    if structured:
        pipeline["table_config_list"] = [
            {
                "table_type": "row",
                "table_pos": 1,
                "start_pos": 2,
                "table_fields": [
                    {"field_name": name, "field_type": "string", "if_embedding": True, "if_filter": False}
                    for name in ("讲解模块", "子模块", "问题示例")
                ],
            }
        ]
    return {
        "collection_name": rng.choice(("product_faq", "support_docs", "legal_kb", "code_snippets"))
        + f"_{index}",
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
    percentage = 100 if status == "success" else rng.randint(0, 99 if status == "running" else 90)
    link = tos_presigned_url(rng, created, task_id) if status == "success" else ""
    return {"status": status, "percentage": percentage, "attachment_link": link}
