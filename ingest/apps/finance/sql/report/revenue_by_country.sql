-- Per buyer country over the period: sales, money given back, revenue, net, VAT and tax code.
--
-- Parameters: @start, @end (DATE).
SELECT country_code, country_name, tax_code, vat_rate, currency,
  SUM(sales) AS sales, SUM(gross_sales) AS gross_sales, SUM(refunds) AS refunds,
  SUM(reversals) AS reversals, SUM(chargebacks) AS chargebacks,
  SUM(chargeback_reversals) AS chargeback_reversals, SUM(revenue) AS revenue,
  SUM(net_amount) AS net_amount, SUM(vat_amount) AS vat_amount
FROM `${revenue_by_country}`
WHERE day BETWEEN @start AND @end
GROUP BY country_code, country_name, tax_code, vat_rate, currency
ORDER BY currency, revenue DESC, country_code
