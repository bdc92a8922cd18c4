"""kb-pipeline: knowledge-base inventories of RAG platforms, into DuckDB and Parquet."""

import os

# pyarrow allocates from its own pool (mimalloc in these wheels), which keeps what it frees for
# reuse: writing one Parquet file per landed page left 30 to 40 MiB resident in it for the whole
# run. The C library's allocator gives memory back. pyarrow reads this variable once, when it
# loads (`pyarrow.set_memory_pool` later reaches only pyarrow's Python calls, not the C++ code of
# the Parquet writer), so it is set here, before any module of the package imports pyarrow.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
