"""Deterministic demo data: one month of the payments lake of a mobile-game studio.

The game (iOS and Android) sells in-app items through PayPal. Three sources land in the lake:
the game's payment database streamed by Firehose, PayPal Transaction Search pages written by the
extractor, and two reference tables. ``generate_month`` builds them in memory with a few problems
injected on purpose and records in each ``GeneratedFile`` what ingestion should do with it, so a
demo or a test can compare the outcome with ``GeneratedMonth.manifest()``.
"""

from __future__ import annotations

import copy
import csv
import gzip
import io
import itertools
import json
import pathlib
import random
from collections import namedtuple
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

PAYMENTS_PIPELINE = "payment_transactions"
PAYPAL_PIPELINE = "paypal_transactions"
PAYPAL_PAGE_SIZE = 25
GAME_TIME = "%Y-%m-%dT%H:%M:%S.000Z"  # the game DB's export format
PAYPAL_TIME = "%Y-%m-%dT%H:%M:%S+0000"  # PayPal's Transaction Search format
CENT = Decimal("0.01")
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

# The first eight fields are the country_tax_codes reference table, in its column order.
Country = namedtuple(
    "Country",
    "geoname_id continent_code continent_name is_in_european_union iso_2_code iso_3_code "
    "country_name tax_code vat_rate currency",
)
COUNTRY_COLUMNS = Country._fields[:8]
VAT_COLUMNS = ("country_name", "tax_code", "vat_rate", "name", "iso_2_code")
COUNTRIES = (
    Country(6252001, "NA", "North America", 0, "US", "USA", "UNITED STATES", "T0", "0", "USD"),
    Country(2635167, "EU", "Europe", 0, "GB", "GBR", "UNITED KINGDOM", "T1", "0.2", "GBP"),
    Country(2921044, "EU", "Europe", 1, "DE", "DEU", "GERMANY", "T44", "0.19", "EUR"),
    Country(3017382, "EU", "Europe", 1, "FR", "FRA", "FRANCE", "T45", "0.2", "EUR"),
    Country(2510769, "EU", "Europe", 1, "ES", "ESP", "SPAIN", "T46", "0.21", "EUR"),
    Country(3175395, "EU", "Europe", 1, "IT", "ITA", "ITALY", "T47", "0.22", "EUR"),
    Country(2750405, "EU", "Europe", 1, "NL", "NLD", "NETHERLANDS", "T48", "0.21", "EUR"),
    Country(2782113, "EU", "Europe", 1, "AT", "AUT", "AUSTRIA", "T40", "0.2", "EUR"),
    Country(2963597, "EU", "Europe", 1, "IE", "IRL", "IRELAND", "T49", "0.23", "EUR"),
)
# Share of players per country: the US dominates, as in the real store.
PLAYER_SHARE = {"US": 40, "GB": 15, "DE": 8, "FR": 7, "ES": 5, "IT": 5, "NL": 5, "AT": 3, "IE": 4}
UNKNOWN_COUNTRY_WEIGHT = 8  # the game DB leaves country_code empty when the store did not say

# product_id, name, unit price: the stores price the same figure in every currency.
PRODUCTS = (
    (2201, "Handful of Gems", "0.99"),
    (2202, "Gem Pack", "4.99"),
    (2203, "Sack of Gems", "9.99"),
    (2204, "Chest of Gems", "19.99"),
    (2205, "Vault of Gems", "49.99"),
    (2206, "Starter Bundle", "2.99"),
    (2207, "Season Pass", "9.99"),
    (2208, "Remove Ads", "3.99"),
)
PRODUCT_WEIGHTS = (20, 25, 15, 8, 3, 15, 10, 4)
INVOICE_CODES = ("71001", "71002")  # the storefront: iOS, Android
GIVEN_NAMES = ("Ava", "Noah", "Mia", "Liam", "Zoë", "Luca", "Emma", "Jonas", "Chloé", "Sean")
TOWNS = ("Riverside", "Fairview", "Millbrook", "Westfield", "Ashford")  # fake, like the names
SURNAMES = ("Smith", "Müller", "García", "Rossi", "Martin", "de Vries", "Murphy", "Gruber")

