"""The allocators the package sets when it loads (`kb_pipeline.allocators`) give back what is freed:
Arrow allocates from the C library, and blocks a thread frees go back to the system, where glibc on
its own keeps them resident. Each case runs in a fresh process, with the environment's own
settings of those allocators removed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb_pipeline.allocators import running_on_glibc

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ("ARROW_DEFAULT_MEMORY_POOL", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
LAND_A_PAGE = """
import json, sys
from pathlib import Path

from kb_pipeline.warehouse.raw_landing import write_page
from tests.warehouse.builders import page

import pyarrow

records = [{"id": f"doc-{i}", "name": "x" * 200} for i in range(5000)]
write_page(Path(sys.argv[1]) / "page.parquet", page(records=records), 1)
print(json.dumps({
    name: getattr(pyarrow, f"{name}_memory_pool")().max_memory()
    for name in ("system", "mimalloc", "jemalloc")
}))
"""
FREE_BETWEEN_SURVIVORS = """
import sys, threading

if sys.argv[1] == "package":
    import kb_pipeline

def resident_mib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024

survivors = []

def work():
    bytearray(8 << 20)  # one large block, freed at once: glibc raises its threshold to 8 MiB
    blocks = []
    for _ in range(64):  # a page's buffers, each followed by something small that lives on
        blocks.append(bytearray(1 << 20))
        survivors.append(bytes(2048))
    del blocks[:]

before = resident_mib()
thread = threading.Thread(target=work)
thread.start()
thread.join()
print(resident_mib() - before)
"""


def fresh_process(script: str, *args: str) -> str:
    """What `script` prints, run in a new interpreter that can import the package."""
    environment = {name: value for name, value in os.environ.items() if name not in SETTINGS}
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        env={**environment, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_landing_a_page_uses_only_the_system_allocator(tmp_path: Path) -> None:
    """The Parquet writer's own buffers too: `pyarrow.set_memory_pool` alone did not reach them,
    and mimalloc kept 30 to 40 MiB of them for the whole run."""
    peaks = json.loads(fresh_process(LAND_A_PAGE, str(tmp_path)))
    assert peaks["system"] > 0
    assert peaks["mimalloc"] == 0
    assert peaks["jemalloc"] == 0


@pytest.mark.skipif(not running_on_glibc(), reason="glibc's allocator only")
def test_blocks_freed_between_survivors_are_given_back() -> None:
    assert float(fresh_process(FREE_BETWEEN_SURVIVORS, "plain")) > 32  # glibc alone keeps them resident
    assert float(fresh_process(FREE_BETWEEN_SURVIVORS, "package")) < 8
