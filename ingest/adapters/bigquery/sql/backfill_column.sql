-- ingest schema backfill: a column declared after rows were loaded takes the value those rows
-- kept in _extra at ${path} (the column's source path, checked to be plain names), when it casts
-- to ${type}; the key then leaves _extra, and an _extra left empty becomes NULL. Rows whose
-- value does not cast keep it in _extra. Rows that have the column already are not touched, so
-- running it again changes nothing.
UPDATE `${table}`
SET ${column} = SAFE_CAST(JSON_VALUE(`_extra`, '${path}') AS ${type}),
    `_extra` = IF(
      TO_JSON_STRING(JSON_REMOVE(`_extra`, '${path}')) = '{}',
      NULL,
      JSON_REMOVE(`_extra`, '${path}')
    )
WHERE ${column} IS NULL
  AND SAFE_CAST(JSON_VALUE(`_extra`, '${path}') AS ${type}) IS NOT NULL
