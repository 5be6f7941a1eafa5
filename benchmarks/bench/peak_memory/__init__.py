"""Peak RSS of ``ingest_file`` on large NDJSON and CSV files: ``python -m benchmarks.bench.peak_memory``.

``orders`` writes the files (two scratch pipelines, the same 11 columns), ``measure`` uploads one
and ingests it in a child process while sampling the child's memory, ``report`` prints the
tables and the problems. The harness's memory section uses the same parts on a 1 GB file of each
format.
"""
