"""Deterministic demo data: one month of the payments lake of a mobile-game studio.

The game sells in-app items through PayPal to players in many countries. The lake receives the
game's payment database (streamed by Firehose as concatenated JSON objects with no extension, on
a few days exported whole as CSV or Parquet), PayPal Transaction Search pages written by the
extractor (JSON arrays or NDJSON, some gzipped), tax tables (CSV, and TSV with CRLF), and the
month's exchange rates (one openexchangerates object). The same month, seed and scale always give
byte-identical files; ``--scale`` multiplies the sales (about 30 a day at scale 1).

Realism, and what the manifest promises:

- The PayPal account is in USD, so every PayPal amount and every game row is in USD.
- Payments are T0006/T0007 with PayPal's fee, -(2.9% + 0.30). Refunds (T1107) give back the
  percentage fee, reversals (T1106) carry no fee, payer nor cart, chargebacks (T1201); each
  references a completed payment of the same month and lands inside the month. The studio
  withdraws (T0400) most of its available balance to the bank about once a week.
- About 3% of payments are first extracted pending (status P) and again, completed (S, later
  ``transaction_updated_date``), in a later page of the same day or in the next day's folder.
- Balance rule. PayPal records are ordered by ``transaction_initiation_date`` (ties keep the
  order PayPal produced them, which is their order in the pages). Every record moves the ending
  balance by its gross plus its fee (no fee counts as 0), pending ones too, and
  ``ending_balance`` is the balance after it. ``available_balance`` is the ending balance less
  the net of payments still pending at that record's initiation (a payment is pending from its
  P record until its S version's ``transaction_updated_date``). The S version of a pending
  payment repeats its P version's ending balance; its available balance is the P version's
  plus the payment's net. Balances are PayPal's true figures: a row defaced to be quarantined
  keeps the balance it would have had.
- Game rows match PayPal items (``item_code`` = ``transaction_item_id``, same amount) except for
  the injected discrepancies: missing on our side, missing on PayPal's, amount mismatch, and
  late (our ``payment_date`` one or two days after PayPal's initiation date).
- Defects ingestion must catch: values that cannot be coerced, and rows that the Great
  Expectations suites reject (critical: quarantined; warning: loaded and reported).
- Whole-file failures: one truncated PayPal page, one export under a prefix no pipeline claims.

``GeneratedMonth.manifest()`` (written as ``manifest.json``) lists the files and the row counts
ingestion must report, the planted ``defects``, the ``discrepancies`` a correct reconciliation of
the loaded data finds (including the consequences of quarantined rows and the failed page), the
daily ``balances``, and the ``expected_tables`` row counts after dedup on the business keys.
"""

from ingest.generate.model import GeneratedFile, GeneratedMonth
from ingest.generate.month import MonthStream
from ingest.generate.publish import open_sink, parse_s3_uri, publish_month, write_month

__all__ = [
    "GeneratedFile",
    "GeneratedMonth",
    "MonthStream",
    "generate_month",
    "open_sink",
    "parse_s3_uri",
    "publish_month",
    "write_month",
]


def generate_month(
    year: int,
    month: int,
    *,
    seed: int = 7,
    payments_per_day: int = 30,
    scale: int = 1,
) -> GeneratedMonth:
    """Build one month of lake files in memory; the same arguments always give the same bytes.

    For large ``scale`` prefer ``publish_month`` or iterating a ``MonthStream``, which never hold
    more than one day.
    """
    stream = MonthStream(year, month, seed=seed, payments_per_day=payments_per_day, scale=scale)
    files = tuple(stream)
    return stream.generated(files)
