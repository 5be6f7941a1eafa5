"""The built-in ``ingest`` commands, one module per audience: ingestion, finance, operations, tools."""
