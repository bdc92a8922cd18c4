"""Arrow allocates from the C library's allocator, which gives back what it frees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
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


def test_landing_a_page_uses_only_the_system_allocator(tmp_path: Path) -> None:
    """The Parquet writer's own buffers too: `pyarrow.set_memory_pool` alone did not reach them,
    and mimalloc kept 30 to 40 MiB of them for the whole run."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    environment.pop("ARROW_DEFAULT_MEMORY_POOL", None)
    result = subprocess.run(
        [sys.executable, "-c", LAND_A_PAGE, str(tmp_path)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    peaks = json.loads(result.stdout)
    assert peaks["system"] > 0
    assert peaks["mimalloc"] == 0
    assert peaks["jemalloc"] == 0
