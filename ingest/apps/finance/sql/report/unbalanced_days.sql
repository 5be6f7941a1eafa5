-- The days of the period on which PayPal's balance did not add up in some currency.
--
-- Parameters: @start, @end (DATE).
SELECT DISTINCT day
FROM `${daily_balances}`
WHERE day BETWEEN @start AND @end AND NOT balanced
