"""Protects `kb-pipeline sql` as people and scripts use it: piped, the table is as wide as its data
(never folded to 80 columns); CSV, JSON and Markdown give back exactly the rows asked for; the
row limit applies where it says; and the door stays shut (a refused COPY writes nothing)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kb_pipeline.cli import app
from tests.empty_warehouse import insert_rows, open_empty_warehouse

runner = CliRunner()
LONG_NAME = "A knowledge base whose name is far longer than any eighty-column terminal would show | ok"
KBS = [
    {
        "source": "qianfan",
        "kb_id": f"kb-{n:02d}",
        "name": LONG_NAME if n == 0 else f"kb {n}",
        "file_count": n * 1000,
        "description": None,
        "raw": json.dumps({"id": f"kb-{n:02d}", "tags": ["a", "b"]}),
    }
    for n in range(60)
]
QUERY = "SELECT kb_id, name, file_count, description, raw FROM knowledge_bases ORDER BY kb_id"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sql") / "data"
    with open_empty_warehouse(directory) as warehouse:
        insert_rows(warehouse.connection, "knowledge_bases", KBS)
    return directory


def sql(data_dir: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["sql", *args, "--data-dir", str(data_dir)])
    return result.exit_code, result.stdout, result.stderr


def test_a_piped_table_is_as_wide_as_its_data(data_dir: Path) -> None:
    code, out, err = sql(data_dir, QUERY)
    assert code == 0, err
    lines = out.splitlines()
    assert any(LONG_NAME in line for line in lines)  # one line, not folded
    assert len({len(line) for line in lines}) == 1 and len(lines[0]) > 80
    assert len(lines) == 4 + 50  # top rule, header, header rule, 50 rows, bottom rule
    assert "10 more rows" in err and "more rows" not in out


def test_csv_gives_every_row_unless_limited(data_dir: Path) -> None:
    code, out, _ = sql(data_dir, QUERY, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["kb_id"] for row in rows] == [kb["kb_id"] for kb in KBS]
    assert rows[0]["name"] == LONG_NAME and rows[0]["description"] == ""
    assert rows[7]["file_count"] == "7000"
    code, out, err = sql(data_dir, QUERY, "--format", "csv", "--limit", "5")
    assert len(list(csv.DictReader(io.StringIO(out)))) == 5 and "55 more rows" in err


def test_json_is_an_array_with_typed_values_and_embedded_json(data_dir: Path) -> None:
    code, out, _ = sql(data_dir, QUERY, "-f", "json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == len(KBS)
    assert rows[3] == {
        "kb_id": "kb-03",
        "name": "kb 3",
        "file_count": 3000,
        "description": None,
        "raw": {"id": "kb-03", "tags": ["a", "b"]},
    }


def test_markdown_escapes_pipes_and_aligns_numbers(data_dir: Path) -> None:
    code, out, _ = sql(data_dir, QUERY, "--format", "markdown", "--limit", "3")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "| kb_id | name | file_count | description | raw |"
    assert lines[1] == "| --- | --- | ---: | --- | --- |"
    assert lines[2].startswith(f"| kb-00 | {LONG_NAME.replace('|', chr(92) + '|')} | 0 |  | ")
    assert len(lines) == 2 + 3


def test_an_unknown_format_and_a_refused_statement_are_one_line_each(data_dir: Path) -> None:
    code, out, err = sql(data_dir, "SELECT 1", "--format", "xml")
    assert code == 2 and "choose table, csv, json or markdown" in err and out == ""
    target = data_dir / "copied.csv"
    code, out, err = sql(data_dir, f"COPY knowledge_bases TO '{target}'")
    assert code == 2 and "COPY statement is refused" in err and "Traceback" not in err
    assert not target.exists()
