-- The MERGE of a load's staging table into the pipeline's table: one row per business key, the
-- latest wins. Staging is deduplicated first (${newest_first}: the greatest latest_by, then the
-- row ingested last, then the last row of the last file); a row replaces the table's only if it
-- is strictly newer (${newer}), so merging the same rows again changes nothing. ${on} may bound
-- the table side to the partitions between @partition_low and @partition_high. Every column is
-- quoted; the rank's name holds a space, which no pipeline column may, so it never clashes.
MERGE `${target}` AS target
USING (
  SELECT * EXCEPT (`latest rank`)
  FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY ${keys} ORDER BY ${newest_first}) AS `latest rank`
    FROM `${staging}`
  )
  WHERE `latest rank` = 1
) AS source
ON ${on}
WHEN MATCHED AND (${newer}) THEN UPDATE SET
    ${assignments}
WHEN NOT MATCHED THEN
  INSERT (${columns})
  VALUES (${source_columns})
