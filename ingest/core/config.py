"""Pipeline configs: which keys go to which BigQuery table, with what schema and rules.

One YAML file per pipeline under ``ingest/pipelines/``. Loading validates every file up front,
so a typo in a config fails at start-up with the file name, not halfway through a batch.
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict, cast

import yaml

from ingest.core.bigquery_names import column_problem, dataset_problem, table_problem
from ingest.core.errors import ConfigError, UnknownPipeline

SCALAR_TYPES = {"STRING", "INT64", "NUMERIC", "FLOAT64", "BOOL", "TIMESTAMP", "DATE", "JSON"}
# RECORD columns are REPEATED lists of scalar fields (PayPal cart items); BigQuery nests deeper,
# but nothing here needs it and every level would cost the coercer a special case.
BIGQUERY_TYPES = SCALAR_TYPES | {"RECORD"}
FORMATS = {"auto", "ndjson", "json_array", "json_concat", "csv"}
# merge: load into staging, keep the latest row per business key, MERGE into the table.
# replace: each file is the whole table (reference data), swapped in by one truncating load.
# append: every row is kept (event logs with no business key worth deduplicating on).
WRITE_MODES = {"merge", "replace", "append"}
# What a file's undeclared fields do (``ingest.core.drift``): kept in ``_extra``, become new
# NULLABLE columns typed from the values seen (``ingest.core.drift_columns``), or fail the file.
SCHEMA_DRIFT_MODES = ("keep_extra", "add_columns", "fail")
PARTITION_TYPES = {"TIMESTAMP", "DATE"}
# BigQuery clusters on up to four top-level columns of orderable scalar types.
CLUSTER_TYPES = {"STRING", "INT64", "NUMERIC", "BOOL", "TIMESTAMP", "DATE"}
MAX_CLUSTER_COLUMNS = 4
# A suite names a JSON file in the expectations folder: a plain file name, no path.
_SUITE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")

# Columns the pipeline adds to every table, for lineage and for counting a file's rows.
LINEAGE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("_source_uri", "STRING", "REQUIRED"),
    ("_source_etag", "STRING", "REQUIRED"),
    ("_source_row", "INT64", "REQUIRED"),
    ("_ingested_at", "TIMESTAMP", "REQUIRED"),
)
EXTRA_COLUMN = "_extra"

RecordTransform = Callable[[dict[str, Any]], list[dict[str, Any]]]
"""A pipeline's record transform: one source record in, the rows it stands for out."""


class Lineage(TypedDict):
    """The lineage columns' values shared by every row of one file (``_source_row`` is per row)."""

    _source_uri: str
    _source_etag: str
    _ingested_at: datetime


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    mode: str = "NULLABLE"
    source: str = ""
    """Dotted path of the value in a JSON record, or the CSV header; defaults to ``name``."""
    fields: tuple[Column, ...] = ()
    """The fields of a RECORD column, their sources relative to one list element."""
    pseudonymise: bool = False
    """Store a keyed hash of the value instead of the value (payer emails): joinable, not readable."""
    free_text: bool = False
    """Text a person typed (a note, PayPal's custom field): email and phone shapes in it are masked
    before storage (``coerce.privacy.mask_free_text``); the rest of the text is kept."""

    @property
    def required(self) -> bool:
        return self.mode == "REQUIRED"

    @property
    def repeated(self) -> bool:
        return self.mode == "REPEATED"

    @property
    def source_path(self) -> tuple[str, ...]:
        return tuple((self.source or self.name).split("."))


