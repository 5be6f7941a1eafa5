-- PayPal's sale items matched to the game's payment rows, one row per pair or unpaired side,
-- dated by PayPal's booking day (our day when PayPal has no record).
--
-- Parameters: @start, @end (DATE), @late_window_days (INT64), @sale_codes (ARRAY<STRING>).
-- Both sides are read @late_window_days either side of the period, so an item pairs with a row
-- dated up to that many days away and the result for a day never depends on the period asked.
--
-- Like with like: PayPal's gross for a cart is its items plus shipping, handling, insurance and
-- tax, less discounts, and the game records what the buyer paid for each item. So each item is
-- compared with its share of the gross: the cart's gross is allocated to its items in proportion
-- to their item amounts (items in item_code order, each share rounded to the cent, the last item
-- taking the remainder, so the shares add up to the gross exactly). When the amounts differ,
-- mismatch_component names what differs.
WITH sales AS (
  SELECT
    p.transaction_id AS paypal_transaction_id,
    p.transaction_event_code AS paypal_event_code,
    p.transaction_status AS paypal_status,
    DATE(p.transaction_initiation_date) AS paypal_day,
    p.gross_currency AS currency,
    NULLIF(TRIM(p.payer_country_code), '') AS payer_country_code,
    p.payer_email_hash,
    p.gross_amount AS gross,
    IFNULL(p.shipping_amount, 0) AS shipping,
    IFNULL(p.insurance_amount, 0) AS insurance,
    IFNULL(p.sales_tax_amount, 0) AS tax,
    IFNULL(p.discount_amount, 0) + IFNULL(p.shipping_discount_amount, 0) AS discount,
    p.cart_items
  FROM `${paypal_transactions}` AS p
  WHERE p.transaction_event_code IN UNNEST(@sale_codes)
    -- Completed (S) and later reversed (V) payments are sales; pending (P) ones are matched too,
    -- to say they are pending. A denied (D) payment never happened.
    AND p.transaction_status IN ('S', 'P', 'V')
    AND p.transaction_initiation_date >= TIMESTAMP(DATE_SUB(@start, INTERVAL @late_window_days DAY))
    AND p.transaction_initiation_date < TIMESTAMP(DATE_ADD(@end, INTERVAL @late_window_days + 1 DAY))
),

items AS (
  SELECT
    s.* EXCEPT (cart_items),
    item.item_code,
    item.product_name,
    item.quantity AS paypal_quantity,
    COALESCE(item.item_amount, item.unit_price * item.quantity) AS paypal_item_amount,
    IFNULL(item.handling_amount, 0) AS handling
  -- A payment without a cart is still a sale: one row, no item, the whole gross.
  FROM sales AS s
  LEFT JOIN UNNEST(s.cart_items) AS item
),

weighed AS (
  SELECT
    *,
    SUM(IFNULL(paypal_item_amount, 0)) OVER (PARTITION BY paypal_transaction_id) AS cart_amount,
    COUNT(*) OVER (PARTITION BY paypal_transaction_id) AS cart_lines,
    ROW_NUMBER() OVER (
      PARTITION BY paypal_transaction_id ORDER BY item_code, paypal_item_amount
    ) AS line
  FROM items
),

rounded AS (
  SELECT
    *,
    -- Items without amounts share the gross equally. The cast keeps the share exact where an
    -- engine types NUMERIC / NUMERIC as FLOAT64 (the local emulator does; BigQuery does not).
    CAST(
      ROUND(
        IF(
          cart_amount > 0,
          gross * IFNULL(paypal_item_amount, 0) / cart_amount,
          gross / cart_lines
        ),
        2
      ) AS NUMERIC
    ) AS rounded_share
  FROM weighed
),

paypal_items AS (
  SELECT
    * EXCEPT (rounded_share),
    IF(
      line = cart_lines,
      gross - IFNULL(
        SUM(rounded_share) OVER (
          PARTITION BY paypal_transaction_id ORDER BY line
          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ),
        0
      ),
      rounded_share
    ) AS paypal_amount
  FROM rounded
),

ours AS (
  SELECT
    transaction_id AS payment_transaction_id,
    CAST(transaction_item_id AS STRING) AS item_code,
    DATE(payment_date) AS our_day,
    total_cost AS our_amount,
    item_count AS our_quantity,
    currency_code AS our_currency,
    NULLIF(TRIM(country_code), '') AS our_country_code
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
),

judged AS (
  SELECT
    *,
    CASE
      WHEN paypal_transaction_id IS NULL THEN 'missing_paypal'
      WHEN paypal_status = 'P' THEN 'pending'
      WHEN payment_transaction_id IS NULL THEN 'missing_ours'
      WHEN paypal_pairing > 1 OR our_pairing > 1 THEN 'duplicate'
      WHEN paypal_amount != our_amount OR currency != our_currency THEN 'amount_mismatch'
      WHEN days_late > 0 THEN 'late'
      ELSE 'matched'
    END AS status
  FROM paired
)

SELECT
  COALESCE(paypal_day, our_day) AS day,
  status,
  paypal_transaction_id,
  paypal_event_code,
  paypal_status,
  paypal_day,
  matched_item_code AS item_code,
  product_name,
  COALESCE(currency, our_currency) AS currency,
  paypal_amount,
  paypal_item_amount,
  paypal_quantity,
  payer_country_code,
  payer_email_hash,
  payment_transaction_id,
  our_day,
  our_amount,
  our_quantity,
  our_country_code,
  days_late,
  IF(
    status = 'amount_mismatch',
    CASE
      WHEN currency != our_currency THEN 'currency'
      WHEN our_quantity != paypal_quantity THEN 'quantity'
      -- Ours is the goods alone: PayPal's gross has more (or less) than the item amount.
      WHEN our_amount = paypal_item_amount AND paypal_amount > paypal_item_amount THEN
        CASE
          WHEN shipping > 0 THEN 'shipping'
          WHEN tax > 0 THEN 'tax'
          WHEN handling > 0 THEN 'handling'
          WHEN insurance > 0 THEN 'insurance'
          ELSE 'extras'
        END
      WHEN our_amount = paypal_item_amount AND paypal_amount < paypal_item_amount THEN 'discount'
      ELSE 'price'
    END,
    NULL
  ) AS mismatch_component,
  -- VAT is booked on PayPal's payer country, ours when PayPal has none (docs/finance.md: Country).
  COALESCE(payer_country_code, our_country_code) AS vat_country_code
FROM judged
WHERE COALESCE(paypal_day, our_day) BETWEEN @start AND @end