# Row-level problems (a value of the wrong type, a missing required value) planted in good files.
PAYMENT_DEFECTS = {
    "total_cost": "twelve",
    "payment_date": "yesterday",
    "transaction_id": None,
    "item_count": "two",
}
PAYPAL_DEFECTS = ("missing_transaction_id", "bad_initiation_date", "bad_amount")

TOTAL_FIELDS = (
    "files",
    "files_expected_to_fail",
    "rows_in",
    "rows_expected_loaded",
    "rows_expected_quarantined",
)
_Event = tuple[datetime, dict]  # a PayPal record with the moment PayPal dates it

_Player = namedtuple(
    "_Player", "user_id country paypal_country currency ip_address account_id given_name surname"
)
# A game DB row (which a defect may deface) with the facts its PayPal record is built from.
_Sale = namedtuple("_Sale", "row player paid_at product_name unit_price total")


@dataclass(frozen=True)
class GeneratedFile:
    """One lake object and what ingestion should do with it (``rows`` is 0 if it fails whole)."""

    key: str
    body: bytes
    pipeline: str | None
    format: str
    compression: str | None
    rows: int
    bad_rows: int
    expect_failure: str | None


@dataclass(frozen=True)
class GeneratedMonth:
    """All files of one generated month, in the order they would land in the bucket."""

    year: int
    month: int
    seed: int
    files: tuple[GeneratedFile, ...]

    def manifest(self) -> dict:
        """Each file and the row counts ingestion should report, in total and per pipeline."""
        totals = dict.fromkeys(TOTAL_FIELDS, 0)
        per_pipeline: dict[str, dict[str, int]] = {}
        for file in self.files:
            buckets = [totals]
            if file.pipeline is not None:
                buckets.append(per_pipeline.setdefault(file.pipeline, dict.fromkeys(totals, 0)))
            for bucket in buckets:
                bucket["files"] += 1
                bucket["rows_in"] += file.rows
                if file.expect_failure:
                    bucket["files_expected_to_fail"] += 1
                else:
                    bucket["rows_expected_loaded"] += file.rows - file.bad_rows
                    bucket["rows_expected_quarantined"] += file.bad_rows
        # Every field but the body, in declaration order.
        files = [{k: v for k, v in vars(file).items() if k != "body"} for file in self.files]
        return {
            "year": self.year,
            "month": self.month,
            "seed": self.seed,
            "files": files,
            "totals": totals,
            "pipelines": dict(sorted(per_pipeline.items())),
        }


