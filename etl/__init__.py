"""ETL: reads source files, validates them, and writes the DuckDB warehouse atomically."""
