-- The MERGE of a load's staging table into the pipeline's table: one row per business key, the
-- latest wins. ${source} is staging, deduplicated first when its business keys may repeat
-- (merge_source.sql); a row replaces the table's only if it is strictly newer (${newer}), so
-- merging the same rows again changes nothing. ${on} may bound the table side to the partitions
-- between @partition_low and @partition_high. Every column is quoted.
MERGE `${target}` AS target
USING ${source} AS source
ON ${on}
WHEN MATCHED AND (${newer}) THEN UPDATE SET
    ${assignments}
WHEN NOT MATCHED THEN
  INSERT (${columns})
  VALUES (${source_columns})
