-- Per buyer country and product: completed PayPal items that paired with a payment of ours
-- (matched, late or with another amount), and their amount at PayPal.
--
-- Parameters: @start, @end (DATE).
SELECT payer_country_code AS country_code, product_name, currency,
  COUNT(*) AS items, SUM(paypal_amount) AS amount
FROM `${matches}`
WHERE day BETWEEN @start AND @end
  AND status IN ('matched', 'late', 'amount_mismatch') AND paypal_status IN ('S', 'V')
GROUP BY country_code, product_name, currency
ORDER BY country_code, amount DESC, product_name
