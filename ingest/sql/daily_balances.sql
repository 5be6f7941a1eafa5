-- PayPal's balance statement per currency and day: the opening balance, the day's activity by
-- kind, the closing balance PayPal reports, and whether opening + activity = closing.
--
-- Parameters: @start, @end (DATE), @sale_codes (ARRAY<STRING>), @balance_lookback_days (INT64):
-- how far back the last balance before the period is looked for.
--
-- Every record moves ending_balance by its gross plus its fee, pending ones too, and
-- ending_balance is the balance after it. The closing balance is the last record's; the opening
-- balance is the previous day's closing, or, before the first record of the account, that
-- record's balance less its net. A day whose records did not all load does not balance: the
-- difference is what is missing.
WITH records AS (
  SELECT
    gross_currency AS currency,
    transaction_initiation_date AS at,
    DATE(transaction_initiation_date) AS day,
    transaction_id,
    transaction_event_code AS code,
    transaction_status AS status,
    IFNULL(gross_amount, 0) AS gross,
    IFNULL(fee_amount, 0) AS fee,
    IFNULL(gross_amount, 0) + IFNULL(fee_amount, 0) AS net,
    ending_balance,
    _source_uri,
    _source_row
  FROM `${paypal_transactions}`
  WHERE gross_currency IS NOT NULL
    -- A denied payment never moved the balance.
    AND IFNULL(transaction_status, '') != 'D'
    AND transaction_initiation_date >= TIMESTAMP(DATE_SUB(@start, INTERVAL @balance_lookback_days DAY))
    AND transaction_initiation_date < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))
),

ties AS (
  -- The table does not keep PayPal's order among records of the same second, but balances
  -- do: a record comes after the one whose ending balance is where it started.
  SELECT
    r.currency,
    r.at,
    r.transaction_id,
    r.code,
    LOGICAL_OR(n.ending_balance - n.net = r.ending_balance) AS has_successor,
    LOGICAL_OR(r.ending_balance - r.net = n.ending_balance) AS has_predecessor
  FROM records AS r
  JOIN records AS n
    ON n.currency = r.currency
    AND n.at = r.at
    AND NOT (n.transaction_id = r.transaction_id AND n.code = r.code)
  GROUP BY r.currency, r.at, r.transaction_id, r.code
),

ordered AS (
  SELECT
    records.*,
    IFNULL(ties.has_successor, FALSE) AS has_successor,
    IFNULL(ties.has_predecessor, FALSE) AS has_predecessor
  FROM records
  LEFT JOIN ties USING (currency, at, transaction_id, code)
),

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
    SUM(IF(code IN UNNEST(@sale_codes), gross, 0)) AS gross_sales,
    SUM(fee) AS fees,
    SUM(IF(code = 'T1107', gross, 0)) AS refunds,
    SUM(IF(code = 'T1106', gross, 0)) AS reversals,
    SUM(IF(STARTS_WITH(code, 'T12'), gross, 0)) AS chargebacks,
    SUM(IF(STARTS_WITH(code, 'T04'), gross, 0)) AS withdrawals,
    SUM(
      IF(
        code IN UNNEST(@sale_codes) OR code IN ('T1107', 'T1106')
        OR STARTS_WITH(code, 'T12') OR STARTS_WITH(code, 'T04'),
        0,
        gross
      )
    ) AS other,
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
    IFNULL(d.withdrawals, 0) AS withdrawals,
    IFNULL(d.other, 0) AS other,
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
  withdrawals,
  other,
  activity,
  COALESCE(balance_after_last, opening_balance) AS closing_balance,
  COALESCE(balance_after_last, opening_balance) - (opening_balance + activity) AS difference,
  COALESCE(balance_after_last, opening_balance) = opening_balance + activity AS balanced,
  pending_gross,
  records
FROM days
WHERE day BETWEEN @start AND @end
