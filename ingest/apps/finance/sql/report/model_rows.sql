-- The rows of one materialised model for the period, in day order.
--
-- Parameters: @start, @end (DATE).
SELECT *
FROM `${model}`
WHERE day BETWEEN @start AND @end
ORDER BY day
