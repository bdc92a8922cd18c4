"""kb-pipeline: knowledge-base inventories of RAG platforms, into DuckDB and Parquet."""
