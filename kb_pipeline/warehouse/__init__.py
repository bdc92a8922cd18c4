"""Raw landing, validation, DuckDB merge, stream state and Parquet feeds."""
