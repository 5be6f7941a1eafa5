"""Run a pipeline's Great Expectations suite on typed rows and split good rows from bad ones.

Suites are GX Core 1.x JSON files in ``expectations/``, one per pipeline, reviewed like code. Each
expectation's ``meta`` carries an ``id`` (named in quarantine reasons and reports); its GX
``severity`` says what a failure does:

- ``critical`` on a row-level expectation: the rows it flags are quarantined, the rest load;
- ``critical`` on a table-level expectation (row count, ...): the file fails;
- ``warning`` (or ``info``): reported (ledger, results table, ``ingest validate``), nothing held back.

Two engines evaluate a suite (``INGEST_VALIDATION_ENGINE``): ``arrow``, the default, evaluates
the expectation types our suites use with Arrow kernels, giving GX's results on pandas
(``arrow_checks``; a suite or run it cannot evaluate goes to GX), so a Lambda never imports GX;
``gx`` runs GX on an ephemeral context built from the JSON (no GX project folder). On GX,
failing rows are found by position from ``result_format="COMPLETE"``'s index list; asking GX for
``unexpected_index_column_names`` instead made 1M rows take 33 s rather than 3 s.

A GX run costs 0.2-0.6 s however few its rows, so on GX many small files are validated in one
run (``Suite.run_files``) on a variant of the suite that judges each file as if alone: uniqueness
is checked within each file, and a row count becomes a check of each file's count. A suite with
an expectation that cannot be judged per file that way is run file by file. Arrow judges each
file alone in one pass over all of them.

``suite`` loads a suite and runs it; ``arrow_checks`` is the Arrow engine; ``results`` holds
what a run found (checks, a file's validation); ``per_file`` rewrites a suite to judge many
files in one run on GX.
"""
