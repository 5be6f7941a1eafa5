-- The headline figures of the period per currency: PayPal's movements and balances (from
-- daily_balances), what paired with our payments (matches), our payments as the game recorded
-- them (the raw table, failed and cancelled ones left out) and revenue and VAT
-- (revenue_by_country).
--
-- Parameters: @start, @end (DATE).
WITH paypal AS (
  SELECT currency,
    SUM(gross_sales) AS paypal_gross, SUM(fees) AS paypal_fees,
    SUM(gross_sales + fees) AS paypal_net,
    SUM(refunds) AS refunds, SUM(reversals) AS reversals, SUM(chargebacks) AS chargebacks,
    SUM(chargeback_reversals) AS chargeback_reversals, SUM(chargeback_fees) AS chargeback_fees,
    SUM(holds) AS holds, SUM(conversions) AS conversions, SUM(withdrawals) AS withdrawals,
    SUM(other) AS other, SUM(unknown) AS unknown,
    ARRAY_AGG(opening_balance IGNORE NULLS ORDER BY day LIMIT 1)[SAFE_OFFSET(0)] AS opening_balance,
    ARRAY_AGG(closing_balance IGNORE NULLS ORDER BY day DESC LIMIT 1)[SAFE_OFFSET(0)] AS closing_balance,
    LOGICAL_AND(IFNULL(balanced, TRUE)) AS balance_check,
    SUM(difference) AS balance_difference,
    COUNTIF(NOT balanced) AS days_not_balanced
  FROM `${daily_balances}` WHERE day BETWEEN @start AND @end GROUP BY currency
),
matching AS (
  SELECT currency,
    COUNTIF(status IN ('matched', 'late')) AS matched_count,
    SUM(IF(status IN ('matched', 'late'), paypal_amount, 0)) AS matched_amount,
    SUM(IF(paypal_status IN ('S', 'V'), paypal_amount, 0)) AS paypal_items_amount
  FROM `${matches}` WHERE day BETWEEN @start AND @end GROUP BY currency
),
ours AS (
  SELECT currency_code AS currency, COUNT(*) AS our_count, SUM(total_cost) AS our_total
  FROM `${payment_transactions}`
  WHERE payment_date >= TIMESTAMP(@start) AND payment_date < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))
    AND ${payment_happened}
  GROUP BY currency
),
revenue AS (
  SELECT currency, SUM(revenue) AS revenue, SUM(net_amount) AS net_revenue, SUM(vat_amount) AS vat
  FROM `${revenue_by_country}` WHERE day BETWEEN @start AND @end GROUP BY currency
)
SELECT * FROM paypal
FULL OUTER JOIN matching USING (currency)
FULL OUTER JOIN ours USING (currency)
FULL OUTER JOIN revenue USING (currency)
WHERE currency IS NOT NULL
ORDER BY currency
