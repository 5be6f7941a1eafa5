-- Net revenue and VAT per day and buyer country: completed sales less the refunds, reversals
-- and chargebacks of the day, each in the country of the payment it takes back. Prices include
-- VAT, so net = revenue / (1 + rate) to the cent and VAT is the rest: net + VAT = revenue exactly,
-- and a month is the sum of its days.
--
-- Parameters: @start, @end (DATE), @sale_codes (ARRAY<STRING>).
-- Reads ${adjustments} for the same days, so it runs after that model.
WITH movements AS (
  SELECT
    DATE(transaction_initiation_date) AS day,
    payer_country_code AS country_code,
    gross_currency AS currency,
    1 AS sales,
    gross_amount AS gross_sales,
    NUMERIC '0' AS refunds,
    NUMERIC '0' AS reversals,
    NUMERIC '0' AS chargebacks
  FROM `${paypal_transactions}`
  WHERE transaction_event_code IN UNNEST(@sale_codes)
    AND transaction_status = 'S'
    AND transaction_initiation_date >= TIMESTAMP(@start)
    AND transaction_initiation_date < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))

  UNION ALL

  SELECT
    day,
    country_code,
    currency,
    0,
    NUMERIC '0',
    IF(kind = 'refund', amount, 0),
    IF(kind = 'reversal', amount, 0),
    IF(kind = 'chargeback', amount, 0)
  FROM `${adjustments}`
  WHERE day BETWEEN @start AND @end
),

tax AS (
  SELECT c.iso_2_code, c.country_name, c.tax_code, v.vat_rate, v.name AS vat_name
  FROM `${country_tax_codes}` AS c
  LEFT JOIN `${vat_rates}` AS v USING (tax_code)
),

totals AS (
  SELECT
    day,
    country_code,
    currency,
    SUM(sales) AS sales,
    SUM(gross_sales) AS gross_sales,
    SUM(refunds) AS refunds,
    SUM(reversals) AS reversals,
    SUM(chargebacks) AS chargebacks,
    SUM(gross_sales + refunds + reversals + chargebacks) AS revenue
  FROM movements
  GROUP BY day, country_code, currency
)

SELECT
  t.day,
  t.country_code,
  tax.country_name,
  tax.tax_code,
  tax.vat_rate,
  tax.vat_name,
  t.currency,
  t.sales,
  t.gross_sales,
  t.refunds,
  t.reversals,
  t.chargebacks,
  t.revenue,
  -- Without a known rate nothing is split off as VAT; the exceptions list the country.
  ROUND(t.revenue / (1 + IFNULL(tax.vat_rate, 0)), 2) AS net_amount,
  t.revenue - ROUND(t.revenue / (1 + IFNULL(tax.vat_rate, 0)), 2) AS vat_amount
FROM totals AS t
LEFT JOIN tax ON tax.iso_2_code = t.country_code
