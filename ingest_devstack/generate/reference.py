"""What the studio sells and where: countries with their tax codes, products, players, and the
reference files (tax tables, a month's exchange rates) that land in the lake beside the sales."""

from __future__ import annotations

import csv
import io
import json
import random
from collections import namedtuple
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ingest_devstack.generate.model import GeneratedFile

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
    Country(6251999, "NA", "North America", 0, "CA", "CAN", "CANADA", "T2", "0", "CAD"),
    Country(2077456, "OC", "Oceania", 0, "AU", "AUS", "AUSTRALIA", "T3", "0.1", "AUD"),
    Country(2921044, "EU", "Europe", 1, "DE", "DEU", "GERMANY", "T44", "0.19", "EUR"),
    Country(3017382, "EU", "Europe", 1, "FR", "FRA", "FRANCE", "T45", "0.2", "EUR"),
    Country(2510769, "EU", "Europe", 1, "ES", "ESP", "SPAIN", "T46", "0.21", "EUR"),
    Country(3175395, "EU", "Europe", 1, "IT", "ITA", "ITALY", "T47", "0.22", "EUR"),
    Country(2750405, "EU", "Europe", 1, "NL", "NLD", "NETHERLANDS", "T48", "0.21", "EUR"),
    Country(2782113, "EU", "Europe", 1, "AT", "AUT", "AUSTRIA", "T40", "0.2", "EUR"),
    Country(2963597, "EU", "Europe", 1, "IE", "IRL", "IRELAND", "T49", "0.23", "EUR"),
    Country(798544, "EU", "Europe", 1, "PL", "POL", "POLAND", "T50", "0.23", "PLN"),
    Country(2661886, "EU", "Europe", 1, "SE", "SWE", "SWEDEN", "T51", "0.25", "SEK"),
)
# Share of players per country: the US dominates, as in the real store.
PLAYER_SHARE = {
    "US": 40, "GB": 15, "CA": 5, "AU": 4, "DE": 8, "FR": 7, "ES": 5,
    "IT": 5, "NL": 5, "AT": 3, "IE": 4, "PL": 3, "SE": 3,
}  # fmt: skip
UNKNOWN_COUNTRY_WEIGHT = 8  # the game DB leaves country_code empty when the store did not say

# product_id, name, unit price in USD (the PayPal account's currency).
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
GIVEN_NAMES = ("Ava", "Noah", "Mia", "Liam", "Zoë", "Luca", "Emma", "Jonas", "Chloé", "Sean")
TOWNS = ("Riverside", "Fairview", "Millbrook", "Westfield", "Ashford")  # fake, like the names
SURNAMES = ("Smith", "Müller", "García", "Rossi", "Martin", "de Vries", "Murphy", "Gruber")
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
MAX_PLAYERS = 60_000

# Units of each currency per USD around 2021; each month drifts a little from these.
USD_RATES = {
    "AED": 3.6732, "AUD": 1.3512, "BGN": 1.6457, "BRL": 5.1912, "CAD": 1.2527, "CHF": 0.9137,
    "CNY": 6.4535, "CZK": 21.3603, "DKK": 6.2599, "EUR": 0.8418, "GBP": 0.7212, "HKD": 7.7717,
    "HUF": 292.61, "IDR": 14251.55, "ILS": 3.2006, "INR": 72.9947, "JPY": 109.7145,
    "KRW": 1155.75, "MXN": 19.9012, "MYR": 4.1515, "NOK": 8.6921, "NZD": 1.4113, "PHP": 49.8765,
    "PLN": 3.8441, "RON": 4.1523, "SAR": 3.7503, "SEK": 8.6034, "SGD": 1.3426, "THB": 32.545,
    "TRY": 8.3861, "TWD": 27.696, "USD": 1, "ZAR": 14.3787,
}  # fmt: skip
PEGGED = frozenset({"AED", "HKD", "SAR", "USD"})

Player = namedtuple("Player", "user_id country paypal_country ip_address account_id given_name surname")


def code(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(ALNUM, k=length))


def players(seed: int, count: int) -> list[Player]:
    """The player base; it depends on the seed only, so successive months share it."""
    rng = random.Random(f"players-{seed}")
    choices = (*COUNTRIES, None)
    weights = [PLAYER_SHARE[c.iso_2_code] for c in COUNTRIES] + [UNKNOWN_COUNTRY_WEIGHT]
    found = []
    for n in range(min(count, MAX_PLAYERS)):
        country = rng.choices(choices, weights)[0]
        ip_prefix = rng.choice(("192.0.2", "198.51.100", "203.0.113"))  # documentation ranges
        name = (rng.choice(GIVEN_NAMES), rng.choice(SURNAMES))
        where = country or rng.choice(COUNTRIES)  # PayPal always knows the payer's country
        ip_address = f"{ip_prefix}.{rng.randint(1, 254)}"
        found.append(Player(1001 + n, country, where, ip_address, code(rng, 13), *name))
    return found


def reference_files(rng: random.Random, first_day: datetime) -> list[GeneratedFile]:
    """The tax tables (replaced as a whole) and the month's exchange rates."""
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
    exchange = exchange_rates(rng, first_day)
    count = len(COUNTRIES)
    return [
        GeneratedFile(
            "reference/country_tax_codes/country_tax_codes.csv",
            countries.getvalue().encode(),
            "country_tax_codes",
            "csv",
            None,
            count,
            0,
            None,
        ),
        GeneratedFile(
            "reference/vat_rates/vat_rates.tsv",
            rates.getvalue().encode(),
            "vat_rates",
            "tsv",
            None,
            count,
            0,
            None,
        ),
        # One object, one row per currency once the pipeline's transform has spread it out.
        GeneratedFile(
            f"reference/exchange_rates/{first_day:%Y-%m-01}/exchange_rates_USD",
            json.dumps(exchange, separators=(",", ":")).encode(),
            "exchange_rates",
            "ndjson",
            None,
            len(exchange["rates"]),
            0,
            None,
        ),
    ]


def exchange_rates(rng: random.Random, first_day: datetime) -> dict[str, Any]:
    """An openexchangerates ``latest.json`` as fetched early on the first day of the month."""
    fetched = first_day + timedelta(seconds=rng.randint(600, 7200))
    rates: dict[str, float | int] = {}
    for currency, rate in USD_RATES.items():
        drift = 1 if currency in PEGGED else 1 + rng.uniform(-0.03, 0.03)
        rates[currency] = 1 if currency == "USD" else round(rate * drift, 6)
    return {
        "disclaimer": "Usage subject to terms: https://openexchangerates.org/terms",
        "license": "https://openexchangerates.org/license",
        "timestamp": int(fetched.timestamp()),
        "base": "USD",
        "rates": rates,
    }


def unknown_dump(day: datetime, known: list[Player]) -> GeneratedFile:
    """An export someone dropped in the bucket under a prefix no pipeline claims."""
    text = "user_id,country_code,platform\n" + "".join(
        f"{p.user_id},{p.country.iso_2_code if p.country else ''},ios\n" for p in known[:5]
    )
    key = f"exports/unknown/dump-{day:%Y%m%d}.csv"
    return GeneratedFile(key, text.encode(), None, "csv", None, 0, 0, "UnknownPipeline")
