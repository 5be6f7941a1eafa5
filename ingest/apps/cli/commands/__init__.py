"""The built-in ``ingest`` commands, one module per audience: ingestion, ledger, finance,
operations, tools."""
