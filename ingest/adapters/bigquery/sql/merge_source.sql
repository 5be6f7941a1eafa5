-- A staging table with one row per business key: the latest (${newest_first}: the greatest
-- latest_by, then the row ingested last, then the last row of the last file). The rank's name
-- holds a space, which no pipeline column may, so it never clashes.
(
  SELECT * EXCEPT (`latest rank`)
  FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY ${keys} ORDER BY ${newest_first}) AS `latest rank`
    FROM `${staging}`
  )
  WHERE `latest rank` = 1
)
