"""The BigQuery warehouse: ``warehouse`` (the port the orchestrator writes through), ``load_jobs``
(idempotent load jobs), ``merge`` (staging to table, latest row per business key), ``tables``
(datasets, tables and their schemas), ``validation_results`` (the suite's results), ``queries``
(parameterised reads), ``errors`` (BigQuery's errors in ours) and ``sql/`` (every statement's text)."""
