-- Row count and an order-independent checksum of every column of every row.
SELECT COUNT(*) AS n, BIT_XOR(FARM_FINGERPRINT(TO_JSON_STRING(t))) AS checksum FROM `${table}` AS t
