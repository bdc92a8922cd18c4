"""Lingma ListKbFiles entries: the files of one knowledge base (as the ListKbFiles reference page shows them).

A knowledge base's files are drawn from `file_source(seed, kb_id)` alone, so they can be generated
whenever asked for instead of held in memory (a scale-400 sandbox has about 700,000). The sizes come
first in that draw: `file_sizes` gives the byte counts the dataset sums into the knowledge base's
`size` without building the files, and `lingma_files` draws the same sizes again before the rest.
Every size is exact in its human string (see `exact_size`), so a knowledge base's `size` is
`human_size` of the sum of its files' `fileSize`.
"""

from __future__ import annotations

from random import Random

from kb_pipeline.sandbox.records.common import Record, exact_size, hex_id, human_size, title

FILE_STATES = ("success", "processing", "failed", "pending")
"""The reference page does not list `fileState` values; the sandbox serves these four."""
_STATE_TABLE = ("success",) * 85 + ("processing",) * 6 + ("failed",) * 6 + ("pending",) * 3
_EXTS = ("md", "txt", "java", "py", "ts", "go", "pdf", "docx")
_SIZE_SOURCE = Random("lingma-file-sizes")
_SIZES = tuple(exact_size(int(_SIZE_SOURCE.lognormvariate(10, 1.6))) for _ in range(1024))
"""Log-normal file sizes (median about 20 KB) to pick from: one draw of 10 bits each keeps a
scale-400 dataset's 700,000 sizes fast to generate."""


def file_source(seed: int, kb_id: str) -> Random:
    """The random source of one knowledge base's files: the seed and the id, never the scale."""
    return Random(f"{seed}:lingma-files:{kb_id}")


def file_sizes(rng: Random, count: int) -> list[int]:
    """`count` exact file sizes, the first draws of a knowledge base's file source."""
    return [_SIZES[rng.getrandbits(10)] for _ in range(count)]


def lingma_files(seed: int, kb: Record) -> list[Record]:
    """The `fileCount` files of `kb` as generated, oldest `gmtAdded` first."""
    rng = file_source(seed, kb["id"])
    sizes = file_sizes(rng, kb["fileCount"])
    added = sorted(rng.randint(kb["gmtCreate"], kb["gmtModified"]) for _ in sizes)
    return [lingma_file(rng, kb, ms, size, n) for n, (ms, size) in enumerate(zip(added, sizes, strict=True))]


def lingma_file(
    rng: Random, kb: Record, added_ms: int, size: int, index: int, state: str | None = None
) -> Record:
    """One file, added at `added_ms`, last modified no later than its knowledge base."""
    file_id = hex_id(rng, 32)
    filename = f"{title(rng, index)}.{rng.choice(_EXTS)}"
    return {
        "fileId": file_id,
        "filename": filename,
        "fileSize": human_size(size),
        "filePath": f"lingma/rag_kb/{kb['organizationId']}/{kb['id']}/{file_id}/{filename}",
        "fileState": state or rng.choice(_STATE_TABLE),
        "gmtAdded": added_ms,
        "gmtCreated": added_ms - rng.randint(5, 500),
        "gmtModified": max(added_ms, min(added_ms + rng.randint(1_000, 600_000), kb["gmtModified"])),
    }
