-- Everything finance has to act on in the period, with its reason: unpaired, mismatched,
-- late, pending or duplicated items, every refund, reversal and chargeback, and sales in a
-- country without a tax code. Reads the materialised models, so run `ingest reconcile` first.
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
    WHEN 'amount_mismatch' THEN FORMAT(
      'Item %s: PayPal %.2f, ours %.2f (%s)', item_code, paypal_amount, our_amount, currency)
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
  payer_country_code AS country_code
FROM `${matches}`
WHERE day BETWEEN @start AND @end
  AND status != 'matched'

UNION ALL

SELECT
  day,
  kind,
  IF(
    linked,
    FORMAT('%s of PayPal payment %s (%s, %s): %.2f %s', INITCAP(kind), original_transaction_id,
      IFNULL(country_code, 'no country'), CAST(original_day AS STRING), amount, currency),
    FORMAT('%s of %.2f %s: its original payment %s is not in the warehouse, so it has no country for VAT',
      INITCAP(kind), amount, currency, IFNULL(original_transaction_id, '(no reference)'))
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
