"""The limit: DuckDB reads the same NDJSON files from local disk into a table of the flat columns.

Runs in the peers venv. No validation, no ledger, no network: the fastest this machine turns these
records into typed rows. Selects the same flat columns our pipeline loads (ids, event code, dates,
amounts, currencies, status, balances, payer), typed as we type them. Two ways to call it:

  declared: ``read_json`` given the records' top-level keys, with the structs we read typed and the
            rest left as JSON. DuckDB then parses only what it needs: the limit.
  detected: ``read_json`` detecting the schema from a sample of records (its default; the way the
            issue measured it). The sample is parsed twice, so it is slower.

Prints one JSON line: seconds of the ``CREATE TABLE ... AS SELECT``, rows in the table, this
process's peak RSS.

    python peers/duckdb_limit.py --files '/tmp/data/big/*.json' [--schema declared|detected]
"""

from __future__ import annotations

import argparse
import json
import time

# The harness reads the lines that start with this (benchmarks.bench.summary.RESULT_PREFIX).
RESULT_PREFIX = "BENCH-RESULT "

# Our pipeline's flat columns (ingest/pipelines/paypal_transactions.yaml), from the same paths.
# Dates and amounts are cast from text, whichever type the reader gave them.
SELECT = """
SELECT
    transaction_info.transaction_id AS transaction_id,
    transaction_info.transaction_event_code AS transaction_event_code,
    CAST(transaction_info.transaction_initiation_date AS TIMESTAMPTZ) AS transaction_initiation_date,
    CAST(transaction_info.transaction_updated_date AS TIMESTAMPTZ) AS transaction_updated_date,
    transaction_info.transaction_status AS transaction_status,
    CAST(transaction_info.transaction_amount.value AS DECIMAL(38, 9)) AS gross_amount,
    transaction_info.transaction_amount.currency_code AS gross_currency,
    CAST(transaction_info.fee_amount.value AS DECIMAL(38, 9)) AS fee_amount,
    transaction_info.fee_amount.currency_code AS fee_currency,
    CAST(transaction_info.ending_balance.value AS DECIMAL(38, 9)) AS ending_balance,
    CAST(transaction_info.available_balance.value AS DECIMAL(38, 9)) AS available_balance,
    transaction_info.invoice_id AS invoice_id,
    transaction_info.custom_field AS custom_field,
    transaction_info.paypal_reference_id AS paypal_reference_id,
    transaction_info.paypal_reference_id_type AS paypal_reference_id_type,
    payer_info.account_id AS payer_account_id,
    payer_info.country_code AS payer_country_code,
    transaction_info.protection_eligibility AS protection_eligibility
FROM {reader}
"""

MONEY = "STRUCT(currency_code VARCHAR, value VARCHAR)"
TRANSACTION_INFO = (
    "STRUCT(transaction_id VARCHAR, transaction_event_code VARCHAR, transaction_initiation_date VARCHAR,"
    f" transaction_updated_date VARCHAR, transaction_status VARCHAR, transaction_amount {MONEY},"
    f" fee_amount {MONEY}, ending_balance {MONEY}, available_balance {MONEY}, invoice_id VARCHAR,"
    " custom_field VARCHAR, paypal_reference_id VARCHAR, paypal_reference_id_type VARCHAR,"
    " protection_eligibility VARCHAR)"
)
# Every top-level key of a Transaction Search record: a key missing here sends DuckDB down a
# much slower path, so the ones we do not read are declared as JSON, which it leaves unparsed.
DECLARED_COLUMNS = {
    "transaction_info": TRANSACTION_INFO,
    "payer_info": "STRUCT(account_id VARCHAR, country_code VARCHAR)",
    "shipping_info": "JSON",
    "cart_info": "JSON",
    "store_info": "JSON",
    "auction_info": "JSON",
    "incentive_info": "JSON",
}


def reader(schema: str) -> str:
    if schema == "detected":
        return "read_json($files, format = 'newline_delimited')"
    columns = ", ".join(f"{name}: '{kind}'" for name, kind in DECLARED_COLUMNS.items())
    return f"read_json($files, format = 'newline_delimited', columns = {{{columns}}})"


def peak_rss_kib() -> int:
    """VmHWM: unlike ru_maxrss, it starts afresh at exec, so the parent's size does not leak in."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", required=True, help="a glob of local NDJSON files")
    parser.add_argument("--schema", choices=("declared", "detected"), default="declared")
    args = parser.parse_args()

    import duckdb

    connection = duckdb.connect(":memory:")
    statement = "CREATE TABLE paypal_transactions AS " + SELECT.format(reader=reader(args.schema))
    start = time.perf_counter()
    connection.execute(statement, {"files": args.files})
    seconds = time.perf_counter() - start
    rows = connection.execute("SELECT count(*) FROM paypal_transactions").fetchone()[0]
    print(
        RESULT_PREFIX
        + json.dumps(
            {
                "seconds": seconds,
                "rows": rows,
                "schema": args.schema,
                "threads": connection.execute("SELECT current_setting('threads')").fetchone()[0],
                "peak_rss_kib": peak_rss_kib(),
                "duckdb_version": duckdb.__version__,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
