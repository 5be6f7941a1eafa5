-- Where PayPal's reported balance parts from the running balance: one row per record whose
-- ending_balance is not the previous record's (same currency) plus its own net. A day that does
-- not balance has its difference here, located at the record after which it appears; the report
-- then says whether records that did not load explain it, or PayPal's own figures.
--
-- Parameters: @start, @end (DATE), @balance_lookback_days (INT64), @sale_codes (ARRAY<STRING>).
WITH ${ordered_records},

chained AS (
  SELECT
    *,
    LAG(ending_balance) OVER (
      PARTITION BY currency ORDER BY at, has_predecessor, _source_uri, _source_row
    ) AS balance_before,
    LAG(transaction_id) OVER (
      PARTITION BY currency ORDER BY at, has_predecessor, _source_uri, _source_row
    ) AS previous_transaction_id,
    LAG(at) OVER (
      PARTITION BY currency ORDER BY at, has_predecessor, _source_uri, _source_row
    ) AS previous_at
  FROM ordered
  -- A record without a reported balance cannot be checked; the suite warns about it.
  WHERE ending_balance IS NOT NULL
)

SELECT
  day,
  currency,
  at,
  transaction_id AS paypal_transaction_id,
  code AS paypal_event_code,
  previous_transaction_id,
  previous_at,
  balance_before,
  net,
  balance_before + net AS expected_balance,
  ending_balance AS reported_balance,
  ending_balance - (balance_before + net) AS difference
FROM chained
WHERE day BETWEEN @start AND @end
  AND balance_before IS NOT NULL
  AND ending_balance != balance_before + net
