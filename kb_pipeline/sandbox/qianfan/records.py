"""Qianfan AppBuilder records: DescribeKnowledgeBases and DescribeDocuments entries (as the API reference shows them)."""

from __future__ import annotations

from random import Random
from urllib.parse import quote

from kb_pipeline.sandbox.records.common import (
    CN_TOPICS,
    EN_TOPICS,
    UPLOAD_EXTS,
    Record,
    hex_id,
    iso_z,
    new_uuid,
)

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
_TABLE_EXTS = ("xlsx", "xls", "csv")
_TAGS = {
    "知识": ("医疗知识", "产品知识", "法规"),
    "部门": ("研发部", "市场部", "客服中心"),
    "product": ("cloud-ai", "search", "storage"),
    "language": ("zh", "en"),
    "year": ("2024", "2025", "2026"),
}


def _tag_palette(rng: Random, size: int) -> tuple[list[Record], ...]:
    """`size` tag lists of zero to three keys, each with one or more values."""
    palette = []
    for _ in range(size):
        keys = rng.sample(sorted(_TAGS), k=rng.choice((0, 1, 1, 2, 3)))
        palette.append(
            [{"key": k, "values": rng.sample(_TAGS[k], k=rng.randint(1, len(_TAGS[k])))} for k in keys]
        )
    return tuple(palette)


def bos_presigned_url(rng: Random, signed_at: str, file_id: str, ext: str) -> str:
    """A Baidu BOS download URL with a `bce-auth-v1` authorization query, as Qianfan returns."""
    stamp = signed_at.replace(":", "%3A")
    auth = f"bce-auth-v1%2FALTAKsandboxBosFake01%2F{stamp}%2F1800%2Fhost%2F{rng.getrandbits(256):064x}"
    return f"https://copilot-engine-bos.bj.bcebos.com/upload_files/{file_id}/{file_id[:13]}.{ext}?authorization={auth}"


def _weighted_table(values: tuple[str, ...], weights: tuple[int, ...]) -> tuple[str, ...]:
    """100 slots filled in proportion to `weights`, so one random number picks a weighted value."""
    return tuple(v for v, w in zip(values, weights, strict=True) for _ in range(w))


_STATUS_TABLE = _weighted_table(QIANFAN_STATUSES, QIANFAN_STATUS_WEIGHTS)
_SOURCE_TABLE = _weighted_table(QIANFAN_SOURCES, (70, 15, 15))
_TITLES = tuple(f"{t}{{}}" for t in CN_TOPICS) + tuple(f"{t}-{{}}" for t in EN_TOPICS)
_TAG_PALETTE = _tag_palette(Random("qianfan-tags"), 64)
"""Tag lists documents draw from (shared objects: treat records as read-only)."""


def qianfan_document(
    rng: Random, created: int, index: int, status: str | None = None, source: str | None = None
) -> Record:
    """A DescribeDocuments entry in the page's spelling (meta keys spelled either way).

    One 64-bit draw decides every discrete choice, which keeps generating 200,000 documents fast.
    """
    r = rng.getrandbits(64)
    source = source or _SOURCE_TABLE[r % 100]
    status = status or _STATUS_TABLE[(r >> 7) % 100]
    snake = bool(r >> 14 & 1)
    title = _TITLES[(r >> 15) % len(_TITLES)].format(index)
    created_at = iso_z(created)
    meta: Record = {"source": source}
    mime_key, size_key = ("mime_type", "file_size") if snake else ("mimeType", "fileSize")
    if source == "url":
        name = title
        meta |= {"fileId": None, "url": f"https://docs.example.com/{_slug(title)}.html", mime_key: "url"}
    else:
        exts = UPLOAD_EXTS if source == "upload_file" else _TABLE_EXTS
        ext = exts[(r >> 22) % len(exts)]
        name = f"{title}.{ext}"
        file_id = new_uuid(rng)
        meta |= {"fileId": file_id, "url": bos_presigned_url(rng, created_at, file_id, ext)}
        meta |= {mime_key: ext, size_key: int(rng.lognormvariate(12, 1.5))}
    meta["tags"] = _TAG_PALETTE[(r >> 26) % 64]
    parsed = status not in ("queuing", "notConfigured", "parsing", "parseError")
    return {
        "id": new_uuid(rng),
        "name": name,
        "createdAt": created_at,
        "displayStatus": status,
        "wordCount": int(rng.lognormvariate(9, 1.2)) if parsed else 0,
        "enabled": (r >> 32) % 100 >= 8,
        "meta": meta,
    }


def _slug(title: str) -> str:
    return quote(title.replace(" ", "-"))


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
