"""Measurements of the pipeline on the local stack, one package per tool, run from the repo root.

``python -m benchmarks.bench`` (``make bench``, ``make bench-quick``): ours against dlt, pandas-gbq
and DuckDB, with memory, Lambda cold start and validation sections. ``python -m benchmarks.loadtest``
(``make loadtest``): many files, duplicate deliveries, concurrent runners, exact accounting.
``peers/`` holds the scripts that run in the peers' own venv. Their data comes from
``ingest_devstack.generate``.
"""
