"""Each way a user can get `kb-pipeline run` wrong, tried with the real command against a live sandbox:
one line naming what to fix, the documented exit code, no traceback, no summary of older data as
if the run had worked, and nothing half-written (a refused run writes nothing; a failed source or
partition leaves no rows and no cursor behind)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from kb_pipeline.demo import export_sandbox_environment, write_sandbox_config
from kb_pipeline.sandbox import SandboxServer
from kb_pipeline.warehouse import Warehouse

KB_PIPELINE = str(Path(sys.executable).with_name("kb-pipeline"))
SUMMARY = "warehouse:"
"""What the summary of the warehouse's tables starts with: printed only after a run that worked."""


@dataclass
class Case:
    """A bad input: how to make it from a good config, the words its message must hold, the exit code."""

    name: str
    spoil: Callable[[Path, SandboxServer], list[str]]
    says: list[str]
    code: int
    rows: dict[str, str] = field(default_factory=dict)
    """SQL counts the warehouse must answer with 0 afterwards (nothing half-written)."""


def edit(config: Path, change: Callable[[dict], None]) -> None:
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    change(document)
    config.write_text(yaml.safe_dump(document), encoding="utf-8")


def config_is_a_directory(config: Path, _: SandboxServer) -> list[str]:
    return ["run", "--config", str(config.parent)]


def no_sources(config: Path, _: SandboxServer) -> list[str]:
    edit(config, lambda document: document.update(sources={}))
    return ["run", "--config", str(config)]


def unwritable_data_dir(config: Path, _: SandboxServer) -> list[str]:
    occupied = config.parent / "occupied"
    occupied.write_text("a file where the data directory's parent should be", encoding="utf-8")
    edit(config, lambda document: document.update(data_dir=str(occupied / "data")))
    return ["run", "--config", str(config)]


def bogus_source(config: Path, _: SandboxServer) -> list[str]:
    return ["run", "--config", str(config), "--source", "bogus"]


def refused_pai_signature(config: Path, _: SandboxServer) -> list[str]:
    def wrong_secret(document: dict) -> None:
        document["sources"]["pai_langstudio"]["credentials"]["access_key_secret"] = "${KB_TEST_WRONG_SECRET}"

    edit(config, wrong_secret)
    return ["run", "--config", str(config), "--source", "pai_langstudio"]


def unknown_knowledge_base(config: Path, sandbox: SandboxServer) -> list[str]:
    known = sandbox.dataset.qianfan_knowledge_bases[0]["id"]
    edit(
        config,
        lambda document: document["sources"]["qianfan"].update(knowledge_base_ids=[known, "kb-no-such"]),
    )
    return ["run", "--config", str(config), "--source", "qianfan"]


CASES = [
    Case("config is a directory", config_is_a_directory, ["is a directory", "YAML"], 2),
    Case("config with no sources", no_sources, ["enables no source"], 2),
    Case("unwritable data directory", unwritable_data_dir, ["is not writable", "data_dir in"], 2),
    Case("--source bogus", bogus_source, ["unknown source", "bogus", "qianfan"], 2),
    Case(
        "refused PAI signature",
        refused_pai_signature,
        ["SignatureDoesNotMatch", "check KB_SANDBOX_PAI_ACCESS_KEY_ID and KB_TEST_WRONG_SECRET"],
        1,
        rows={
            "pai rows": "SELECT count(*) FROM knowledge_bases WHERE source = 'pai_langstudio'",
            "pai cursors": "SELECT count(*) FROM _kb.stream_state WHERE stream LIKE 'pai.%'",
        },
    ),
    Case(
        "unknown knowledge_base_ids entry",
        unknown_knowledge_base,
        ["qianfan.documents", "partition kb-no-such", "KnowledgeBaseNotFound", "sources.qianfan"],
        1,
        rows={
            "its documents": "SELECT count(*) FROM documents WHERE kb_id = 'kb-no-such'",
            "its cursor": "SELECT count(*) FROM _kb.stream_state WHERE partition = 'kb-no-such'",
        },
    ),
]


@pytest.fixture
def config(sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    export_sandbox_environment()
    monkeypatch.setenv("KB_TEST_WRONG_SECRET", "not-the-secret")
    return write_sandbox_config(sandbox.url, sandbox.dataset, tmp_path / "data")


def kb_pipeline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KB_PIPELINE, *args], capture_output=True, text=True, timeout=600)


def count(data_dir: Path, sql: str) -> int:
    with Warehouse(data_dir, read_only=True) as warehouse:
        return warehouse.query(sql).column(0)[0].as_py()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_bad_input_gets_one_line_and_leaves_nothing_half_written(
    case: Case, config: Path, sandbox: SandboxServer
) -> None:
    result = kb_pipeline(*case.spoil(config, sandbox))

    output = result.stdout + result.stderr
    assert result.returncode == case.code, output
    lines = [line for line in output.splitlines() if all(word in line for word in case.says)]
    assert len(lines) == 1, output
    assert "Traceback" not in output and "not-the-secret" not in output
    assert SUMMARY not in output
    data_dir = config.parent
    if case.code == 2:  # refused before anything ran
        assert not (data_dir / "warehouse.duckdb").exists() and not (data_dir / "raw").exists()
    for what, sql in case.rows.items():
        assert count(data_dir, sql) == 0, what


@contextmanager
def holding_the_warehouse(data_dir: Path) -> Iterator[subprocess.Popen]:
    """Another process with the warehouse open for writing, as a run or a rebuild would hold it."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom kb_pipeline.warehouse import Warehouse\n"
            "with Warehouse(sys.argv[1]):\n    print('open', flush=True)\n    time.sleep(600)",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "open\n"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def test_a_run_that_waits_for_the_lock_says_so_and_gives_up_at_lock_timeout(config: Path) -> None:
    with holding_the_warehouse(config.parent) as holder:
        started = time.monotonic()
        result = kb_pipeline("run", "--config", str(config), "--lock-timeout", "2")
        took = time.monotonic() - started

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    waiting = [line for line in output.splitlines() if "waiting up to 2 s for the write lock" in line]
    assert len(waiting) == 1 and f"PID {holder.pid}" in waiting[0], output
    assert len([line for line in output.splitlines() if "is locked by another process" in line]) == 1
    assert "Traceback" not in output and SUMMARY not in output
    assert took < 120
