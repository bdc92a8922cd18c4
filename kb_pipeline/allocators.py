"""How the process's memory is allocated, set when the package loads, before anything large is.

A run's memory should follow what it is doing, not what it once did: the buffers of a page, a
commit or a Parquet file are freed as soon as they are written, and the allocator should give
them back. Two allocators kept them instead:

- Arrow's own pool (mimalloc in pyarrow's wheels) keeps what it frees for reuse: writing one
  Parquet file per landed page left 30 to 40 MiB resident in it for the whole run. pyarrow reads
  `ARROW_DEFAULT_MEMORY_POOL` once, when it loads (`pyarrow.set_memory_pool` later reaches only
  pyarrow's Python calls, not the C++ code of the Parquet writer), so Arrow is sent to the C
  library's allocator here, before any module of the package imports pyarrow.
- glibc serves a large block (128 KiB and more) from its own mapping, returned when freed, but
  once such a block is freed it raises that threshold to the block's size, and the next ones come
  from its heaps instead, between small blocks that live on. A freed block there stays resident,
  and each thread that allocated has a heap of its own: a 400,000-document run ended with 70 MiB
  free in them, against 27 for a small tenant. Fixed thresholds keep large blocks in mappings of
  their own and let the heaps shrink (BENCHMARKS.md, "Room in the window first, and glibc's
  thresholds fixed").

A setting the environment already makes (`ARROW_DEFAULT_MEMORY_POOL`, `MALLOC_MMAP_THRESHOLD_`,
`MALLOC_TRIM_THRESHOLD_`) is left as it is.
"""

from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""glibc's `mallopt` parameters (malloc.h)."""
LARGE_BLOCK_BYTES = 128 * 1024
"""glibc's own default for both thresholds, which `mallopt` also keeps from moving."""


def configure() -> None:
    """Arrow on the C library's allocator, and glibc's thresholds fixed (where the C library is glibc)."""
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    if not running_on_glibc():
        return
    mallopt = ctypes.CDLL(None).mallopt
    for variable, parameter in (
        ("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD),
        ("MALLOC_TRIM_THRESHOLD_", M_TRIM_THRESHOLD),
    ):
        if variable not in os.environ:
            mallopt(parameter, LARGE_BLOCK_BYTES)


def running_on_glibc() -> bool:
    """Whether the C library is glibc, whose `mallopt` parameters these are."""
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError, AttributeError):  # not a GNU system
        return False
