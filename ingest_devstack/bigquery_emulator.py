"""Launch the ``local-bigquery`` emulator offline. Runs inside the emulator's own venv.

The emulator's DuckDB would download its ``ducklake`` and ``spatial`` extensions at first use,
which a machine without internet cannot do. This launcher installs them from the
``duckdb-extension-*`` wheels into a local extension directory, turns autoinstall off, and sets
the time zone after connecting (setting it in the connect config needs the ICU extension first).
It imports nothing from ``ingest``: the emulator venv does not have the package.
"""

import os
import sys
from typing import Any

import duckdb
from duckdb_extensions import import_extension

EXTENSIONS = ("ducklake", "spatial")
_original_connect = duckdb.connect


def _connect(
    database: str = ":memory:", read_only: bool = False, config: dict[str, Any] | None = None, **kwargs: Any
) -> duckdb.DuckDBPyConnection:
    config = dict(config or {})
    time_zone = config.pop("TimeZone", None)
    config.setdefault("autoinstall_known_extensions", False)
    config.setdefault("extension_directory", os.environ["INGEST_DUCKDB_EXTENSION_DIR"])
    connection = _original_connect(database, read_only=read_only, config=config, **kwargs)
    if time_zone:
        connection.execute(f"SET TimeZone = '{time_zone}'")
    return connection


def main(argv: list[str]) -> None:
    duckdb.connect = _connect
    with _connect() as connection:
        for name in EXTENSIONS:
            import_extension(name, con=connection)
    from local_bigquery.cli import main as serve

    serve(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
