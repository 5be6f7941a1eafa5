-- PayPal's records that moved money, in PayPal's order, per currency: a fragment of
-- daily_balances and balance_breaks (rendered into both where they name ordered_records).
--
-- Every record moves the ending balance of its currency by its gross plus its fee, pending ones
-- too; a denied record (status D) moved nothing. ending_balance is the balance after it.
-- Parameters: @start, @end (DATE), @balance_lookback_days (INT64), @sale_codes (ARRAY<STRING>).
records AS (
  SELECT
    gross_currency AS currency,
    transaction_initiation_date AS at,
    DATE(transaction_initiation_date) AS day,
    transaction_id,
    transaction_event_code AS code,
    ${event_class} AS class,
    transaction_status AS status,
    IFNULL(gross_amount, 0) AS gross,
    IFNULL(fee_amount, 0) AS fee,
    IFNULL(gross_amount, 0) + IFNULL(fee_amount, 0) AS net,
    ending_balance,
    _source_uri,
    _source_row
  FROM `${paypal_transactions}`
  WHERE gross_currency IS NOT NULL
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
)
