"""Metrics: DuckDB tables -> small tidy frames and statistics. Knows nothing of Streamlit or Plotly."""
