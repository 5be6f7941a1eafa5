"""The harness's sections, one module each; every one takes the run's ``Bench`` and adds its figures.

``ours`` (e2e), ``peers`` (dlt, pandas-gbq, the DuckDB limit), ``memory``, ``lambda_shape`` and
``validation``. ``benchmarks.bench.__main__`` runs them in that order.
"""
