"""Lingma records: knowledge-base objects of ListKnowledgeBases (as its API reference shows them).

A knowledge base's `fileCount` and `size` are those of its files (`file_records.py`).
"""

from __future__ import annotations

from random import Random

from kb_pipeline.sandbox.lingma.file_records import file_sizes, file_source
from kb_pipeline.sandbox.records.common import Record, hex_id, human_size


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
    rng: Random,
    seed: int,
    org_id: str,
    creator: Record,
    created_ms: int,
    scene: str | None = None,
    state: str | None = None,
) -> Record:
    file_count = rng.choice((0, 0, 1, 3, 12, 40, 150))
    modified = created_ms + rng.randint(0, 86_400_000 * 20)
    kb_id = hex_id(rng, 24)
    return {
        "accessLevel": rng.choice((0, 10)),
        "creator": dict(creator),
        "description": rng.choice(("", "前端组件规范", "Backend coding guidelines", "代码补全示例库")),
        "fileCount": file_count,
        "gmtCreate": created_ms,
        "gmtModified": modified,
        "id": kb_id,
        "lastActivityTime": modified + rng.randint(0, 86_400_000 * 10),
        "memberCount": rng.randint(1, 40),
        "name": rng.choice(
            ("研发规范", "frontend-kb", "代码示例", "api-guidelines", "测试用例库", "ops-runbook")
        )
        + f"-{hex_id(rng, 4)}",
        "organizationId": org_id,
        "sceneType": scene or rng.choice(("chat", "complement")),
        "size": human_size(sum(file_sizes(file_source(seed, kb_id), file_count)) if file_count else 0),
        "state": state or rng.choice(("enable", "enable", "disable")),
    }
