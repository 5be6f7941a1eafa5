-- Everything finance has to act on in the period, with its reason: unpaired, mismatched, late,
-- pending or duplicated items, items whose buyer country PayPal and the game disagree on, every
-- record that takes money back, holds it or charges for a dispute, sales in a country without a
-- tax code, and PayPal records of an event code the reconciliation does not know. Reads the
-- materialised models (run `ingest reconcile` first) and, for unknown codes, the raw table.
--
-- Parameters: @start, @end (DATE).
SELECT
  day AS date,
  status AS kind,
  CASE status
    WHEN 'missing_ours' THEN FORMAT(
      'PayPal payment %s of %.2f %s for item %s has no payment row of ours within the matching window',
      paypal_transaction_id, paypal_amount, currency, IFNULL(item_code, '(no item)'))
    WHEN 'missing_paypal' THEN FORMAT(
      'Our payment %d of %.2f %s for item %s has no PayPal payment within the matching window',
      payment_transaction_id, our_amount, currency, item_code)
    WHEN 'amount_mismatch' THEN CASE mismatch_component
      WHEN 'currency' THEN FORMAT(
        'Item %s: PayPal %.2f %s, ours %.2f in another currency', item_code, paypal_amount, currency,
        our_amount)
      WHEN 'quantity' THEN FORMAT(
        'Item %s: PayPal sold %d, ours records %d (PayPal %.2f, ours %.2f %s)', item_code,
        paypal_quantity, our_quantity, paypal_amount, our_amount, currency)
      WHEN 'price' THEN FORMAT(
        'Item %s: PayPal collected %.2f for it (item %.2f), ours %.2f %s: the price differs by %.2f',
        item_code, paypal_amount, IFNULL(paypal_item_amount, paypal_amount), our_amount, currency,
        our_amount - paypal_amount)
      WHEN 'discount' THEN FORMAT(
        'Item %s: PayPal collected %.2f after a discount on the item amount %.2f; ours %.2f %s is without the discount',
        item_code, paypal_amount, paypal_item_amount, our_amount, currency)
      ELSE FORMAT(
        'Item %s: PayPal collected %.2f (item %.2f + %s %.2f), ours %.2f %s is the item alone: ours leaves out the %s',
        item_code, paypal_amount, paypal_item_amount, mismatch_component,
        paypal_amount - paypal_item_amount, our_amount, currency, mismatch_component)
    END
    WHEN 'late' THEN FORMAT(
      'Item %s: our payment row is dated %d day(s) after PayPal booked it', item_code, days_late)
    WHEN 'pending' THEN FORMAT('PayPal payment %s is still pending', paypal_transaction_id)
    WHEN 'duplicate' THEN FORMAT(
      'Item %s pairs with more than one payment: PayPal %s, ours %d',
      item_code, paypal_transaction_id, payment_transaction_id)
  END AS reason,
  paypal_transaction_id,
  item_code,
  payment_transaction_id,
  currency,
  paypal_amount,
  our_amount,
  IF(days_late > 0, days_late, NULL) AS days_late,
  CAST(NULL AS STRING) AS original_transaction_id,
  vat_country_code AS country_code
FROM `${matches}`
WHERE day BETWEEN @start AND @end
  AND status != 'matched'

UNION ALL

SELECT
  day,
  'country_mismatch',
  FORMAT(
    'Item %s: PayPal says the buyer is in %s, our payment row says %s; VAT is booked on %s (%s)',
    item_code, IFNULL(payer_country_code, 'no country'), IFNULL(our_country_code, 'no country'),
    vat_country_code,
    IF(payer_country_code IS NOT NULL, "PayPal's payer country", 'ours: PayPal gives none')),
  paypal_transaction_id,
  item_code,
  payment_transaction_id,
  currency,
  paypal_amount,
  our_amount,
  NULL,
  NULL,
  vat_country_code
FROM `${matches}`
WHERE day BETWEEN @start AND @end
  AND status IN ('matched', 'late', 'amount_mismatch')
  AND (payer_country_code IS NOT NULL OR our_country_code IS NOT NULL)
  AND IFNULL(payer_country_code, '') != IFNULL(our_country_code, '')

UNION ALL

SELECT
  day,
  kind,
  IF(
    linked,
    FORMAT('%s %s of PayPal payment %s (%s, %s): %.2f %s', INITCAP(REPLACE(kind, '_', ' ')),
      paypal_transaction_id, original_transaction_id, IFNULL(country_code, 'no country'),
      CAST(original_day AS STRING), amount, currency),
    FORMAT('%s %s of %.2f %s: no sale is found through the record it refers to, %s (not in the warehouse, or not leading to a sale within three references), so it has no country for VAT',
      INITCAP(REPLACE(kind, '_', ' ')), paypal_transaction_id, amount, currency,
      IFNULL(original_transaction_id, '(no reference)'))
  ),
  paypal_transaction_id,
  item_code,
  payment_transaction_id,
  currency,
  amount,
  NULL,
  NULL,
  original_transaction_id,
  country_code
FROM `${adjustments}`
WHERE day BETWEEN @start AND @end

UNION ALL

SELECT
  day,
  'no_tax_code',
  FORMAT('%d sale(s) of %.2f %s in country %s, which has no tax code: booked without VAT',
    sales, revenue, currency, IFNULL(country_code, '(unknown)')),
  NULL,
  NULL,
  NULL,
  currency,
  revenue,
  NULL,
  NULL,
  NULL,
  country_code
FROM `${revenue_by_country}`
WHERE day BETWEEN @start AND @end
  AND (tax_code IS NULL OR vat_rate IS NULL)

UNION ALL

SELECT
  DATE(transaction_initiation_date),
  'unknown_event_code',
  FORMAT(
    'PayPal record %s has event code %s, which the reconciliation has no class for: %.2f %s counted as unknown in the balance',
    transaction_id, transaction_event_code, IFNULL(gross_amount, 0), IFNULL(gross_currency, '')),
  transaction_id,
  NULL,
  NULL,
  gross_currency,
  gross_amount,
  NULL,
  NULL,
  paypal_reference_id,
  NULLIF(TRIM(payer_country_code), '')
FROM `${paypal_transactions}`
WHERE transaction_initiation_date >= TIMESTAMP(@start)
  AND transaction_initiation_date < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))
  AND ${event_class} = 'unknown'
