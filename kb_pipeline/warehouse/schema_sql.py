"""A table's pandera schema checked where the table lives: as SQL aggregates inside DuckDB.

A stored table may hold millions of rows, so it is never read into Python to be validated. Each
rule of `schemas.SCHEMAS[table]` becomes a predicate that holds for the rows breaking it: a
column's type (against the catalog), not null, and the value checks `isin`, `in_range` and
`greater_than_or_equal_to`. One scan counts every rule's failures; only a failing rule is then
sampled. The same schema objects validate incoming pages (`batches`), so the rules have one home;
a check pandera gains that is not translated here raises at import instead of passing unseen.
Key uniqueness is left to its own check (one GROUP BY on the key).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.pandas as pa

from kb_pipeline.warehouse.schemas import SCHEMAS
from kb_pipeline.warehouse.tables import TABLES
from kb_pipeline.warehouse.warehouse import Query


@dataclass(frozen=True, slots=True)
class Rule:
    column: str
    check: str
    """The rule as pandera names it, e.g. ``isin(('queued', ...))`` or ``not_nullable``."""
    failing: str
    """SQL that is true for a row breaking the rule (NULL values pass value checks, as in pandera)."""


@dataclass(frozen=True, slots=True)
class Violations:
    """What a table's rows of one source break: rows checked, failures, and a sample of them."""

    rows: int
    failures: int
    sample: list[dict[str, str]]


def _literal(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NotImplementedError(f"no SQL literal for {value!r}")
    return repr(value)


def _failing(column: str, check: pa.Check) -> str:
    name, stats, quoted = check.name, check.statistics, f'"{column}"'
    if name == "isin":
        return f"{quoted} NOT IN ({', '.join(_literal(v) for v in stats['allowed_values'])})"
    if name == "in_range":
        low = ">=" if stats["include_min"] else ">"
        high = "<=" if stats["include_max"] else "<"
        return (
            f"NOT ({quoted} {low} {_literal(stats['min_value'])} "
            f"AND {quoted} {high} {_literal(stats['max_value'])})"
        )
    if name == "greater_than_or_equal_to":
        return f"{quoted} < {_literal(stats['min_value'])}"
    raise NotImplementedError(f"pandera check {name!r} on {column!r} has no SQL translation")


def rules_of(schema: pa.DataFrameSchema) -> list[Rule]:
    """The schema's column rules as SQL predicates."""
    rules = []
    for column, spec in schema.columns.items():
        if not spec.nullable:
            rules.append(Rule(column, "not_nullable", f'"{column}" IS NULL'))
        rules += [Rule(column, check.error or check.name, _failing(column, check)) for check in spec.checks]
    return rules


RULES: dict[str, list[Rule]] = {name: rules_of(schema) for name, schema in SCHEMAS.items()}


def _type_mismatches(query: Query, table: str) -> list[dict[str, str]]:
    """Columns of the contract that are missing or stored with another type than the contract's."""
    expected = " UNION ALL ".join(
        f"SELECT {_literal(column)} AS column_name, typeof(NULL::{sql_type}) AS data_type"
        for column, sql_type in TABLES[table].columns.items()
    )
    mismatched = query(
        f"""SELECT e.column_name, e.data_type AS expected, coalesce(c.data_type, 'missing') AS stored
            FROM ({expected}) AS e LEFT JOIN duckdb_columns() AS c
              ON c.column_name = e.column_name AND c.table_name = ? AND c.schema_name = 'main'
             AND c.database_name = current_database()
            WHERE c.data_type IS DISTINCT FROM e.data_type""",
        [table],
    )
    return [
        {"column": row["column_name"], "check": f"dtype('{row['expected']}')", "failure_case": row["stored"]}
        for row in mismatched.to_pylist()
    ]


def violations(query: Query, table: str, source: str, *, sample: int = 10) -> Violations:
    """Check `table`'s rows of `source` against its schema in DuckDB; at most `sample` failures listed."""
    mismatches = _type_mismatches(query, table)
    if mismatches:  # the value rules may not even bind: report the types alone
        (rows,) = query(f'SELECT count(*) AS n FROM "{table}" WHERE source = ?', [source]).column("n")
        return Violations(rows.as_py(), len(mismatches), mismatches[:sample])
    rules = RULES[table]
    counts = "".join(f", count(*) FILTER (WHERE {rule.failing}) AS r{i}" for i, rule in enumerate(rules))
    totals = query(f'SELECT count(*) AS n{counts} FROM "{table}" WHERE source = ?', [source]).to_pylist()[0]
    failing = [(rule, totals[f"r{i}"]) for i, rule in enumerate(rules) if totals[f"r{i}"]]
    listed: list[dict[str, str]] = []
    for rule, _ in failing:
        if len(listed) >= sample:
            break
        cases = query(
            f"""SELECT DISTINCT CAST("{rule.column}" AS VARCHAR) AS failure_case FROM "{table}"
                WHERE source = ? AND ({rule.failing}) LIMIT {sample - len(listed)}""",
            [source],
        )
        listed += [
            {"column": rule.column, "check": rule.check, "failure_case": str(case)}
            for case in cases.column("failure_case").to_pylist()
        ]
    return Violations(totals["n"], sum(n for _, n in failing), listed)
