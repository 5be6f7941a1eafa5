"""Load test on the local stack: many files, duplicate deliveries, concurrent runners, exact accounting.

Run with ``make loadtest`` (``LOADTEST_ARGS="--files 1000"`` for a quick one) or
``.venv/bin/python -m benchmarks.loadtest --help`` from the repo root. Starts the local stack if it
is not running (and stops it again afterwards; a running one is reused and left running), then:

1. Plans and uploads ``--files`` files (default 10,000) with a thread pool, seeded and
   reproducible: PayPal Transaction Search pages (JSON array, NDJSON, concatenated JSON compact
   and pretty, some gzipped, some without an extension, some keys with spaces and non-ASCII
   characters) and the game's payments (Firehose streams of concatenated JSON or NDJSON with no
   extension, CSV exports, some gzipped, and Parquet exports), 5 to 50 rows each. A quarter of the
   good files carry one to three planted bad rows, which must be quarantined. 5% of the files are
   bad as a whole, of several kinds (truncated JSON array, truncated gzip, an empty object, a key
   no pipeline matches, a CSV with the wrong delimiter, binary garbage, every row bad, a broken
   concatenated object), each expected to fail with its own error type.
2. Starts ``--runners`` runner processes (default 4), each playing one Lambda container:
   ``ingest_devstack.worker.drain`` feeding ``ingest.apps.lambda_handler.handle`` batches of up to
   ``--batch-size`` messages gathered for up to ``--batching-window`` seconds.
3. Sends every file's S3 event (the real notification shape, key URL-encoded) one to three times,
   shuffled, to a queue of the run's own, keeping up to ``--backlog`` messages waiting (files
   land as fast as they are taken; ``--backlog 0`` sends everything at once; ``--rate N`` sends N
   a second instead, files landing on their own clock), and measures from the first delivery
   until the queue is drained. A file lands when its first event is sent.
   ``--mode backfill`` instead uploads the files with no event and enqueues them with
   ``ingest backfill``'s own code (``backfill.py``): one message per file; after the accounting,
   the backfill is run again and must enqueue nothing.
4. Checks the accounting against what it planted, from the ledger, BigQuery and the error
   bucket: every file has exactly one ledger FILE item with the expected outcome; per loadable file
   ``rows_in = rows_loaded + rows_quarantined`` with the planted bad rows quarantined and kept in
   the error bucket; BigQuery holds exactly the file's loaded rows under its ``_source_uri``,
   one per business key (duplicates loaded = 0) and no file went into two load jobs; bad files
   failed with their error type and their bytes kept; every delivery is accounted for (a claim,
   or a SKIPPED_DUPLICATE record), and the queue and its dead-letter queue are empty.

Prints throughput (files/s, rows/s), latency percentiles (landed -> loaded, claim -> loaded), the
load jobs used, where the CPU went (runners, moto, BigQuery emulator; the GX suite and the
BigQuery calls in the runners) and the checks, and writes ``reports/loadtest/result.json``.
Exits 0 if every check passes, 1 if not (a run that outlasts ``--timeout`` fails).

Cost, measured on 2 cores (docs/benchmarks.md, "The load test"): 10,000 files in event mode took 372 s
from the first delivery to drained (26.9 files/s) plus 79 s of upload; 1,000 files 37 s. moto is
the largest consumer (274 CPU-s of 608 at 10,000 files), then the runners (200) and the BigQuery
emulator (134).

Isolation: the run uses resources of its own, so runs repeat and never touch the demo's data:
a bucket without notifications, a queue and dead-letter queue, a ledger table, and copies of the
shipped pipelines (same key patterns, transforms, suites and write modes) whose tables, and the
validation results, go to a BigQuery dataset of the run. Keys are ``<pipeline key space>/
loadtest-<run id>/...``. All of it is removed afterwards unless ``--keep``. The runners and the
sender call SQS concurrently, as on AWS: the local stack's moto serialises its SQS operations
itself (``ingest_devstack/moto_emulator.py``, point 6).

The package: ``__main__`` (arguments; also the runner processes' entry), ``config`` (``Config``,
``Planned``, the bad-file kinds), ``files`` (planning and building the files), ``resources`` (what
a run creates and removes), ``queue`` (the queue's counts, the key in a message), ``runners`` (the runner
processes), ``deliveries`` (uploads and S3 events), ``backfill`` (backfill mode), ``run`` (one
whole run), ``accounting`` (the checks and measures) and ``report`` (result.json and the tables).
"""
