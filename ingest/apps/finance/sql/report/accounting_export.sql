-- The accounting system's import: one line per day and buyer country. A period's export is its
-- days' lines under the period's reference, so the daily exports of a month add up to the
-- month's to the cent. Reads the materialised revenue_by_country model.
--
-- Parameters: @start, @end (DATE), @nominal (STRING): the nominal account sales are booked to.
SELECT
  'PAYPAL' AS account_reference,
  @nominal AS nominal_reference,
  FORMAT_DATE('%d/%m/%Y', day) AS date,
  CONCAT(CAST(@start AS STRING), ' - ', CAST(@end AS STRING)) AS reference,
  CONCAT(IFNULL(country_name, IFNULL(country_code, 'UNKNOWN')), ' - ', CAST(day AS STRING)) AS narrative,
  IFNULL(tax_code, '') AS vat_code,
  net_amount,
  vat_amount,
  day,
  country_code,
  currency
FROM `${revenue_by_country}`
WHERE day BETWEEN @start AND @end
ORDER BY day, country_code
