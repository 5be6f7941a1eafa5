"""Deterministic demo data: one month of the payments lake of a mobile-game studio.

The game sells in-app items through PayPal to players in many countries. The lake receives the
game's payment database (streamed by Firehose as concatenated JSON objects with no extension, on
a few days exported whole as CSV or Parquet), PayPal Transaction Search pages written by the
extractor (JSON arrays or NDJSON, some gzipped), tax tables (CSV, and TSV with CRLF), and the
month's exchange rates (one openexchangerates object). The same month, seed and scale always give
byte-identical files; ``--scale`` multiplies the sales (about 30 a day at scale 1).

Realism, and what the manifest promises:

- The PayPal account is in USD: every sale, every game row and every record about a sale is in
  USD. Early in the month part of the USD balance is converted to EUR (T0200: two records of
  the same second, the USD one negative, the EUR one positive and referencing it), about a week
  later most of the EUR is withdrawn (T0400 in EUR), and near the end part of the rest comes
  back (T0201, EUR negative, USD positive referencing it). So the account holds two currencies,
  each with its own running balance; a record's amounts, fee and balances are all in its own
  currency. PayPal converts at the month's market rate less a 3% margin, with no fee_amount.
- Payments are T0006/T0007 with PayPal's fee, -(2.9% + 0.30) of the gross. A cart has one item
  or, for a few sales, two or three (some several times over), and a few carts ship:
  ``transaction_info.shipping_amount``, and PayPal's gross is the sum of the items' item_amount
  plus shipping. The game has one row per item, whose ``total_cost`` is the item's share of
  PayPal's gross, allocated as the reconciliation does: in proportion to item_amount, items in
  item_code order, each but the last rounded to the cent (half up), the last taking the
  remainder. PayPal lists a cart's items in an order of its own, and no share sits on half a
  cent. Some sales carry status D (denied: no fee, no balance moved, the game's row
  ``failed``), and a few V (reversed: listed S, then again V with a later
  ``transaction_updated_date`` in a later page, with a T1106 reversal referencing it).
- Adjustments, each referencing a completed payment of the month (or a record that does) and
  landing a few days later inside the month, never on the day whose first page is lost:
  refunds T1107, whole or of one item of a two-item cart, with a positive fee_amount, the
  percentage part of the fee on what is refunded; reversals T1106 (no fee, payer nor cart);
  chargebacks T1201 (fee 0.00), each followed minutes later by its chargeback fee T0106 (gross
  -20.00, no fee_amount, referencing the chargeback) and, for a few, days later by a
  chargeback reversal T1202 (positive, fee 0.00, referencing the chargeback); holds T1110
  (negative, no fee, referencing the disputed payment) released days later by T1111 (positive,
  the same amount, referencing the hold). Once a month PayPal books a small credit under an
  event code nobody lists (T9901, no fee): the suite only warns about it (a planted defect of
  severity warning) and it moves the balance. The studio withdraws (T0400) most of its available
  USD balance to the bank about once a week.
- About 3% of payments are first extracted pending (status P) and again, completed (S, later
  ``transaction_updated_date``), in a later page of the same day or in the next day's folder.
- Balance rule. PayPal records are ordered by ``transaction_initiation_date`` (ties keep the
  order PayPal produced them, which is their order in the pages). Every record moves the ending
  balance of its currency by its gross plus its fee (no fee counts as 0), pending ones too,
  except a denied one, which moves nothing; ``ending_balance`` is the balance after it.
  ``available_balance`` is the ending balance less the net of payments still pending at that
  record's initiation (a payment is pending from its P record until its S version's
  ``transaction_updated_date``). The S version of a pending payment repeats its P version's
  ending balance, its available balance the P version's plus the payment's net; the V version
  of a reversed payment repeats its S version's balances. Balances are PayPal's true figures: a
  row defaced to be quarantined keeps the balance it would have had. A record that will not
  load is never the last of its day that moves the balance, nor the month's first, so each
  day's statement read from the loaded records is short by exactly what did not load.
- Game rows match PayPal items (``item_code`` = ``transaction_item_id``, the item's share)
  except for the injected discrepancies: missing on our side, missing on PayPal's, amount
  mismatch (the price, or ours leaving out the shipping), late (our ``payment_date`` one or two
  days after PayPal's initiation date), and country: VAT goes by PayPal's payer country, and a
  paired item whose payer country differs from our ``country_code`` (some PayPal accounts are
  of another country; the game leaves the country empty for some players) is a
  ``country_mismatch``.
- Defects ingestion must catch: values that cannot be coerced, and rows that the Great
  Expectations suites reject (critical: quarantined; warning: loaded and reported).
- Whole-file failures: one truncated PayPal page, one export under a prefix no pipeline claims.

``GeneratedMonth.manifest()`` (written as ``manifest.json``) lists the files and the row counts
ingestion must report, the planted ``defects``, the ``discrepancies`` a correct reconciliation of
the loaded data finds (including the consequences of quarantined rows and the failed page), the
``balances`` per day and currency, and the ``expected_tables`` row counts after dedup on the
business keys (a completed or reversed version replaces its earlier one).

Each discrepancy has ``kind``, ``cause``, ``date``, ``paypal_transaction_id``, ``item_code``
(with ``transaction_item_id``), ``payment_transaction_id``, ``paypal_amount``, ``our_amount``,
``days_late``, ``original_transaction_id``, ``mismatch_component`` (``price`` or ``shipping`` on
an amount mismatch), ``payer_country_code`` and ``our_country_code`` (on a country mismatch).
Matching kinds are dated by PayPal's booking day (ours when PayPal has none) with PayPal's
amount the item's share. Adjustments (``refund``, ``reversal``, ``chargeback``,
``chargeback_reversal``, ``chargeback_fee``, ``hold``, ``hold_release``) are dated by the
adjustment, name its own id and gross, and the original sale the reference chain leads to, with
that sale's first item by item_code and our row of it. ``unknown_event_code``: the day, the
record's id and gross, no item. Conversions and withdrawals are not discrepancies.

Each balance has ``date``, ``currency``, ``opening`` and ``closing`` (PayPal's
``ending_balance`` before and after the day), the gross of each class of record (``sales``,
``refunds``, ``reversals``, ``chargebacks``, ``chargeback_reversals``, ``chargeback_fees``,
``holds``, ``conversions``, ``withdrawals``, ``other``, ``unknown``; a denied payment in none),
``fees``, ``activity`` (closing - opening) and ``not_loaded``, the net of that currency's records
of the day that will not load (quarantined rows, the failed page). Every currency the account
holds in the month has a statement every day (EUR opens the month at 0.00).
"""

from ingest_devstack.generate.model import GeneratedFile, GeneratedMonth
from ingest_devstack.generate.month import MonthStream
from ingest_devstack.generate.publish import open_sink, parse_s3_uri, publish_month, write_month

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
