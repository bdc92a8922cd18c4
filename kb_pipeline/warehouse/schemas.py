"""pandera schemas of the tables, generated from the contract in `tables.py` plus the value rules.

`SCHEMAS[table_name]` validates a pandas DataFrame holding a table's payload columns (typed with
pyarrow-backed dtypes, as `kb_pipeline.warehouse.batches` builds them and as
``to_pandas(types_mapper=pd.ArrowDtype)`` returns them); the bookkeeping columns may be present
too, so the same schema checks a table read back from DuckDB. `raw` holds JSON text.

Rules, beyond the column types: key columns are never null and unique within a page (the last
duplicate wins, the earlier ones fail; a key may repeat across the pages of one load); `source` is a registered vendor (`vendors.SOURCE_NAMES`); `documents.status` is
one of `DOCUMENT_STATUSES` and the job statuses one of `JOB_STATUSES`; `progress_pct` lies in
0–100; every BIGINT column (counts, sizes, seconds) and `duration_s` are at least 0.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from kb_pipeline.vendors import SOURCE_NAMES
from kb_pipeline.warehouse.arrow_types import ARROW_TYPES, PAGE_COLUMN
from kb_pipeline.warehouse.tables import BOOKKEEPING, DOCUMENT_STATUSES, JOB_STATUSES, TABLES, Table

COLUMN_RULES: dict[tuple[str, str], list[pa.Check]] = {
    ("documents", "status"): [pa.Check.isin(DOCUMENT_STATUSES)],
    ("jobs", "status"): [pa.Check.isin(JOB_STATUSES)],
    ("job_status_history", "status"): [pa.Check.isin(JOB_STATUSES)],
    ("jobs", "progress_pct"): [pa.Check.in_range(0, 100)],
    ("job_status_history", "progress_pct"): [pa.Check.in_range(0, 100)],
    ("jobs", "duration_s"): [pa.Check.ge(0)],
}
"""Value rules of single columns, beyond the ones every table shares (see `_checks`)."""


def _checks(table: Table, column: str, sql_type: str) -> list[pa.Check]:
    checks = list(COLUMN_RULES.get((table.name, column), ()))
    if column == "source":
        checks.append(pa.Check.isin(SOURCE_NAMES))
    if sql_type == "BIGINT":
        checks.append(pa.Check.ge(0))
    return checks


def schema_for(table: Table) -> pa.DataFrameSchema:
    """The pandera schema of one table of the contract."""
    columns = {
        name: pa.Column(
            pd.ArrowDtype(ARROW_TYPES[sql_type]),
            checks=_checks(table, name, sql_type),
            nullable=name not in table.key,
            required=name not in BOOKKEEPING,
        )
        for name, sql_type in table.columns.items()
    }
    return pa.DataFrameSchema(
        columns,
        name=table.name,
        unique=list(table.key),
        report_duplicates="exclude_last",
        coerce=True,
    )


def value_rules(schema: pa.DataFrameSchema) -> pa.DataFrameSchema:
    """The part of a schema that checks values, for batches whose types are already enforced.

    Keeps the columns that carry checks or must not be null, and the key uniqueness, scoped to
    one page (`PAGE_COLUMN`) so that the pages of a load validate together; drops dtype checks
    and coercion. `batches.build` types every value while it builds the Arrow batch (stricter
    than a dtype check: row by row), so validating the full schema again would only add
    pandera's per-column cost to every load.
    """
    columns = {
        name: pa.Column(checks=column.checks, nullable=column.nullable, required=column.required)
        for name, column in schema.columns.items()
        if column.checks or not column.nullable
    }
    return pa.DataFrameSchema(
        columns,
        name=schema.name,
        unique=[PAGE_COLUMN, *schema.unique],
        report_duplicates=schema.report_duplicates,
    )


SCHEMAS: dict[str, pa.DataFrameSchema] = {name: schema_for(table) for name, table in TABLES.items()}
LOAD_RULES: dict[str, pa.DataFrameSchema] = {name: value_rules(schema) for name, schema in SCHEMAS.items()}
