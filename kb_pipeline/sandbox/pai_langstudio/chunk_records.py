"""PAI LangStudio ListKnowledgeBaseChunks entries (the official SDK's KnowledgeBaseFileChunk model).

A knowledge base holds as many chunks as its succeeded jobs added and deleted (`chunk_total`), so
finishing a job moves the count. Chunk `n` is a pure function of the knowledge base and `n`, so a
page is generated when it is asked for and nothing is stored.
"""

from __future__ import annotations

import hashlib

from kb_pipeline.sandbox.records.common import Record

CHUNKS_PER_FILE = 40
_STEP = 924
"""Chunk size minus overlap in the generated knowledge bases' ChunkConfig (1024 and 100)."""


def chunk_total(jobs: list[Record]) -> int:
    """Chunks left by the succeeded jobs: their AddChunkCount minus DeleteChunkCount, never below 0."""
    net = sum(
        j["KnowledgeBaseJobResult"]["AddChunkCount"] - j["KnowledgeBaseJobResult"]["DeleteChunkCount"]
        for j in jobs
        if j["Status"] == "Success"
    )
    return max(0, net)


def pai_chunk(kb: Record, index: int) -> Record:
    """Chunk `index` of `kb`: the same id and content whenever it is asked for."""
    kb_id = kb["KnowledgeBaseId"]
    digest = hashlib.blake2b(f"{kb_id}:{index}".encode(), digest_size=16).hexdigest()
    file_number, sequence = divmod(index, CHUNKS_PER_FILE)
    file_digest = hashlib.blake2b(f"{kb_id}:file:{file_number}".encode(), digest_size=8).hexdigest()
    file_name = f"doc-{file_number:04d}.pdf"
    start = sequence * _STEP
    content = f"{file_name} 第{sequence + 1}段: chunk {index} of knowledge base {kb_id}."
    return {
        "ChunkAttachment": [],
        "ChunkContent": content,
        "ChunkEnd": start + len(content),
        "ChunkSequence": sequence,
        "ChunkSize": len(content),
        "ChunkStart": start,
        "ChunkStatus": "Enable",
        "DownloadUrl": "",
        "KnowledgeBaseChunkId": f"chunk-{digest}",
        "KnowledgeBaseId": kb_id,
        "MetaData": {
            "FileMetaId": f"fm-{file_digest}",
            "FileName": file_name,
            "FileUri": f"{kb['DataSources'][0]['Uri']}{file_name}",
        },
        "ThumbnailUrl": "",
        "VersionName": kb["VersionName"],
    }
