"""The checks on every stream asset, evaluated on the warehouse right after the stream is loaded.

Per table the stream feeds (restricted to the stream's source): the rows satisfy the table's
pandera schema, and no natural key appears twice. Both run as SQL aggregates inside DuckDB
(`warehouse.schema_sql` translates the pandera rules), so a check's memory does not grow with
the table. Per stream: the data is fresh (rows seen or cursor moved within FRESH_WITHIN), nothing
went to quarantine in this run, and the live row count did not drop sharply against the previous
materialization. The last three only warn: they call for a look, not for distrust of the data.

The functions take `query` (SQL and parameters -> pyarrow.Table, as `Warehouse.query`), so they
run on the connection the caller holds: the single writer, inside a run. dagster-pandera's
Dagster types check DataFrames passed between steps, and these assets pass none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg

from kb_pipeline.sources import Stream
from kb_pipeline.warehouse.tables import TABLES
from kb_pipeline.warehouse.warehouse import Query

FRESH_WITHIN = timedelta(hours=26)
SHARP_DROP = 0.5
"""A stream whose live rows fall below this share of the previous materialization's is flagged."""

FRESH = "fresh"
NOTHING_QUARANTINED = "nothing_quarantined"
NO_SHARP_DROP = "no_sharp_drop"
FAILURE_SAMPLE = 10


def schema_check(table: str) -> str:
    return f"{table}_schema"


def unique_key_check(table: str) -> str:
    return f"{table}_unique_key"


def check_specs(key: dg.AssetKey, stream: Stream) -> list[dg.AssetCheckSpec]:
    specs = []
    for name in stream.tables:
        key_columns = ", ".join(TABLES[name].key)
        specs += [
            dg.AssetCheckSpec(
                schema_check(name),
                asset=key,
                description=f"`{name}` rows of this source pass its pandera schema",
            ),
            dg.AssetCheckSpec(
                unique_key_check(name), asset=key, description=f"no ({key_columns}) appears twice in `{name}`"
            ),
        ]
    hours = int(FRESH_WITHIN.total_seconds() // 3600)
    return [
        *specs,
        dg.AssetCheckSpec(
            FRESH, asset=key, description=f"rows seen or cursor moved within {hours} hours (warns)"
        ),
        dg.AssetCheckSpec(
            NOTHING_QUARANTINED, asset=key, description="no record of this run failed validation (warns)"
        ),
        dg.AssetCheckSpec(
            NO_SHARP_DROP,
            asset=key,
            description=f"live rows did not fall below {SHARP_DROP:.0%} of the previous materialization (warns)",
        ),
    ]


def live_rows(query: Query, table: str, source: str) -> int:
    """Rows of `table` for `source`, leaving out rows marked deleted where the table marks them."""
    live = " AND deleted_at IS NULL" if "deleted_at" in TABLES[table].columns else ""
    result = query(f"SELECT count(*) AS n FROM {table} WHERE source = ?{live}", [source])
    return int(result.column("n")[0].as_py())


def schema_result(query: Query, key: dg.AssetKey, table: str, source: str) -> dg.AssetCheckResult:
    """The table's pandera schema, checked on the source's stored rows by SQL inside DuckDB.

    pandera is imported on the first check, as the first stream ends, not before a run can start.
    """
    from kb_pipeline.warehouse import schema_sql

    found = schema_sql.violations(query, table, source, sample=FAILURE_SAMPLE)
    metadata: dict[str, dg.RawMetadataValue] = {"rows": found.rows, "failures": found.failures}
    if found.failures:
        metadata["failure_sample"] = dg.MetadataValue.json(found.sample)
    return dg.AssetCheckResult(
        asset_key=key, check_name=schema_check(table), passed=found.failures == 0, metadata=metadata
    )


def unique_key_result(query: Query, key: dg.AssetKey, table: str, source: str) -> dg.AssetCheckResult:
    """Keys stored twice, found by grouping the keys' hashes (8 bytes a row, where the keys
    themselves are strings: 273,000 tag keys did not fit DuckDB's 32 MB that way), then the keys
    of the hashes found twice, which tells a real duplicate from a collision."""
    columns = ", ".join(TABLES[table].key)
    duplicates = query(
        f"SELECT {columns}, count(*) AS copies FROM {table} WHERE source = ? AND hash({columns}) IN ("
        f"SELECT hash({columns}) FROM {table} WHERE source = ? GROUP BY ALL HAVING count(*) > 1) "
        f"GROUP BY ALL HAVING count(*) > 1 ORDER BY copies DESC LIMIT {FAILURE_SAMPLE}",
        [source, source],
    )
    metadata: dict[str, dg.RawMetadataValue] = {"duplicated_keys_sampled": duplicates.num_rows}
    if duplicates.num_rows:
        metadata["sample"] = dg.MetadataValue.json(duplicates.to_pylist())
    return dg.AssetCheckResult(
        asset_key=key, check_name=unique_key_check(table), passed=duplicates.num_rows == 0, metadata=metadata
    )


def last_extracted_at(query: Query, stream: Stream, source: str) -> datetime | None:
    """The later of the newest `last_seen_at` among the stream's rows and its newest cursor update."""
    tables = [table for table in stream.tables if "last_seen_at" in TABLES[table].columns]
    seen = [f"SELECT max(last_seen_at) AS seen_at FROM {table} WHERE source = ?" for table in tables]
    cursor = "SELECT max(updated_at) AS seen_at FROM _kb.stream_state WHERE stream = ?"
    result = query(
        f"SELECT max(seen_at) AS seen_at FROM ({' UNION ALL '.join([*seen, cursor])})",
        [*(source for _ in tables), stream.name],
    )
    return result.column("seen_at")[0].as_py()


def freshness_result(
    query: Query, key: dg.AssetKey, stream: Stream, source: str, now: datetime | None = None
) -> dg.AssetCheckResult:
    at = last_extracted_at(query, stream, source)
    age = (now or datetime.now(UTC)) - at if at else None
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=FRESH,
        passed=age is not None and age <= FRESH_WITHIN,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "last_extracted_at": at.isoformat() if at else "never",
            "hours_since": round(age.total_seconds() / 3600, 2) if age is not None else None,
        },
    )


