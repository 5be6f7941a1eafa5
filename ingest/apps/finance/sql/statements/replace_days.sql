-- Replace the days @start..@end of a model's table (target) with the model's rows for them:
-- one MERGE that inserts the new rows and deletes the rows those days held before, atomic, so a
-- reader sees the old days or the new, never neither or both. The source is the model's rendered
-- SQL; the columns are the model's, from its definition in models.py.
--
-- Parameters: @start, @end (DATE), and those of the model.
MERGE `${target}` AS target
USING (
${model_sql}
) AS source
ON FALSE
WHEN NOT MATCHED THEN INSERT (${columns})
  VALUES (${source_columns})
WHEN NOT MATCHED BY SOURCE AND target.day BETWEEN @start AND @end THEN DELETE
