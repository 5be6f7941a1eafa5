"""The peers' scripts (dlt, DuckDB), run as files in a venv of their own: they import nothing of ours."""
