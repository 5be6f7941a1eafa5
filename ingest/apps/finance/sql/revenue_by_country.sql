-- Net revenue and VAT per day and VAT country: completed sales less the refunds, reversals and
-- chargebacks of the day (plus chargebacks reversed in our favour), each in the country of the
-- sale it is about. Prices include VAT, so net = amount / (1 + rate) to the cent and VAT is the
-- rest. @vat_basis 'transaction' (the default) rounds each sale and each adjustment on its own,
-- as its invoice would, and sums those: a day, a country and a month are then exact sums of the
-- same transactions, so daily exports add up to the month to the cent. 'line' rounds once per
-- day and country line instead.
--
-- Parameters: @start, @end (DATE), @sale_codes (ARRAY<STRING>), @vat_basis (STRING).
-- Reads ${matches} and ${adjustments} for the same days, so it runs after them.
WITH sale_countries AS (
  SELECT paypal_transaction_id, MAX(vat_country_code) AS country_code
  FROM `${matches}`
  WHERE day BETWEEN @start AND @end AND paypal_transaction_id IS NOT NULL
  GROUP BY paypal_transaction_id
),

movements AS (
  SELECT
    DATE(p.transaction_initiation_date) AS day,
    -- PayPal's payer country, ours when PayPal has none (matches.vat_country_code).
    COALESCE(NULLIF(TRIM(p.payer_country_code), ''), s.country_code) AS country_code,
    p.gross_currency AS currency,
    1 AS sales,
    p.gross_amount AS gross_sales,
    NUMERIC '0' AS refunds,
    NUMERIC '0' AS reversals,
    NUMERIC '0' AS chargebacks,
    NUMERIC '0' AS chargeback_reversals,
    p.gross_amount AS amount
  FROM `${paypal_transactions}` AS p
  LEFT JOIN sale_countries AS s ON s.paypal_transaction_id = p.transaction_id
  WHERE p.transaction_event_code IN UNNEST(@sale_codes)
    -- A reversed (V) sale was a sale: its reversal record takes it back.
    AND p.transaction_status IN ('S', 'V')
    AND p.transaction_initiation_date >= TIMESTAMP(@start)
    AND p.transaction_initiation_date < TIMESTAMP(DATE_ADD(@end, INTERVAL 1 DAY))

  UNION ALL

  SELECT
    day,
    country_code,
    currency,
    0,
    NUMERIC '0',
    IF(kind = 'refund', amount, 0),
    IF(kind = 'reversal', amount, 0),
    IF(kind = 'chargeback', amount, 0),
    IF(kind = 'chargeback_reversal', amount, 0),
    amount
  FROM `${adjustments}`
  -- Fees and holds are not revenue: a hold is released or becomes a chargeback.
  WHERE day BETWEEN @start AND @end
    AND kind IN ('refund', 'reversal', 'chargeback', 'chargeback_reversal')
),

tax AS (
  SELECT c.iso_2_code, c.country_name, c.tax_code, v.vat_rate, v.name AS vat_name
  FROM `${country_tax_codes}` AS c
  LEFT JOIN `${vat_rates}` AS v USING (tax_code)
),

taxed AS (
  SELECT
    m.*,
    tax.country_name,
    tax.tax_code,
    tax.vat_rate,
    tax.vat_name,
    -- Without a known rate nothing is split off as VAT; the exceptions list the country.
    CAST(ROUND(m.amount / (1 + IFNULL(tax.vat_rate, 0)), 2) AS NUMERIC) AS transaction_net
  FROM movements AS m
  LEFT JOIN tax ON tax.iso_2_code = m.country_code
),

lines AS (
  SELECT
    day,
    country_code,
    country_name,
    tax_code,
    vat_rate,
    vat_name,
    currency,
    SUM(sales) AS sales,
    SUM(gross_sales) AS gross_sales,
    SUM(refunds) AS refunds,
    SUM(reversals) AS reversals,
    SUM(chargebacks) AS chargebacks,
    SUM(chargeback_reversals) AS chargeback_reversals,
    SUM(amount) AS revenue,
    SUM(transaction_net) AS transaction_net
  FROM taxed
  GROUP BY day, country_code, country_name, tax_code, vat_rate, vat_name, currency
),

booked AS (
  SELECT
    *,
    IF(
      @vat_basis = 'line',
      CAST(ROUND(revenue / (1 + IFNULL(vat_rate, 0)), 2) AS NUMERIC),
      transaction_net
    ) AS net_amount
  FROM lines
)

SELECT
  day,
  country_code,
  country_name,
  tax_code,
  vat_rate,
  vat_name,
  currency,
  sales,
  gross_sales,
  refunds,
  reversals,
  chargebacks,
  chargeback_reversals,
  revenue,
  net_amount,
  revenue - net_amount AS vat_amount
FROM booked
