"""Blocks a thread frees go back to the system once the package is loaded (`kb_pipeline.allocators`),
where glibc on its own keeps them resident: a fresh process each, with and without the package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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


def kept_mib(mode: str) -> float:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    for variable in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        environment.pop(variable, None)
    result = subprocess.run(
        [sys.executable, "-c", FREE_BETWEEN_SURVIVORS, mode],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout)


@pytest.mark.skipif(
    not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"), reason="glibc's allocator only"
)
def test_blocks_freed_between_survivors_are_given_back() -> None:
    assert kept_mib("plain") > 32  # glibc alone keeps the freed blocks resident
    assert kept_mib("package") < 8
