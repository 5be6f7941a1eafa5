-- The files the period's PayPal records and payment rows come from, by their lineage columns:
-- pipeline, URI, ETag and how many of the period's rows each holds. Each raw table is dated by
-- the column the models read it by.
--
-- Parameters: @start, @end (DATE).
SELECT 'paypal_transactions' AS pipeline, _source_uri AS source_uri, _source_etag AS source_etag,
  COUNT(*) AS rows_in_period
FROM `${paypal_transactions}`
WHERE transaction_initiation_date >= TIMESTAMP(@start)
  AND transaction_initiation_date < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))
GROUP BY source_uri, source_etag
UNION ALL
SELECT 'payment_transactions' AS pipeline, _source_uri AS source_uri, _source_etag AS source_etag,
  COUNT(*) AS rows_in_period
FROM `${payment_transactions}`
WHERE payment_date >= TIMESTAMP(@start) AND payment_date < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))
GROUP BY source_uri, source_etag
ORDER BY pipeline, source_uri
