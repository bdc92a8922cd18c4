"""VikingDB doc/list entries: the documents of one collection (as the doc/list and doc/info reference pages show them).

A collection's documents are drawn from `doc_source(seed, resource_id)` and the collection's own
`pipeline_stat`, so they can be generated whenever asked for instead of held in memory. They agree
with the collection by construction: `doc_num` documents, `success_doc_num` of them processed
(`status.process_status` 0), `finish_doc_num - success_doc_num` failed (1), the rest queued (2) or
processing (6), and the processed ones' `point_num` summing to the collection's `point_num`.
Times are epoch milliseconds (the doc/info page), within the collection's create and update times
(epoch seconds). `doc_meta` is a JSON-encoded string, as the official SDK reads it.
"""

from __future__ import annotations

from random import Random

import orjson

from kb_pipeline.sandbox.records.common import Record, hex_id, title

PROCESSED, FAILED, QUEUED, PROCESSING = 0, 1, 2, 6
PROCESS_STATUSES = (PROCESSED, FAILED, QUEUED, PROCESSING)
"""`status.process_status` values the doc/info page lists (3 updating and 5 deleting are not served)."""
_TYPES = ("pdf", "docx", "txt", "md", "pptx", "faq.xlsx")
_TABLE_TYPES = ("xlsx", "csv", "jsonl")
_FAILURES = ((10001, "file parse failed"), (10003, "file size exceeds the limit"), (10005, "download failed"))


def doc_source(seed: int, resource_id: str) -> Random:
    """The random source of one collection's documents: the seed and the id, never the scale."""
    return Random(f"{seed}:vikingdb-docs:{resource_id}")


def vikingdb_documents(seed: int, collection: Record) -> list[Record]:
    """The collection's documents as generated, oldest `create_time` first."""
    rng = doc_source(seed, collection["resource_id"])
    stat = collection["pipeline_list"][0]["pipeline_stat"]
    done, succeeded = stat["finish_doc_num"], stat["success_doc_num"]
    statuses = [PROCESSED] * succeeded + [FAILED] * (done - succeeded)
    statuses += [rng.choice((QUEUED, PROCESSING)) for _ in range(stat["doc_num"] - done)]
    rng.shuffle(statuses)
    points = iter(split(rng, stat["point_num"], succeeded))
    low, high = collection["create_time"] * 1000, collection["update_time"] * 1000
    created = sorted(rng.randint(low, high) for _ in statuses)
    return [
        vikingdb_document(rng, collection, ms, status, next(points) if status == PROCESSED else 0, n)
        for n, (ms, status) in enumerate(zip(created, statuses, strict=True))
    ]


def split(rng: Random, total: int, parts: int) -> list[int]:
    """`total` cut into `parts` random positive shares (each at least 1 when total allows) summing to it."""
    if parts == 0:
        return []
    floor = 1 if total >= parts else 0
    weights = [rng.random() + 0.05 for _ in range(parts)]
    spare, scale = total - floor * parts, sum(weights)
    shares = [floor + int(spare * w / scale) for w in weights]
    for i in range(total - sum(shares)):
        shares[i % parts] += 1
    return shares


def vikingdb_document(
    rng: Random, collection: Record, created_ms: int, status: int, point_num: int, index: int
) -> Record:
    """One doc/list entry; its update time is no later than its collection's."""
    structured = collection["data_type"] == "structured_data"
    doc_type = rng.choice(_TABLE_TYPES if structured else _TYPES)
    name = f"{title(rng, index)}.{doc_type}"
    from_url = rng.random() < 0.2
    doc_id = f"_sys_auto_gen_doc_id-{rng.getrandbits(63)}"
    state: Record = {"process_status": status}
    if status == FAILED:
        state["failed_code"], state["failed_msg"] = rng.choice(_FAILURES)
    meta = [
        {"field_name": "doc_id", "field_type": "string", "field_value": doc_id},
        {
            "field_name": "category",
            "field_type": "string",
            "field_value": rng.choice(("faq", "manual", "政策")),
        },
    ]
    bucket = f"knowledgebase-sandbox/{collection['resource_id']}"
    return {
        "collection_name": collection["collection_name"],
        "doc_name": name,
        "doc_id": doc_id,
        "doc_hash": hex_id(rng, 32),
        "add_type": "url" if from_url else "tos",
        "doc_type": doc_type,
        "create_time": created_ms,
        "added_by": collection["creator"],
        "update_time": min(created_ms + rng.randint(0, 3_600_000), collection["update_time"] * 1000),
        "url": f"https://docs.example.com/{index}/{doc_id[-8:]}.{doc_type}" if from_url else "",
        "tos_path": "" if from_url else f"tos://{bucket}/{name}",
        "point_num": point_num,
        "status": state,
        "title": name.rsplit(".", 1)[0],
        "source": "url" if from_url else "tos_fe",
        "doc_meta": orjson.dumps(meta).decode(),
    }
