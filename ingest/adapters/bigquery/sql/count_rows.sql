-- Rows of a table matching a condition (its values are query parameters).
SELECT COUNT(*) AS n FROM `${table}` WHERE ${where}
