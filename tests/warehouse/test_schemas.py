"""The pandera schemas: one per table of the contract, with the value rules the loads rely on."""

from __future__ import annotations

import pandas as pd
import pandera.errors
import pytest

from kb_pipeline.warehouse import Warehouse
from kb_pipeline.warehouse.schemas import LOAD_RULES, PAGE_COLUMN, SCHEMAS
from kb_pipeline.warehouse.tables import TABLES
from tests.warehouse.builders import at, chunk_count, document, job, page


def test_a_value_of_another_type_is_rejected() -> None:
    frame = pd.DataFrame([document("a") | {"word_count": "many"}]).drop(columns=["raw"])
    with pytest.raises(pandera.errors.SchemaErrors) as raised:
        SCHEMAS["documents"].validate(frame, lazy=True)
    assert "word_count" in set(raised.value.failure_cases["column"])


def test_tables_read_back_from_duckdb_pass_their_schema(warehouse: Warehouse) -> None:
    warehouse.load_page(
        page(fetched_at=at(0)), {"documents": [document("a"), document("b", word_count=None)]}
    )
    warehouse.load_page(page("pai.jobs", "d-ksicx823d", fetched_at=at(1)), {"jobs": [job("j1")]})
    warehouse.load_page(
        page("vikingdb.collections", "", fetched_at=at(2)), {"chunk_counts": [chunk_count("c", at(2), 4)]}
    )
    for name in TABLES:
        frame = warehouse.query(f"SELECT * FROM {name}").to_pandas(types_mapper=pd.ArrowDtype)
        SCHEMAS[name].validate(frame, lazy=True)


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("documents", "status", "indexing"),
        ("documents", "source", "aliyun"),
        ("documents", "file_size_bytes", -1),
        ("jobs", "status", "Success"),
        ("jobs", "progress_pct", 100.5),
        ("jobs", "duration_s", -3.0),
        ("chunk_counts", "chunk_count", -10),
        ("job_status_history", "status", "pending"),
    ],
)
def test_rules_reject_out_of_contract_values(table: str, column: str, value: object) -> None:
    valid = {"documents": document("a"), "jobs": job("j"), "chunk_counts": chunk_count("c", at(0), 1)}.get(
        table, {"source": "vikingdb", "job_id": "t", "observed_at": at(0), "status": "running"}
    )
    frame = pd.DataFrame([valid | {column: value}]).drop(columns=["raw"], errors="ignore")
    with pytest.raises(pandera.errors.SchemaErrors) as raised:
        SCHEMAS[table].validate(frame, lazy=True)
    assert column in set(raised.value.failure_cases["column"])


def test_keys_must_be_present_and_unique() -> None:
    frame = pd.DataFrame([document("a"), document("a"), document(None)]).drop(columns=["raw"])
    with pytest.raises(pandera.errors.SchemaErrors) as raised:
        SCHEMAS["documents"].validate(frame, lazy=True)
    failures = raised.value.failure_cases
    assert set(failures["check"]) >= {"not_nullable", "multiple_fields_uniqueness"}
    assert 0 in set(failures.loc[failures["check"] == "multiple_fields_uniqueness", "index"])


def test_load_rules_keep_every_check_of_the_full_schemas() -> None:
    for name, schema in SCHEMAS.items():
        rules = LOAD_RULES[name]
        for column, spec in schema.columns.items():
            if spec.checks or not spec.nullable:
                assert [str(check) for check in rules.columns[column].checks] == [str(c) for c in spec.checks]
                assert rules.columns[column].nullable == spec.nullable
        assert rules.unique == [PAGE_COLUMN, *schema.unique]
