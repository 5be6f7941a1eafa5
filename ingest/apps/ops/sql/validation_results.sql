-- The validation results of the files with the ledger keys @keys (uri#etag), one row per
-- expectation and validation. The columns leave out sample_rows: those are row data, never read
-- into a report.
--
-- Parameters: @keys (ARRAY<STRING>).
SELECT ${columns}
FROM `${table}`
WHERE ledger_key IN UNNEST(@keys)
