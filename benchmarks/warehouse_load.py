"""Throughput of `Warehouse.load_pages`: N pages of 100 document rows (raw landing, validation, merge).

    python benchmarks/warehouse_load.py --pages 500 [--page-size 100] [--tags 1] [--reload] [--batch 1 10 50]

Prints rows/s over all pages, the time per page, and peak memory: the Python heap (tracemalloc)
and the process's peak resident size (which includes DuckDB's own memory). `--reload` loads the
same pages a second time (every row then matched and compared, as in a full refresh). `--batch`
sets how many pages commit per transaction; each size given runs into a fresh warehouse.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from kb_pipeline.pages import Page, TableRows
from kb_pipeline.warehouse import Warehouse

STARTED = datetime(2026, 1, 1, tzinfo=UTC)


def document_page(number: int, size: int, tags: int, fetched_at: datetime) -> tuple[Page, TableRows]:
    """A synthetic Qianfan-like page of `size` documents, each with `tags` tags."""
    kb_id = f"kb-{number % 20:02d}"
    records = [
        {
            "id": f"doc-{number:06d}-{index:04d}",
            "name": f"report-{index}.pdf",
            "createdAt": "2024-06-03T02:39:04Z",
            "displayStatus": "available",
            "wordCount": 1000 + index,
            "enabled": True,
            "meta": {
                "source": "upload_file",
                "fileId": f"file-{index}",
                "mimeType": "pdf",
                "fileSize": 760872,
            },
        }
        for index in range(size)
    ]
    documents = [
        {
            "source": "qianfan",
            "kb_id": kb_id,
            "doc_id": record["id"],
            "name": record["name"],
            "status_raw": "available",
            "status": "available",
            "word_count": record["wordCount"],
            "enabled": True,
            "origin": "upload_file",
            "file_id": record["meta"]["fileId"],
            "mime_type": "pdf",
            "file_size_bytes": 760872,
            "url": "https://copilot-engine-bos.bj.bcebos.com/upload_files/report.pdf",
            "created_at": datetime(2024, 6, 3, 2, 39, 4, tzinfo=UTC),
            "raw": record,
        }
        for record in records
    ]
    document_tags = [
        {
            "source": "qianfan",
            "kb_id": kb_id,
            "doc_id": record["id"],
            "tag_key": "topic",
            "tag_value": f"t{tag}",
        }
        for record in records
        for tag in range(tags)
    ]
    page = Page(
        source="qianfan",
        stream="qianfan.documents",
        partition=kb_id,
        records=records,
        fetched_at=fetched_at,
        request={"knowledgeBaseId": kb_id, "maxKeys": size},
        cursor={"marker": records[-1]["id"]},
        run_id="benchmark",
    )
    return page, {"documents": documents, "document_tags": document_tags}


def load_all(data_dir: str, pages: list[tuple[Page, TableRows]], rounds: int, batch: int) -> list[float]:
    """Seconds each round took to load every page, `batch` pages per transaction, under `data_dir`."""
    elapsed = []
    with Warehouse(data_dir) as warehouse:
        for _ in range(rounds):
            started = time.perf_counter()
            for start in range(0, len(pages), batch):
                warehouse.load_pages(pages[start : start + batch])
            elapsed.append(time.perf_counter() - started)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--tags", type=int, default=0, help="tags per document (document_tags rows)")
    parser.add_argument("--reload", action="store_true", help="load the same pages twice")
    parser.add_argument(
        "--batch",
        type=int,
        nargs="+",
        default=[1],
        help="pages per transaction (several sizes: one run each)",
    )
    args = parser.parse_args()

    pages = [
        document_page(number, args.page_size, args.tags, STARTED + timedelta(seconds=number))
        for number in range(args.pages)
    ]
    rows = args.pages * args.page_size
    for batch in args.batch:
        with tempfile.TemporaryDirectory() as data_dir:
            timings = load_all(data_dir, pages, 2 if args.reload else 1, batch)
        for label, seconds in zip(("first load", "reload"), timings, strict=False):
            print(
                f"batch {batch:>3}, {label}: {args.pages} pages x {args.page_size} documents "
                f"(+{args.tags} tags each): {rows / seconds:,.0f} document rows/s, "
                f"{seconds / args.pages * 1000:.2f} ms/page"
            )
    print(f"peak resident size: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")

    # Python heap, measured on a separate load: tracing allocations slows Python several-fold.
    with tempfile.TemporaryDirectory() as data_dir:
        tracemalloc.start()
        load_all(data_dir, pages, 1, max(args.batch))
        _, python_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(f"peak Python heap while loading (batch {max(args.batch)}): {python_peak / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