@dataclass(frozen=True)
class Pipeline:
    name: str
    key_pattern: re.Pattern[str]
    dataset: str
    table: str
    columns: tuple[Column, ...]
    business_key: tuple[str, ...]
    format: str = "auto"
    write_mode: str = "append"
    latest_by: str | None = None
    """merge mode: the column whose greatest value wins among rows of one business key
    (PayPal's ``transaction_updated_date``). Without it, the row ingested last wins."""
    partition_by: str | None = None
    """TIMESTAMP or DATE column the table is partitioned on by day. In merge mode it must not
    change for a business key: the MERGE only reads the partitions its new rows fall in."""
    cluster_by: tuple[str, ...] = ()
    suite: str | None = None
    record_column: str | None = None
    """If set, the whole record (after redaction) is kept in this JSON column."""
    redact: tuple[str, ...] = ()
    """Dotted paths removed from records before anything is stored (personal data)."""
    transform: str | None = None
    """``module:function`` turning one parsed record into the rows to coerce (see ``transform_function``)."""
    description: str = ""
    schema_drift: str = "keep_extra"
    """Fields the pipeline does not declare: kept in ``_extra`` (``keep_extra``), added to the
    table as NULLABLE columns (``add_columns``, ``ingest.core.drift_columns``), or the file fails
    with ``SchemaDrift`` (``fail``, ``ingest.core.drift``)."""
    freshness_minutes: int | None = None
    """A file of this pipeline is expected at least this often; the freshness alarm (and
    ``ingest health``) fires after a longer silence. None: files come irregularly, no alarm."""

    @property
    def table_id(self) -> str:
        return f"{self.dataset}.{self.table}"

    @property
    def pseudonymises(self) -> bool:
        return any(c.pseudonymise for c in self.columns)

    def transform_function(self) -> RecordTransform | None:
        """The record transform: one source record in, the rows it stands for out.

        PayPal records gain derived fields (product names); an exchange-rate object becomes one
        row per currency. A transform raises ValueError for a record it cannot read.
        """
        return resolve_transform(self.transform) if self.transform else None

    def bigquery_columns(self) -> list[Column]:
        """Columns of the loaded table: data columns, kept record, extras, lineage."""
        columns = list(self.columns)
        if self.record_column:
            columns.append(Column(self.record_column, "JSON"))
        columns.append(Column(EXTRA_COLUMN, "JSON"))
        columns.extend(Column(name, type_, mode) for name, type_, mode in LINEAGE_COLUMNS)
        return columns


def resolve_transform(reference: str) -> RecordTransform:
    module_name, _, function_name = reference.partition(":")
    function: object = getattr(importlib.import_module(module_name), function_name, None)
    if not callable(function):
        raise ConfigError(f"transform {reference!r} is not a function")
    # Its signature cannot be checked at run time; a transform that breaks it fails its rows.
    return cast(RecordTransform, function)


def _parse_column(spec: object, fail: Callable[[str], ConfigError], nested: bool = False) -> Column:
    if not isinstance(spec, dict) or not {"name", "type"} <= spec.keys():
        raise fail(f"each column needs a name and a type, got {spec!r}")
    if problem := column_problem(spec["name"]):
        raise fail(problem)
    column_type = str(spec["type"]).upper()
    default_mode = "REPEATED" if column_type == "RECORD" else "NULLABLE"
    column = Column(
        name=spec["name"],
        type=column_type,
        mode=str(spec.get("mode", default_mode)).upper(),
        source=spec.get("source", ""),
        fields=tuple(_parse_column(f, fail, nested=True) for f in spec.get("fields", ())),
        pseudonymise=bool(spec.get("pseudonymise", False)),
        free_text=bool(spec.get("free_text", False)),
    )
    allowed = SCALAR_TYPES if nested else BIGQUERY_TYPES
    if column.type not in allowed:
        raise fail(f"column {column.name}: type {column.type} not one of {sorted(allowed)}")
    if column.type == "RECORD":
        if column.mode != "REPEATED" or not column.fields:
            raise fail(f"column {column.name}: a RECORD column is REPEATED and lists its fields")
    elif column.mode not in {"NULLABLE", "REQUIRED"}:
        raise fail(f"column {column.name}: mode must be NULLABLE or REQUIRED")
    if column.pseudonymise and column.type != "STRING":
        raise fail(f"column {column.name}: only STRING columns can be pseudonymised")
    if column.free_text and (column.type != "STRING" or nested or column.pseudonymise):
        # A pseudonymised value is a hash already; a RECORD's fields have no masking step.
        raise fail(f"column {column.name}: free_text applies to top-level STRING columns not pseudonymised")
    return column


