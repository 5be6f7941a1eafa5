-- The range of the partitioning column over a staging table, so the MERGE reads only the
-- target's partitions in it. ${column} comes quoted.
SELECT MIN(${column}) AS low, MAX(${column}) AS high FROM `${staging}`
