"""The ingestion ledger in DynamoDB: ``ledger`` (the store), ``claim_rules`` (who may take a file),
``items`` (the shape of each item), ``transactions`` (batch writes), ``codec`` (DynamoDB's typed
values and expressions) and ``table`` (the table's definition)."""
