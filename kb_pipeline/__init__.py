"""kb-pipeline: knowledge-base inventories of RAG platforms, into DuckDB and Parquet."""

from kb_pipeline import allocators

allocators.configure()  # before any module of the package imports pyarrow (see allocators)
