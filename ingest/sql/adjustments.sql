-- Refunds (T1107), reversals (T1106) and chargebacks (T12xx), each linked to the payment it
-- takes back through paypal_reference_id: the country it inherits for VAT, its item and our row.
--
-- Parameters: @start, @end (DATE), @sale_codes (ARRAY<STRING>), @reference_lookback_days (INT64):
-- how far before the period an original payment is looked for (PayPal disputes run 180 days),
-- @late_window_days (INT64): how much later than PayPal our row of it may be dated.
WITH adjustments AS (
  SELECT
    DATE(transaction_initiation_date) AS day,
    CASE
      WHEN transaction_event_code = 'T1107' THEN 'refund'
      WHEN transaction_event_code = 'T1106' THEN 'reversal'
      ELSE 'chargeback'
    END AS kind,
    transaction_id AS paypal_transaction_id,
    transaction_event_code AS paypal_event_code,
    gross_currency AS currency,
    gross_amount AS amount,
    IFNULL(fee_amount, 0) AS fee,
    paypal_reference_id AS original_transaction_id
  FROM `${paypal_transactions}`
  WHERE (transaction_event_code IN ('T1107', 'T1106') OR STARTS_WITH(transaction_event_code, 'T12'))
    AND transaction_status = 'S'
    AND transaction_initiation_date >= TIMESTAMP(@start)
    AND transaction_initiation_date < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))
),

originals AS (
  SELECT
    p.transaction_id,
    DATE(p.transaction_initiation_date) AS original_day,
    p.payer_country_code,
    -- Refunds take back the whole payment; its first item stands for it in the exceptions.
    ARRAY_AGG(item.item_code IGNORE NULLS ORDER BY item.item_code LIMIT 1)[SAFE_OFFSET(0)] AS item_code
  FROM `${paypal_transactions}` AS p
  LEFT JOIN UNNEST(p.cart_items) AS item
  WHERE p.transaction_event_code IN UNNEST(@sale_codes)
    AND p.transaction_id IN (SELECT original_transaction_id FROM adjustments)
    AND p.transaction_initiation_date >= TIMESTAMP(DATE_SUB(@start, INTERVAL @reference_lookback_days DAY))
    AND p.transaction_initiation_date < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))
  GROUP BY p.transaction_id, original_day, p.payer_country_code
),

our_rows AS (
  SELECT
    CAST(transaction_item_id AS STRING) AS item_code,
    MIN(transaction_id) AS payment_transaction_id
  FROM `${payment_transactions}`
  WHERE CAST(transaction_item_id AS STRING) IN (SELECT item_code FROM originals)
    AND payment_date >= TIMESTAMP(
      DATE_SUB(@start, INTERVAL @reference_lookback_days + @late_window_days DAY)
    )
  GROUP BY item_code
)

SELECT
  a.day,
  a.kind,
  a.paypal_transaction_id,
  a.paypal_event_code,
  a.currency,
  a.amount,
  a.fee,
  a.original_transaction_id,
  o.original_day,
  o.transaction_id IS NOT NULL AS linked,
  o.payer_country_code AS country_code,
  o.item_code,
  r.payment_transaction_id
FROM adjustments AS a
LEFT JOIN originals AS o ON o.transaction_id = a.original_transaction_id
LEFT JOIN our_rows AS r ON r.item_code = o.item_code
