"""Coerce parsed records to a pipeline's BigQuery schema, one explicit rule per type.

``converters``: the per-type rules for one value; ``privacy``: redaction, pseudonyms, and emails
and phone numbers masked in free text; ``rows``: the row coercer, which turns chunks of records
into typed Arrow columns and rejected rows; ``arrow_casts``: the Arrow types of columns,
vectorised casts and the load table.
"""