def generate_month(
    year: int,
    month: int,
    *,
    seed: int = 7,
    payments_per_day: int = 30,
) -> GeneratedMonth:
    """Build one month of lake files; the same arguments always give byte-identical files."""
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1..12, got {month}")
    if payments_per_day < 1:
        raise ValueError(f"payments_per_day must be at least 1, got {payments_per_day}")
    rng = random.Random(f"{year:04d}-{month:02d}-{seed}")
    first = datetime(year, month, 1, tzinfo=UTC)
    month_days = (date(year + month // 12, month % 12 + 1, 1) - first.date()).days
    days = [first + timedelta(days=n) for n in range(month_days)]
    # Players depend on the seed only, so successive months share one player base.
    players = _players(random.Random(f"players-{seed}"), max(40, payments_per_day * 6))
    sales_by_day = _sales(rng, days, players, payments_per_day, (year % 100) * 12 + month)
    bad: set[int] = set()  # id() of every record that ingestion must quarantine
    all_sales = [sale for day_sales in sales_by_day for sale in day_sales]
    victims = _sample(rng, all_sales, len(PAYMENT_DEFECTS))
    for sale, (column, value) in zip(victims, PAYMENT_DEFECTS.items(), strict=False):
        sale.row[column] = value
        bad.add(id(sale.row))
    broken_day = rng.randrange(month_days // 3, 2 * month_days // 3)
    paypal_by_day = _paypal_records(rng, days, sales_by_day, broken_day, bad)

    files = _reference_files()
    for index, day in enumerate(days):
        files += _payment_files(rng, sales_by_day[index], bad)
        files += _paypal_files(rng, day, paypal_by_day[index], bad, broken=index == broken_day)
    files.append(_unknown_dump(days[-1], players))
    return GeneratedMonth(year, month, seed, tuple(files))


def write_month(generated: GeneratedMonth, directory: pathlib.Path) -> None:
    """Write each file to ``directory/<key>`` and the manifest to ``directory/manifest.json``."""
    for file in generated.files:
        path = directory / file.key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(file.body)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = json.dumps(generated.manifest(), indent=2) + "\n"
    (directory / "manifest.json").write_text(manifest, encoding="utf-8")


def _sample(rng: random.Random, items: list, count: int) -> list:
    return rng.sample(items, min(count, len(items)))


def _code(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(ALNUM, k=length))


def _money(currency: str, value: Decimal | str) -> dict[str, str]:
    return {"currency_code": currency, "value": str(value)}


def _players(rng: random.Random, count: int) -> list[_Player]:
    choices = (*COUNTRIES, None)
    weights = [PLAYER_SHARE[c.iso_2_code] for c in COUNTRIES] + [UNKNOWN_COUNTRY_WEIGHT]
    players = []
    for n in range(count):
        country = rng.choices(choices, weights)[0]
        # Most players pay in their local currency; the rest keep the store's USD default.
        local = country is not None and rng.random() < 0.75
        ip_prefix = rng.choice(("192.0.2", "198.51.100", "203.0.113"))  # documentation ranges
        currency = country.currency if local else "USD"
        name = (rng.choice(GIVEN_NAMES), rng.choice(SURNAMES))
        where = country or rng.choice(COUNTRIES)
        ip_address = f"{ip_prefix}.{rng.randint(1, 254)}"
        account_id = _code(rng, 13)
        players.append(_Player(1001 + n, country, where, currency, ip_address, account_id, *name))
    return players


def _sales(
    rng: random.Random, days: list[datetime], players: list[_Player], per_day: int, month_index: int
) -> list[list[_Sale]]:
    # Identifiers are offset by the month so that successive months never collide.
    next_id = month_index * 100_000 + 1
    by_day = []
    for day in days:
        count = max(1, round(per_day * rng.uniform(0.8, 1.2)))
        # Sales stay 5 minutes clear of midnight so each day's files hold only that day.
        seconds = sorted(rng.sample(range(300, 86_100), count))
        sales = []
        for offset in seconds:
            player = rng.choice(players)
            product_id, name, price = rng.choices(PRODUCTS, PRODUCT_WEIGHTS)[0]
            quantity = rng.choice((1, 1, 1, 1, 2, 3, 5)) if Decimal(price) < 5 else 1
            total = Decimal(price) * quantity
            paid_at = day + timedelta(seconds=offset)
            created_at = paid_at + timedelta(seconds=rng.randint(1, 6))
            row = {
                "transaction_id": next_id,
                "payment_merchant_id": 7,
                "merchant_invoice_code": rng.choice(INVOICE_CODES),
                "merchant_invoice_code_id": 13_000_000 + next_id,
                "user_id": player.user_id,
                "total_cost": str(total),
                "currency_code": player.currency,
                "payer_email": f"player{player.user_id}@example.com",
                "country_code": player.country.iso_2_code if player.country else "",
                "payment_date": paid_at.strftime(GAME_TIME),
                "transaction_status": "completed",
                "ip_address": player.ip_address,
                "created_at": created_at.strftime(GAME_TIME),
                "transaction_item_id": 500_000_000 + next_id,
                "product_id": product_id,
                "item_count": quantity,
            }
            sales.append(_Sale(row, player, paid_at, name, Decimal(price), total))
            next_id += 1
        by_day.append(sales)
    return by_day


def _paypal_record(rng: random.Random, sale: _Sale, account: str, txn_id: str) -> _Event:
    """PayPal's view of one sale, with when it started; balances are filled in date order."""
    player, row = sale.player, sale.row
    currency, where = player.currency, player.paypal_country
    status = "P" if rng.random() < 0.05 else "S"
    started = sale.paid_at - timedelta(seconds=rng.randint(2, 40))
    # A completed payment settles a moment after it starts; a pending one has not moved yet.
    updated = started + timedelta(seconds=rng.randint(1, 3) if status == "S" else 0)
    fee = -(sale.total * Decimal("0.029") + Decimal("0.30")).quantize(CENT, ROUND_HALF_UP)
    invoice = f"{row['merchant_invoice_code']}-{row['transaction_id']}"
    item = {
        "item_code": str(row["transaction_item_id"]),
        "item_name": f"{sale.product_name} (ID: #{row['product_id']})",
        "item_quantity": str(row["item_count"]),
        "item_unit_price": _money(currency, sale.unit_price),
        "item_amount": _money(currency, sale.total),
        "total_item_amount": _money(currency, sale.total),
        "invoice_number": invoice,
    }
    info = {
        "paypal_account_id": account,
        "transaction_id": txn_id,
        "transaction_event_code": rng.choice(("T0006", "T0007")),
        "transaction_initiation_date": started.strftime(PAYPAL_TIME),
        "transaction_updated_date": updated.strftime(PAYPAL_TIME),
        "transaction_amount": _money(currency, sale.total),
        "fee_amount": _money(currency, fee),
        "transaction_status": status,
        "ending_balance": None,
        "available_balance": None,
        "invoice_id": invoice,
        "custom_field": str(player.user_id),
        "protection_eligibility": "02",
    }
    name = {
        "given_name": player.given_name,
        "surname": player.surname,
        "alternate_full_name": f"{player.given_name} {player.surname}",
    }
    payer = {
        "account_id": player.account_id,
        "email_address": f"pp{player.user_id}@example.org",
        "address_status": "Y",
        "payer_status": "Y",
        "payer_name": name,
        "country_code": where.iso_2_code,
    }
    address = {
        "line1": f"{rng.randint(1, 240)} High Street",
        "city": rng.choice(TOWNS),
        "country_code": where.iso_2_code,
        "postal_code": str(rng.randint(1000, 99999)),
    }
    shipping = {"name": f"{player.surname}, {player.given_name}", "address": address}
    return started, {
        "transaction_info": info,
        "payer_info": payer,
        "shipping_info": shipping,
        "cart_info": {"item_details": [item]},
        "store_info": {},
        "auction_info": {},
        "incentive_info": {},
    }


def _refund(rng: random.Random, moment: datetime, original: dict, txn_id: str) -> _Event:
    """A T1107 refund of ``original`` at ``moment``; PayPal keeps its fixed fee."""
    source = original["transaction_info"]
    currency = source["transaction_amount"]["currency_code"]
    gross = Decimal(source["transaction_amount"]["value"])
    fee_back = (gross * Decimal("0.029")).quantize(CENT, ROUND_HALF_UP)
    when = moment.strftime(PAYPAL_TIME)
    info = {
        **source,
        "transaction_id": txn_id,
        "paypal_reference_id": source["transaction_id"],
        "paypal_reference_id_type": "TXN",
        "transaction_event_code": "T1107",
        "transaction_initiation_date": when,
        "transaction_updated_date": when,
        "transaction_amount": _money(currency, -gross),
        "fee_amount": _money(currency, fee_back),
        "transaction_status": "S",
    }
    record = {"transaction_info": info, "payer_info": copy.deepcopy(original["payer_info"])}
    if rng.random() < 0.5:  # PayPal sometimes repeats the cart on a refund, sometimes not
        record["cart_info"] = copy.deepcopy(original["cart_info"])
    record.update(store_info={}, auction_info={}, incentive_info={})
    return moment, record


def _paypal_records(
    rng: random.Random,
    days: list[datetime],
    sales_by_day: list[list[_Sale]],
    broken_day: int,
    bad: set[int],
) -> list[list[dict]]:
    """One PayPal record per sale plus a few refunds, grouped by the day PayPal dated them."""
    account, used_ids = _code(rng, 13), set()

    def new_id() -> str:
        while (txn := _code(rng, 17)) in used_ids:
            pass
        used_ids.add(txn)
        return txn

    events: list[_Event] = []
    refundable: list[_Event] = []
    last_refundable = days[-1] - timedelta(days=5)  # so every refund falls inside the month
    for index, day_sales in enumerate(sales_by_day):
        for sale in day_sales:
            events.append(_paypal_record(rng, sale, account, new_id()))
            # The broken page's records are lost, so no refund may point at one of them.
            completed = events[-1][1]["transaction_info"]["transaction_status"] == "S"
            if completed and index != broken_day and sale.paid_at < last_refundable:
                refundable.append(events[-1])
    refunded = _sample(rng, refundable, max(1, len(events) // 150))
    for started, original in refunded:
        moment = started + timedelta(days=rng.randint(1, 4), seconds=rng.randint(600, 30_000))
        if moment.day - 1 == broken_day:  # a refund on the broken page would be lost with it
            moment += timedelta(days=1)
        events.append(_refund(rng, moment, original, new_id()))
    events.sort(key=lambda event: event[0])  # stable: ties keep their generated order
    _fill_balances([record for _, record in events])

    refunded_ids = {id(record) for _, record in refunded}
    clean = [record for _, record in refundable if id(record) not in refunded_ids]
    for record, defect in zip(_sample(rng, clean, 3), PAYPAL_DEFECTS, strict=False):
        info = record["transaction_info"]
        if defect == "missing_transaction_id":
            del info["transaction_id"]
        elif defect == "bad_initiation_date":
            info["transaction_initiation_date"] = "not-a-date"
        else:
            info["transaction_amount"]["value"] = "N/A"
        bad.add(id(record))

    by_day: list[list[dict]] = [[] for _ in days]
    for moment, record in events:
        by_day[moment.day - 1].append(record)
    return by_day


def _fill_balances(records: list[dict]) -> None:
    """Running merchant balance per currency; pending payments are not yet available."""
    ending: dict[str, Decimal] = {}
    available: dict[str, Decimal] = {}
    for info in (record["transaction_info"] for record in records):
        currency = info["transaction_amount"]["currency_code"]
        net = Decimal(info["transaction_amount"]["value"]) + Decimal(info["fee_amount"]["value"])
        ending[currency] = ending.get(currency, Decimal("1000.00")) + net
        available.setdefault(currency, Decimal("1000.00"))
        if info["transaction_status"] == "S":
            available[currency] += net
        info["ending_balance"] = _money(currency, ending[currency])
        info["available_balance"] = _money(currency, available[currency])


def _loading_file(
    key: str,
    body: bytes,
    pipeline: str,
    layout: str,
    compression: str | None,
    records: Sequence[object],
    bad: AbstractSet[int] = frozenset(),
) -> GeneratedFile:
    """A file expected to load, counting its records and the defaced ones among them."""
    bad_rows = sum(id(record) in bad for record in records)
    return GeneratedFile(key, body, pipeline, layout, compression, len(records), bad_rows, None)


def _encode(records: list[dict], layout: str, compress: bool) -> tuple[bytes, str | None]:
    """Serialise records as ``layout`` (json_concat comes pretty or compact, both unseparated)."""
    if layout == "ndjson":
        text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    elif layout == "json_array":
        text = json.dumps(records, indent=2, ensure_ascii=False)
    else:
        indent, separators = (4, None) if layout == "json_concat_pretty" else (None, (",", ":"))
        text = "".join(json.dumps(r, indent=indent, separators=separators) for r in records)
    if compress:  # mtime=0 keeps the gzip bytes reproducible
        return gzip.compress(text.encode(), mtime=0), "gzip"
    return text.encode(), None


def _payment_files(rng: random.Random, sales: list[_Sale], bad: set[int]) -> list[GeneratedFile]:
    """Firehose deliveries: a few buffers a day, named by delivery time, with no extension."""
    parts = min(len(sales), rng.randint(3, 6))
    cuts = [0, *sorted(rng.sample(range(1, len(sales)), parts - 1)), len(sales)]
    files = []
    for start, stop in itertools.pairwise(cuts):
        rows = [sale.row for sale in sales[start:stop]]
        delivered = sales[stop - 1].paid_at + timedelta(seconds=rng.randint(60, 290))
        key = (
            f"payments/transactions/{delivered:%Y/%m/%d/%H}/payments-stream-1-"
            f"{delivered:%Y-%m-%d-%H-%M-%S}-{rng.getrandbits(32):08x}"
        )
        layout = rng.choices(("ndjson", "json_concat_pretty", "json_concat"), (2, 4, 4))[0]
        body, compression = _encode(rows, layout, rng.random() < 0.25)
        layout = layout.removesuffix("_pretty")
        files.append(_loading_file(key, body, PAYMENTS_PIPELINE, layout, compression, rows, bad))
    return files


def _paypal_files(
    rng: random.Random, day: datetime, records: list[dict], bad: set[int], *, broken: bool
) -> list[GeneratedFile]:
    """The extractor's pages for one day; on the broken day the first page is cut mid-record."""
    layout = "json_array" if broken or rng.random() < 0.7 else "ndjson"
    gzipped = not broken and rng.random() < 0.25
    folder = f"paypal/transactions/{day:%Y/%m/%d}"
    files = []
    for number, start in enumerate(range(0, len(records), PAYPAL_PAGE_SIZE), 1):
        page = records[start : start + PAYPAL_PAGE_SIZE]
        name = f"page-{number:04d}.json" if layout == "json_array" else f"part-{number:04d}"
        body, compression = _encode(page, layout, gzipped)
        key = f"{folder}/{name}"
        if broken and number == 1:
            # The extractor died mid-write: the array never closes, so nothing in it parses.
            body = body[: len(body) * 3 // 5]
            failed = GeneratedFile(key, body, PAYPAL_PIPELINE, layout, None, 0, 0, "MalformedFile")
            files.append(failed)
            continue
        key += ".gz" if compression else ""
        files.append(_loading_file(key, body, PAYPAL_PIPELINE, layout, compression, page, bad))
    return files


def _reference_files() -> list[GeneratedFile]:
    countries = io.StringIO()
    writer = csv.writer(countries, lineterminator="\n")
    writer.writerow(COUNTRY_COLUMNS)
    writer.writerows(country[: len(COUNTRY_COLUMNS)] for country in COUNTRIES)
    # Accounting exports VAT rates tab-separated with Windows line endings.
    rates = io.StringIO()
    writer = csv.writer(rates, delimiter="\t", lineterminator="\r\n")
    writer.writerow(VAT_COLUMNS)
    for c in COUNTRIES:
        percent = f"{Decimal(c.vat_rate) * 100:.0f}%"
        if c.is_in_european_union:
            name = f"MOSS - {c.country_name.title()} - {percent}"
        else:
            name = f"{percent} (VAT on Income)" if c.vat_rate != "0" else "No VAT (export)"
        writer.writerow([c.country_name, c.tax_code, c.vat_rate, name, c.iso_2_code])
    country_key = "reference/country_tax_codes/country_tax_codes.csv"
    vat_key = "reference/vat_rates/vat_rates.tsv"
    return [
        _loading_file(
            country_key, countries.getvalue().encode(), "country_tax_codes", "csv", None, COUNTRIES
        ),
        _loading_file(vat_key, rates.getvalue().encode(), "vat_rates", "tsv", None, COUNTRIES),
    ]


def _unknown_dump(day: datetime, players: list[_Player]) -> GeneratedFile:
    """An export someone dropped in the bucket under a prefix no pipeline claims."""
    text = "user_id,country_code,platform\n" + "".join(
        f"{p.user_id},{p.country.iso_2_code if p.country else ''},ios\n" for p in players[:5]
    )
    key = f"exports/unknown/dump-{day:%Y%m%d}.csv"
    return GeneratedFile(key, text.encode(), None, "csv", None, 0, 0, "UnknownPipeline")
