-- Per day and currency: PayPal's gross sales and the total of our payments, as the headline
-- counts them.
--
-- Parameters: @start, @end (DATE).
WITH paypal AS (
  SELECT day, currency, SUM(gross_sales) AS paypal_gross
  FROM `${daily_balances}` WHERE day BETWEEN @start AND @end
  GROUP BY day, currency
),
ours AS (
  SELECT DATE(payment_date) AS day, currency_code AS currency, SUM(total_cost) AS our_total
  FROM `${payment_transactions}`
  WHERE payment_date >= TIMESTAMP(@start) AND payment_date < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))
    AND ${payment_happened}
  GROUP BY day, currency
)
SELECT day, currency, IFNULL(paypal_gross, 0) AS paypal_gross, IFNULL(our_total, 0) AS our_total
FROM paypal FULL OUTER JOIN ours USING (day, currency)
ORDER BY currency, day