def quarantine_result(key: dg.AssetKey, quarantined: dict[str, int]) -> dg.AssetCheckResult:
    total = sum(quarantined.values())
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=NOTHING_QUARANTINED,
        passed=total == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"quarantined": total, **{f"{table}.quarantined": n for table, n in quarantined.items()}},
        description=None if total == 0 else "see _kb.quarantine for the records and why they failed",
    )


def drop_result(key: dg.AssetKey, rows: int, previous: int | None) -> dg.AssetCheckResult:
    share = rows / previous if previous else None
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=NO_SHARP_DROP,
        passed=share is None or share >= SHARP_DROP,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "live_rows": rows,
            "previous_live_rows": previous if previous is not None else "no previous materialization",
            "share_of_previous": round(share, 4) if share is not None else None,
        },
    )


def evaluate(
    query: Query,
    key: dg.AssetKey,
    stream: Stream,
    source: str,
    *,
    selected: Iterable[str],
    rows: int,
    previous_rows: int | None,
    quarantined: dict[str, int] | None,
) -> Iterator[dg.AssetCheckResult]:
    """The results of the `selected` check names of one stream asset.

    `quarantined` (rows per table) is what this run's extraction set aside; None when the stream was
    not extracted in this run, and then there is no quarantine result to give.
    """
    wanted = set(selected)
    for table in stream.tables:
        if schema_check(table) in wanted:
            yield schema_result(query, key, table, source)
        if unique_key_check(table) in wanted:
            yield unique_key_result(query, key, table, source)
    if FRESH in wanted:
        yield freshness_result(query, key, stream, source)
    if NOTHING_QUARANTINED in wanted and quarantined is not None:
        yield quarantine_result(key, quarantined)
    if NO_SHARP_DROP in wanted:
        yield drop_result(key, rows, previous_rows)
