"""Pipeline configs: which keys go to which BigQuery table, with what schema and rules.

One YAML file per pipeline under ``ingest/pipelines/``. Loading validates every file up front,
so a typo in a config fails at start-up with the file name, not halfway through a batch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ingest.errors import UnknownPipeline

BIGQUERY_TYPES = {"STRING", "INT64", "NUMERIC", "FLOAT64", "BOOL", "TIMESTAMP", "DATE", "JSON"}
FORMATS = {"auto", "ndjson", "json_array", "json_concat", "csv"}
WRITE_MODES = {"append", "replace"}
# BigQuery naming rules: datasets take letters, digits and underscores; tables also take
# Unicode letters, dashes and spaces. Neither may hold a dot (no project part here).
_DATASET_NAME = re.compile(r"[A-Za-z0-9_]{1,1024}")
_TABLE_NAME = re.compile(r"[\w\- ]{1,1024}")

# Columns the pipeline adds to every table, for lineage and for counting a file's rows.
LINEAGE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("_source_uri", "STRING", "REQUIRED"),
    ("_source_etag", "STRING", "REQUIRED"),
    ("_source_row", "INT64", "REQUIRED"),
    ("_ingested_at", "TIMESTAMP", "REQUIRED"),
)
EXTRA_COLUMN = "_extra"


class ConfigError(ValueError):
    """A pipeline YAML file is invalid."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    mode: str = "NULLABLE"
    source: str = ""
    """Dotted path of the value in a JSON record, or the CSV header; defaults to ``name``."""

    @property
    def required(self) -> bool:
        return self.mode == "REQUIRED"

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
    suite: str | None = None
    record_column: str | None = None
    """If set, the whole record (after redaction) is kept in this JSON column."""
    redact: tuple[str, ...] = ()
    """Dotted paths removed from records before anything is stored (personal data)."""
    description: str = ""

    @property
    def table_id(self) -> str:
        return f"{self.dataset}.{self.table}"

    def bigquery_columns(self) -> list[tuple[str, str, str]]:
        """(name, type, mode) of the loaded table: data columns, kept record, extras, lineage."""
        columns = [(c.name, c.type, c.mode) for c in self.columns]
        if self.record_column:
            columns.append((self.record_column, "JSON", "NULLABLE"))
        columns.append((EXTRA_COLUMN, "JSON", "NULLABLE"))
        columns.extend(LINEAGE_COLUMNS)
        return columns


def parse_pipeline(raw: dict[str, Any], origin: str) -> Pipeline:
    """Build a Pipeline from one YAML document, or raise ConfigError naming ``origin``."""

    def fail(message: str) -> ConfigError:
        return ConfigError(f"{origin}: {message}")

    missing = {"name", "key_pattern", "table", "columns", "business_key"} - raw.keys()
    if missing:
        raise fail(f"missing keys {sorted(missing)}")
    dataset, _, table = str(raw["table"]).partition(".")
    if not _DATASET_NAME.fullmatch(dataset) or not _TABLE_NAME.fullmatch(table):
        raise fail(f"table must be 'dataset.table', got {raw['table']!r}")
    try:
        pattern = re.compile(raw["key_pattern"])
    except (re.error, TypeError) as err:
        raise fail(f"key_pattern does not compile: {err}") from err

    columns = []
    for spec in raw["columns"]:
        if not isinstance(spec, dict) or not {"name", "type"} <= spec.keys():
            raise fail(f"each column needs a name and a type, got {spec!r}")
        column = Column(
            name=spec["name"],
            type=str(spec["type"]).upper(),
            mode=str(spec.get("mode", "NULLABLE")).upper(),
            source=spec.get("source", ""),
        )
        if column.type not in BIGQUERY_TYPES:
            raise fail(f"column {column.name}: type {column.type} not one of {sorted(BIGQUERY_TYPES)}")
        if column.mode not in {"NULLABLE", "REQUIRED"}:
            raise fail(f"column {column.name}: mode must be NULLABLE or REQUIRED")
        columns.append(column)
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise fail("column names repeat")
    reserved = {EXTRA_COLUMN, *(name for name, _, _ in LINEAGE_COLUMNS)}
    if raw.get("record_column"):
        reserved.add(raw["record_column"])
    if clash := reserved & set(names):
        raise fail(f"column names {sorted(clash)} are reserved for lineage, extras or the kept record")
    business_key = tuple(raw["business_key"])
    if unknown := set(business_key) - set(names):
        raise fail(f"business_key names unknown columns {sorted(unknown)}")

    pipeline = Pipeline(
        name=raw["name"],
        key_pattern=pattern,
        dataset=dataset,
        table=table,
        columns=tuple(columns),
        business_key=business_key,
        format=raw.get("format", "auto"),
        write_mode=raw.get("write_mode", "append"),
        suite=raw.get("suite"),
        record_column=raw.get("record_column"),
        redact=tuple(raw.get("redact", ())),
        description=raw.get("description", ""),
    )
    if pipeline.format not in FORMATS:
        raise fail(f"format {pipeline.format!r} not one of {sorted(FORMATS)}")
    if pipeline.write_mode not in WRITE_MODES:
        raise fail(f"write_mode {pipeline.write_mode!r} not one of {sorted(WRITE_MODES)}")
    return pipeline


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