def parse_pipeline(raw: dict[str, Any], origin: str) -> Pipeline:
    """Build a Pipeline from one YAML document, or raise ConfigError naming ``origin``."""

    def fail(message: str) -> ConfigError:
        return ConfigError(f"{origin}: {message}")

    missing = {"name", "key_pattern", "table", "columns", "business_key"} - raw.keys()
    if missing:
        raise fail(f"missing keys {sorted(missing)}")
    dataset, table = _table_parts(raw["table"], fail)
    try:
        pattern = re.compile(raw["key_pattern"])
    except (re.error, TypeError) as err:
        raise fail(f"key_pattern does not compile: {err}") from err
    if not pattern.pattern:
        raise fail("key_pattern is empty: it would claim every key in the lake")

    if not isinstance(raw["columns"], list):
        raise fail(f"columns must be a list, got {raw['columns']!r}")
    columns = [_parse_column(spec, fail) for spec in raw["columns"]]
    names = [c.name for c in columns]
    # BigQuery column names ignore case: "Amount" and "amount" are one column.
    if len({name.lower() for name in names}) != len(names):
        repeated = sorted({n for n in names if [m.lower() for m in names].count(n.lower()) > 1})
        raise fail(f"column names repeat (BigQuery ignores case): {repeated}")
    reserved = {EXTRA_COLUMN, *(name for name, _, _ in LINEAGE_COLUMNS)}
    if raw.get("record_column"):
        if problem := column_problem(raw["record_column"]):
            raise fail(f"record_column: {problem}")
        reserved.add(raw["record_column"])
    # In any case: to BigQuery "_Extra" is the _extra column.
    if clash := sorted(n for n in names if n.lower() in {r.lower() for r in reserved}):
        raise fail(f"column names {clash} are reserved for lineage, extras or the kept record")
    business_key = _column_names(raw, "business_key", fail)
    if unknown := set(business_key) - set(names):
        raise fail(f"business_key names unknown columns {sorted(unknown)}")
    # The MERGE compares keys for equality and partitions by them; BigQuery can do neither with
    # arrays of records or JSON.
    if unkeyed := [c.name for c in columns if c.name in business_key and c.type in {"RECORD", "JSON"}]:
        raise fail(f"business_key columns {unkeyed} are RECORD or JSON, which BigQuery cannot compare")

    pipeline = Pipeline(
        name=raw["name"],
        key_pattern=pattern,
        dataset=dataset,
        table=table,
        columns=tuple(columns),
        business_key=business_key,
        format=raw.get("format", "auto"),
        write_mode=raw.get("write_mode", "append"),
        latest_by=raw.get("latest_by"),
        partition_by=raw.get("partition_by"),
        cluster_by=_column_names(raw, "cluster_by", fail),
        suite=raw.get("suite"),
        record_column=raw.get("record_column"),
        redact=tuple(raw.get("redact", ())),
        transform=raw.get("transform"),
        description=raw.get("description", ""),
        schema_drift=raw.get("schema_drift", "keep_extra"),
        freshness_minutes=raw.get("freshness_minutes"),
    )
    _check_schema_drift(pipeline, fail)
    if pipeline.freshness_minutes is not None and (
        not isinstance(pipeline.freshness_minutes, int) or pipeline.freshness_minutes < 1
    ):
        raise fail(f"freshness_minutes must be a whole number of minutes, got {pipeline.freshness_minutes!r}")
    if pipeline.transform is not None:
        try:
            resolve_transform(pipeline.transform)
        except (ImportError, ValueError, ConfigError) as err:
            raise fail(f"transform {pipeline.transform!r} cannot be loaded: {err}") from err
    if pipeline.format not in FORMATS:
        raise fail(f"format {pipeline.format!r} not one of {sorted(FORMATS)}")
    if pipeline.write_mode not in WRITE_MODES:
        raise fail(f"write_mode {pipeline.write_mode!r} not one of {sorted(WRITE_MODES)}")
    if pipeline.suite is not None and not (
        isinstance(pipeline.suite, str) and _SUITE_NAME.fullmatch(pipeline.suite)
    ):
        raise fail(f"suite {pipeline.suite!r} must be a file name in the expectations folder, no path")
    _check_table_layout(pipeline, fail)
    return pipeline


