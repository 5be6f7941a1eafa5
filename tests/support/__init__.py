"""In-memory fakes of the ingestion ports, and the Services that wire them, for fast tests.

Each fake keeps the promises its port documents (``ingest.ingestion.ports``) and nothing more:
``FakeLake`` holds object versions and an error bucket, ``FakeLedger`` applies the ledger's own
claim rules, ``FakeWarehouse`` keeps rows per table and fails when told, ``FakeValidationSink``
keeps the suite's results. ``fake_services`` builds Services on them.
"""
