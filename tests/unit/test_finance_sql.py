"""The reconciliation's SQL files render whole, and only BigQuery identifiers reach them."""

from __future__ import annotations

import pytest

from ingest.apps.finance import models, reconcile
from ingest.core.errors import ConfigError

SOURCES = {name: f"my-project.raw.{name}" for name in models.SOURCE_PIPELINES}


def sql_names() -> list[str]:
    return sorted(
        str(path.relative_to(models.SQL_DIR).with_suffix(""))
        for path in models.SQL_DIR.rglob("*.sql")
        if path.parent.name not in {"fragments", "statements"}
    )


@pytest.mark.parametrize("name", sql_names())
def test_every_sql_file_renders_with_every_placeholder_filled(name):
    tables = models.Tables(SOURCES, "recon", "my-project")
    extra = {"model": tables.model("matches")} if name == "report/model_rows" else {}

    sql = models.render(name, tables, **extra)

    assert "${" not in sql and "`my-project." in sql


def test_the_replace_days_statement_merges_the_model_into_its_own_table():
    tables = models.Tables(SOURCES, "recon", "my-project")
    matches = models.MODELS[0]

    statement = reconcile.replace_days_statement(matches, tables)

    assert statement.count("MERGE `my-project.recon.matches` AS target") == 1
    # The model's SQL once, as the source: none of it spilled into a comment.
    assert statement.count(models.render(matches.name, tables)) == 1
    assert f"INSERT ({', '.join(c.name for c in matches.columns)})" in statement
    assert "target.day BETWEEN @start AND @end THEN DELETE" in statement


@pytest.mark.parametrize(
    ("project", "dataset"),
    [
        ("my-project`; DROP TABLE x; --", "recon"),
        ("my-project", "recon.other"),
        ("my-project", "re con"),
        ("a.b", "recon"),
    ],
)
def test_a_project_or_dataset_that_is_no_bigquery_name_never_reaches_sql(project, dataset):
    with pytest.raises(ConfigError, match="not a BigQuery table id"):
        models.Tables(SOURCES, dataset, project)


def test_render_refuses_a_table_that_is_not_the_reconciliation_s():
    tables = models.Tables(SOURCES, "recon", "my-project")

    with pytest.raises(ValueError, match="not a table of the reconciliation"):
        models.render("report/model_rows", tables, model="my-project.elsewhere.secrets")