def _check_schema_drift(pipeline: Pipeline, fail: Callable[[str], ConfigError]) -> None:
    mode = pipeline.schema_drift
    if mode not in SCHEMA_DRIFT_MODES:
        raise fail(f"schema_drift {mode!r} not one of {list(SCHEMA_DRIFT_MODES)}")
    # The kept record holds every field whether a column reads it or not, so no field is extra.
    if mode != "keep_extra" and pipeline.record_column:
        raise fail(
            f"schema_drift: {mode} needs a pipeline without record_column: {pipeline.record_column} "
            "keeps every field of the record, so none is undeclared"
        )
    if mode == "add_columns" and pipeline.write_mode == "replace":
        # Each file is the whole table: a column it brings is declared, not grown into.
        raise fail(
            "schema_drift: add_columns is for merge and append pipelines; declare a replace table's columns"
        )


def _table_parts(value: object, fail: Callable[[str], ConfigError]) -> tuple[str, str]:
    """``dataset.table`` split in two, each checked against BigQuery's naming rules."""
    if not isinstance(value, str) or value.count(".") != 1:
        raise fail(f"table must be 'dataset.table', got {value!r}")
    dataset, _, table = value.partition(".")
    if problem := dataset_problem(dataset) or table_problem(table):
        raise fail(f"table must be 'dataset.table': {problem}")
    return dataset, table


def _column_names(raw: dict[str, Any], key: str, fail: Callable[[str], ConfigError]) -> tuple[str, ...]:
    """A list of column names (``business_key``, ``cluster_by``); each must name a column."""
    value = raw.get(key, [])
    if not isinstance(value, list | tuple) or not all(isinstance(name, str) for name in value):
        raise fail(f"{key} must be a list of column names, got {value!r}")
    if len({name.lower() for name in value}) != len(value):
        raise fail(f"{key} names a column twice: {value!r}")
    return tuple(value)


def _check_table_layout(pipeline: Pipeline, fail: Callable[[str], ConfigError]) -> None:
    types = {c.name: c.type for c in pipeline.columns}
    if pipeline.write_mode == "merge" and not pipeline.business_key:
        raise fail("write_mode merge needs a business_key: the columns a row is merged on")
    if pipeline.latest_by is not None:
        if pipeline.write_mode != "merge":
            raise fail("latest_by only applies to write_mode merge")
        if _type_of(types, pipeline.latest_by) not in {"TIMESTAMP", "DATE", "INT64"}:
            raise fail(f"latest_by {pipeline.latest_by!r} must name a TIMESTAMP, DATE or INT64 column")
    if pipeline.partition_by is not None and _type_of(types, pipeline.partition_by) not in PARTITION_TYPES:
        raise fail(f"partition_by {pipeline.partition_by!r} must name a TIMESTAMP or DATE column")
    if len(pipeline.cluster_by) > MAX_CLUSTER_COLUMNS:
        raise fail(f"cluster_by takes at most {MAX_CLUSTER_COLUMNS} columns")
    for name in pipeline.cluster_by:
        if types.get(name) not in CLUSTER_TYPES:
            raise fail(f"cluster_by {name!r} must name a column of type {sorted(CLUSTER_TYPES)}")


def _type_of(types: dict[str, str], name: object) -> str | None:
    """The type of the column ``name`` names; None if it is no column's name (or not text)."""
    return types.get(name) if isinstance(name, str) else None


def load_pipelines(directory: Path) -> tuple[Pipeline, ...]:
    """All pipelines in ``directory``, sorted by name."""
    pipelines = []
    for path in sorted(directory.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        pipelines.append(parse_pipeline(raw, str(path)))
    if not pipelines:
        raise ConfigError(f"no pipeline YAML files in {directory}")
    names = [p.name for p in pipelines]
    if len(set(names)) != len(names):
        raise ConfigError(f"{directory}: pipeline names repeat: {names}")
    return tuple(sorted(pipelines, key=lambda p: p.name))


def route(key: str, pipelines: tuple[Pipeline, ...]) -> Pipeline:
    """The one pipeline whose key pattern matches ``key`` (already URL-decoded)."""
    matches = [p for p in pipelines if p.key_pattern.search(key)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UnknownPipeline(f"no pipeline matches key {key!r}")
    names = ", ".join(p.name for p in matches)
    raise UnknownPipeline(f"key {key!r} matches more than one pipeline ({names})")


def no_pipeline_named(name: str, known: Iterable[str]) -> str:
    """What to say of ``--pipeline NAME`` naming no pipeline: the closest name, then all of them."""
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"no pipeline named {name!r}; {hint}pipelines: {', '.join(names)}"
