"""The benchmark harness: ours end to end against dlt, pandas-gbq and DuckDB's limit, on the local stack.

Run with ``make bench`` (full; about 55 minutes on 2 cores today, of which dlt on the big set
takes 10 a run) or ``make bench-quick`` (small sizes and 2 runs, about 3 minutes), or
``.venv/bin/python -m benchmarks.bench [--quick] [--runs N] [--only SECTION,...]`` from the repo
root. Starts its own local stack in a temporary folder, generates seeded PayPal Transaction Search
pages once (``ingest_devstack.generate.pages``, about 1.5 KB a record), uploads them to the lake
bucket (big set and small set under prefixes of their own) and keeps the same files on local disk
for DuckDB. Sections (``sections/``, one module each):

  e2e         ours: ``run_batch`` over each set; a fresh ledger table and target dataset per run,
              in one child process (``child.py``; the GX suite built before timing, as in a warm
              Lambda); files/s, rows/s, MB/s, load jobs, the per-stage split, peak RSS of each run.
  dlt         dlt's filesystem source reading the same moto bucket into its DuckDB destination,
              with its parquet loader file format (its best); full mode also runs its default
              (jsonl) on the small set. In a venv of its own (.local/bench-peers-venv).
  pandas      per file: get_object, ``read_json``, ``json_normalize``, ``to_gbq`` into the
              emulator, as a notebook would; on a labelled subset of the files where all of them
              would take too long.
  limit       DuckDB ``read_json`` of the local copies into a table of the same flat columns.
  memory      peak RSS ingesting a 1 GB NDJSON file and a 1 GB CSV file (the peak-memory
              tool's machinery, ``peak_memory/``; one run each).
  lambda      in a fresh process: ``import ingest.apps.lambda_handler``, Services and the GX suite
              (the cold start), then one direct S3 invocation per new 100-row file (warm per-file overhead).
  validation  the PayPal suite, Arrow and GX engines, on 1M typed PayPal rows (``gx_suite``'s data).

Every figure is the median of ``--runs`` runs (each run's raw value kept in the JSON). Prints one
table per section and a summary of ratios and targets, and writes ``reports/bench/results.json``.
Exits 0 when targets are missed (this is a measurement) and 1 when a run's row accounting is
wrong or a section could not run.

The package: ``__main__`` (arguments, the run, the JSON), ``config`` (sections, sizes, paths),
``harness`` (the run's state and what the sections share), ``files`` (the file sets),
``processes`` (children, the peers' venv, versions), ``summary`` (the pure figures, verdicts and
ratios), ``report`` (the tables), ``child`` (what runs in the children). Three tools also run on
their own: ``python -m benchmarks.bench.peak_memory`` (peak RSS against file size),
``python -m benchmarks.bench.gx_suite`` (the suite against hand-written pandas) and
``python -m benchmarks.bench.load_paths`` (load paths stage by stage).
"""
