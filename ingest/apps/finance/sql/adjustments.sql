-- Every record that takes money back, holds it or charges for a dispute (ingest.paypal's
-- adjustment classes: refunds with their fee returns, reversals, chargebacks with their fees and
-- reversals, holds and their releases), each linked to the SALE it is about. A record names the
-- one it refers to in paypal_reference_id: a refund or a reversal names the sale, a chargeback's
-- reversal or fee names the chargeback, a release names the hold. The chain is followed up to
-- three steps to the sale, which gives the country for VAT, the item and our payment row.
--
-- Parameters: @start, @end (DATE), @sale_codes (ARRAY<STRING>), @reference_lookback_days (INT64):
-- how far before the period the sale is looked for (PayPal disputes run 180 days),
-- @late_window_days (INT64): how much later than PayPal our row of it may be dated.
WITH adjustments AS (
  SELECT
    DATE(transaction_initiation_date) AS day,
    ${event_class} AS kind,
    transaction_id AS paypal_transaction_id,
    transaction_event_code AS paypal_event_code,
    gross_currency AS currency,
    gross_amount AS amount,
    IFNULL(fee_amount, 0) AS fee,
    paypal_reference_id AS reference_id
  FROM `${paypal_transactions}`
  WHERE IFNULL(transaction_status, '') != 'D'
    AND transaction_initiation_date >= TIMESTAMP(@start)
    AND transaction_initiation_date < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))
),

referable AS (
  -- One row per transaction id (a sale's id wins over another record's with the same id).
  SELECT * EXCEPT (preference)
  FROM (
    SELECT
      transaction_id,
      transaction_event_code IN UNNEST(@sale_codes) AS is_sale,
      paypal_reference_id,
      ROW_NUMBER() OVER (
        PARTITION BY transaction_id
        ORDER BY IF(transaction_event_code IN UNNEST(@sale_codes), 0, 1), transaction_event_code
      ) AS preference
    FROM `${paypal_transactions}`
    WHERE transaction_initiation_date >= TIMESTAMP(DATE_SUB(@start, INTERVAL @reference_lookback_days DAY))
      AND transaction_initiation_date < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))
  )
  WHERE preference = 1
),

chained AS (
  SELECT
    a.*,
    CASE
      WHEN hop1.is_sale THEN hop1.transaction_id
      WHEN hop2.is_sale THEN hop2.transaction_id
      WHEN hop3.is_sale THEN hop3.transaction_id
    END AS sale_id
  FROM adjustments AS a
  LEFT JOIN referable AS hop1 ON hop1.transaction_id = a.reference_id
  LEFT JOIN referable AS hop2 ON hop2.transaction_id = hop1.paypal_reference_id
  LEFT JOIN referable AS hop3 ON hop3.transaction_id = hop2.paypal_reference_id
  WHERE a.kind IN ${adjustment_kinds}
),

originals AS (
  SELECT
    p.transaction_id,
    DATE(p.transaction_initiation_date) AS original_day,
    NULLIF(TRIM(p.payer_country_code), '') AS payer_country_code,
    -- An adjustment of a whole cart: its first item stands for it in the exceptions.
    ARRAY_AGG(item.item_code IGNORE NULLS ORDER BY item.item_code LIMIT 1)[SAFE_OFFSET(0)] AS item_code
  FROM `${paypal_transactions}` AS p
  LEFT JOIN UNNEST(p.cart_items) AS item
  WHERE p.transaction_event_code IN UNNEST(@sale_codes)
    AND p.transaction_id IN (SELECT sale_id FROM chained)
    AND p.transaction_initiation_date >= TIMESTAMP(DATE_SUB(@start, INTERVAL @reference_lookback_days DAY))
    AND p.transaction_initiation_date < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))
  GROUP BY p.transaction_id, original_day, p.payer_country_code
),

our_rows AS (
  SELECT
    CAST(transaction_item_id AS STRING) AS item_code,
    MIN(transaction_id) AS payment_transaction_id,
    MAX(NULLIF(TRIM(country_code), '')) AS our_country_code
  FROM `${payment_transactions}`
  WHERE CAST(transaction_item_id AS STRING) IN (SELECT item_code FROM originals)
    AND payment_date >= TIMESTAMP(
      DATE_SUB(@start, INTERVAL @reference_lookback_days + @late_window_days DAY)
    )
  GROUP BY item_code
)

SELECT
  c.day,
  c.kind,
  c.paypal_transaction_id,
  c.paypal_event_code,
  c.currency,
  c.amount,
  c.fee,
  c.reference_id,
  -- The sale it is about; without one, the record it names (not in the warehouse).
  COALESCE(o.transaction_id, c.reference_id) AS original_transaction_id,
  o.original_day,
  o.transaction_id IS NOT NULL AS linked,
  -- The sale's VAT country, as for the sale itself (matches.vat_country_code).
  COALESCE(o.payer_country_code, r.our_country_code) AS country_code,
  o.item_code,
  r.payment_transaction_id
FROM chained AS c
LEFT JOIN originals AS o ON o.transaction_id = c.sale_id
LEFT JOIN our_rows AS r ON r.item_code = o.item_code
