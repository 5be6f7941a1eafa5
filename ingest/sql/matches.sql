-- PayPal's sale items matched to the game's payment rows, one row per pair or unpaired side,
-- dated by PayPal's booking day (our day when PayPal has no record).
--
-- Parameters: @start, @end (DATE), @late_window_days (INT64), @sale_codes (ARRAY<STRING>).
-- Both sides are read @late_window_days either side of the period, so an item pairs with a row
-- dated up to that many days away and the result for a day never depends on the period asked.
WITH paypal_items AS (
  SELECT
    p.transaction_id AS paypal_transaction_id,
    p.transaction_event_code AS paypal_event_code,
    p.transaction_status AS paypal_status,
    DATE(p.transaction_initiation_date) AS paypal_day,
    p.gross_currency AS currency,
    p.payer_country_code,
    p.payer_email_hash,
    item.item_code,
    item.product_name,
    -- A payment without a cart is still a sale; it cannot pair and shows as missing ours.
    COALESCE(item.item_amount, item.unit_price * item.quantity, p.gross_amount) AS paypal_amount
  FROM `${paypal_transactions}` AS p
  LEFT JOIN UNNEST(p.cart_items) AS item
  WHERE p.transaction_event_code IN UNNEST(@sale_codes)
    -- Completed payments are sales; pending ones are matched too, to say they are pending.
    AND p.transaction_status IN ('S', 'P')
    AND p.transaction_initiation_date >= TIMESTAMP(DATE_SUB(@start, INTERVAL @late_window_days DAY))
    AND p.transaction_initiation_date < TIMESTAMP(DATE_ADD(@end, INTERVAL @late_window_days + 1 DAY))
),

ours AS (
  SELECT
    transaction_id AS payment_transaction_id,
    CAST(transaction_item_id AS STRING) AS item_code,
    DATE(payment_date) AS our_day,
    total_cost AS our_amount,
    currency_code AS our_currency,
    country_code AS our_country_code
  FROM `${payment_transactions}`
  -- Failed and cancelled payments never happened (ingest.reconcile.PAYMENT_HAPPENED).
  WHERE ${payment_happened}
    AND payment_date >= TIMESTAMP(DATE_SUB(@start, INTERVAL @late_window_days DAY))
    AND payment_date < TIMESTAMP(DATE_ADD(@end, INTERVAL @late_window_days + 1 DAY))
),

paired AS (
  SELECT
    pp.*,
    o.* EXCEPT (item_code),
    COALESCE(pp.item_code, o.item_code) AS matched_item_code,
    DATE_DIFF(o.our_day, pp.paypal_day, DAY) AS days_late,
    -- An item id both sides repeat pairs once; the extra pairings are reported as duplicates.
    ROW_NUMBER() OVER (
      PARTITION BY pp.paypal_transaction_id, pp.item_code
      ORDER BY o.our_day, o.payment_transaction_id
    ) AS paypal_pairing,
    ROW_NUMBER() OVER (
      PARTITION BY o.payment_transaction_id
      ORDER BY pp.paypal_day, pp.paypal_transaction_id
    ) AS our_pairing
  FROM paypal_items AS pp
  FULL OUTER JOIN ours AS o
    ON o.item_code = pp.item_code
    AND ABS(DATE_DIFF(o.our_day, pp.paypal_day, DAY)) <= @late_window_days
)

SELECT
  COALESCE(paypal_day, our_day) AS day,
  CASE
    WHEN paypal_transaction_id IS NULL THEN 'missing_paypal'
    WHEN paypal_status = 'P' THEN 'pending'
    WHEN payment_transaction_id IS NULL THEN 'missing_ours'
    WHEN paypal_pairing > 1 OR our_pairing > 1 THEN 'duplicate'
    WHEN paypal_amount != our_amount OR currency != our_currency THEN 'amount_mismatch'
    WHEN days_late > 0 THEN 'late'
    ELSE 'matched'
  END AS status,
  paypal_transaction_id,
  paypal_event_code,
  paypal_status,
  paypal_day,
  matched_item_code AS item_code,
  product_name,
  COALESCE(currency, our_currency) AS currency,
  paypal_amount,
  payer_country_code,
  payer_email_hash,
  payment_transaction_id,
  our_day,
  our_amount,
  our_country_code,
  days_late
FROM paired
WHERE COALESCE(paypal_day, our_day) BETWEEN @start AND @end
