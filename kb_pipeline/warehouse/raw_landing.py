"""Raw landing: every page as received, one Parquet file per page, readable back as `Page` objects.

Layout: ``raw/<stream>/<partition or _>/<fetched_at>-<run_id>-<seq>.parquet`` (path parts
percent-encoded). One row per record: the record as JSON text plus the fetch metadata (run_id,
stream, source, partition, request, cursor, scan_end, fetched_at, seq, record_index), so the
files can be queried as they are (``read_parquet('raw/**/*.parquet')``). The whole page header is
also kept in the file's metadata, so a page without records (a last page that only closes a
scan) round-trips too. Files are written to a temporary name and renamed: a reader never sees
half a file, and the file names sort pages in the order they were fetched.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pyarrow
import pyarrow.parquet as pq

from kb_pipeline.normalize import redact_credentials, strip_credentials_in_text
from kb_pipeline.pages import Page, ScanEnd
from kb_pipeline.warehouse.times import in_utc

_HEADER_KEY = b"kb_pipeline.page"
_STAMP = "%Y%m%dT%H%M%S%fZ"
_SCHEMA = pyarrow.schema(
    [
        ("seq", pyarrow.int64()),
        ("record_index", pyarrow.int32()),
        ("record", pyarrow.string()),
        ("run_id", pyarrow.string()),
        ("source", pyarrow.string()),
        ("stream", pyarrow.string()),
        ("partition", pyarrow.string()),
        ("request", pyarrow.string()),
        ("cursor", pyarrow.string()),
        ("scan_end", pyarrow.string()),
        ("fetched_at", pyarrow.timestamp("us", tz="UTC")),
    ]
)


def _dump(value: Any) -> str:
    return orjson.dumps(value).decode()


def _scan_end_json(scan_end: ScanEnd | None) -> dict[str, Any] | None:
    if scan_end is None:
        return None
    return {
        "table": scan_end.table,
        "scan_started_at": scan_end.scan_started_at.astimezone(UTC).isoformat(),
        "partition_column": scan_end.partition_column,
        "partition": scan_end.partition,
    }


def _segment(text: str) -> str:
    """`text` as one safe path segment: percent-encoded, never empty, never `.` or `..`."""
    encoded = quote(text, safe="")
    if encoded in ("", ".", ".."):
        return encoded.replace(".", "%2E") or "_"
    return encoded


def page_path(raw_dir: Path, page: Page, seq: int) -> Path:
    """Where page number `seq` lands."""
    stamp = page.fetched_at.astimezone(UTC).strftime(_STAMP)
    name = f"{stamp}-{_segment(page.run_id)}-{seq:010d}.parquet"
    return raw_dir / _segment(page.stream) / _segment(page.partition) / name


def write_page(path: Path, page: Page, seq: int) -> None:
    """Write `page` to `path` atomically (temporary file, then rename)."""
    header = {
        "source": page.source,
        "stream": page.stream,
        "partition": page.partition,
        "fetched_at": page.fetched_at.astimezone(UTC).isoformat(),
        "request": redact_credentials(page.request),
        "cursor": page.cursor,
        "scan_end": _scan_end_json(page.scan_end),
        "run_id": page.run_id,
        "seq": seq,
    }
    count = len(page.records)
    repeated = {
        "seq": [seq] * count,
        "run_id": [page.run_id] * count,
        "source": [page.source] * count,
        "stream": [page.stream] * count,
        "partition": [page.partition] * count,
        "request": [_dump(header["request"])] * count,
        "cursor": [None if page.cursor is None else _dump(page.cursor)] * count,
        "scan_end": [None if page.scan_end is None else _dump(header["scan_end"])] * count,
        "fetched_at": [in_utc(page.fetched_at)] * count,
    }
    table = pyarrow.table(
        {
            **repeated,
            "record_index": list(range(count)),
            "record": [strip_credentials_in_text(_dump(record)) for record in page.records],
        },
        schema=_SCHEMA,
    ).replace_schema_metadata({_HEADER_KEY: orjson.dumps(header)})
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        pq.write_table(table, temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def remove_page(raw_dir: Path, path: Path) -> None:
    """Remove a landed page that did not commit, and the folders it leaves empty under `raw_dir`."""
    path.unlink(missing_ok=True)
    for folder in path.parents:
        if folder == raw_dir or raw_dir not in folder.parents or any(folder.iterdir()):
            return
        folder.rmdir()


def read_page(path: Path) -> Page:
    """The page landed in `path`, as it was given to the warehouse (credentials stripped)."""
    table = pq.read_table(path, columns=["record"])
    header = orjson.loads(table.schema.metadata[_HEADER_KEY])
    scan_end = header["scan_end"]
    return Page(
        source=header["source"],
        stream=header["stream"],
        partition=header["partition"],
        records=[orjson.loads(text) for text in table.column("record").to_pylist()],
        fetched_at=datetime.fromisoformat(header["fetched_at"]),
        request=header["request"],
        cursor=header["cursor"],
        scan_end=None
        if scan_end is None
        else ScanEnd(
            table=scan_end["table"],
            scan_started_at=datetime.fromisoformat(scan_end["scan_started_at"]),
            partition_column=scan_end["partition_column"],
            partition=scan_end["partition"],
        ),
        run_id=header["run_id"],
    )


def _order(path: Path) -> tuple[str, int]:
    stem = path.stem
    return stem.partition("-")[0], int(stem.rpartition("-")[2])


def landed_paths(raw_dir: Path) -> list[Path]:
    """Every landed page file, in the order the pages were fetched (fetched_at, then seq)."""
    if not raw_dir.is_dir():
        return []
    return sorted((p for p in raw_dir.rglob("*.parquet") if not p.name.startswith(".")), key=_order)


def iter_raw_pages(raw_dir: Path) -> Iterator[Page]:
    """The landed pages in fetch order, one at a time (memory bounded by one page)."""
    for path in landed_paths(raw_dir):
        yield read_page(path)
