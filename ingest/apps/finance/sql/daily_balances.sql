-- PayPal's balance statement per currency and day: the opening balance, the day's activity by
-- kind of record, the closing balance PayPal reports, and whether opening + activity = closing.
--
-- Parameters: @start, @end (DATE), @sale_codes (ARRAY<STRING>), @balance_lookback_days (INT64):
-- how far back the last balance before the period is looked for.
--
-- The closing balance is the day's last record's ending_balance; the opening balance is the
-- previous day's closing, or, before the first record of the account, that record's balance
-- less its net. Every record counts under its class (ingest.paypal): a code the reconciliation
-- has no class for counts as `unknown`, never nowhere. When a day does not balance,
-- balance_breaks names the record where PayPal's figures part from the running balance.
WITH ${ordered_records},

per_day AS (
  SELECT
    currency,
    day,
    ARRAY_AGG(
      ending_balance - net IGNORE NULLS
      ORDER BY at, has_predecessor, _source_uri, _source_row LIMIT 1
    )[SAFE_OFFSET(0)] AS balance_before_first,
    ARRAY_AGG(
      ending_balance IGNORE NULLS
      ORDER BY at DESC, has_successor, _source_uri DESC, _source_row DESC LIMIT 1
    )[SAFE_OFFSET(0)] AS balance_after_last,
    COUNT(*) AS records,
    SUM(IF(class = 'sale', gross, 0)) AS gross_sales,
    SUM(fee) AS fees,
    SUM(IF(class = 'refund', gross, 0)) AS refunds,
    SUM(IF(class = 'reversal', gross, 0)) AS reversals,
    SUM(IF(class = 'chargeback', gross, 0)) AS chargebacks,
    SUM(IF(class = 'chargeback_reversal', gross, 0)) AS chargeback_reversals,
    SUM(IF(class = 'chargeback_fee', gross, 0)) AS chargeback_fees,
    SUM(IF(class IN ('hold', 'hold_release'), gross, 0)) AS holds,
    SUM(IF(class = 'conversion', gross, 0)) AS conversions,
    SUM(IF(class = 'withdrawal', gross, 0)) AS withdrawals,
    SUM(IF(class = 'other', gross, 0)) AS other,
    SUM(IF(class = 'unknown', gross, 0)) AS unknown,
    SUM(IF(status = 'P', gross, 0)) AS pending_gross,
    SUM(net) AS activity
  FROM ordered
  GROUP BY currency, day
),

calendar AS (
  SELECT currency, day
  FROM (SELECT DISTINCT currency FROM records)
  CROSS JOIN UNNEST(GENERATE_DATE_ARRAY(DATE_SUB(@start, INTERVAL @balance_lookback_days DAY), @end)) AS day
),

days AS (
  SELECT
    c.currency,
    c.day,
    d.balance_after_last,
    COALESCE(
      LAST_VALUE(d.balance_after_last IGNORE NULLS) OVER (
        PARTITION BY c.currency ORDER BY c.day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
      ),
      FIRST_VALUE(d.balance_before_first IGNORE NULLS) OVER (
        PARTITION BY c.currency ORDER BY c.day ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING
      )
    ) AS opening_balance,
    IFNULL(d.records, 0) AS records,
    IFNULL(d.gross_sales, 0) AS gross_sales,
    IFNULL(d.fees, 0) AS fees,
    IFNULL(d.refunds, 0) AS refunds,
    IFNULL(d.reversals, 0) AS reversals,
    IFNULL(d.chargebacks, 0) AS chargebacks,
    IFNULL(d.chargeback_reversals, 0) AS chargeback_reversals,
    IFNULL(d.chargeback_fees, 0) AS chargeback_fees,
    IFNULL(d.holds, 0) AS holds,
    IFNULL(d.conversions, 0) AS conversions,
    IFNULL(d.withdrawals, 0) AS withdrawals,
    IFNULL(d.other, 0) AS other,
    IFNULL(d.unknown, 0) AS unknown,
    IFNULL(d.pending_gross, 0) AS pending_gross,
    IFNULL(d.activity, 0) AS activity
  FROM calendar AS c
  LEFT JOIN per_day AS d USING (currency, day)
)

SELECT
  day,
  currency,
  opening_balance,
  gross_sales,
  fees,
  refunds,
  reversals,
  chargebacks,
  chargeback_reversals,
  chargeback_fees,
  holds,
  conversions,
  withdrawals,
  other,
  unknown,
  activity,
  COALESCE(balance_after_last, opening_balance) AS closing_balance,
  COALESCE(balance_after_last, opening_balance) - (opening_balance + activity) AS difference,
  COALESCE(balance_after_last, opening_balance) = opening_balance + activity AS balanced,
  pending_gross,
  records
FROM days
WHERE day BETWEEN @start AND @end
