"""Errors the pipeline records in the ledger, classified by what the caller does next.

A terminal error fails the file for good (its bytes go to the error bucket and a person or
``ingest replay`` decides); a retryable one leaves the file to be claimed again by a redelivery.
The class name is the ``error_type`` written to the ledger and the sidecar.
"""

from __future__ import annotations


class IngestError(Exception):
    """A file could not be ingested; ``str(err)`` is the message a person reads."""

    retryable = False

    @property
    def error_type(self) -> str:
        return type(self).__name__


class ConfigError(IngestError):
    """The configuration is wrong: a pipeline YAML file, a setting, or a secret it names.

    Not retryable: a redelivery meets the same configuration. A file that fails with it is kept
    in the error bucket at once, for ``ingest replay`` once the configuration is fixed.
    """


class UnknownPipeline(IngestError):
    """No pipeline's key pattern matches the key, or more than one does."""


class EmptyFile(IngestError):
    """The object holds no records (zero bytes, whitespace only, a header only)."""


class UndecodableFile(IngestError):
    """The bytes are not text in a supported encoding, or a compressed stream is broken."""


class MalformedFile(IngestError):
    """The text does not parse as the detected or configured format."""


class LimitExceeded(IngestError):
    """The file passed one of the reader's bounds (``ingest.core.limits``): a record longer than
    ``INGEST_MAX_RECORD_BYTES``, more inflated bytes than ``INGEST_MAX_INFLATED_BYTES``, or more
    rejected rows than ``INGEST_MAX_BAD_ROW_SHARE`` allows. The message names the setting; kept
    at once, for ``ingest replay`` once the file is fixed or the setting raised."""


class MissingColumn(IngestError):
    """A column the pipeline requires is absent from the file."""


class SchemaDrift(IngestError):
    """The file holds fields its pipeline does not declare, and the pipeline says ``schema_drift:
    fail``. The message names each field and the first row carrying it; declare them, or set
    ``keep_extra``, then replay."""


class ValidationFailed(IngestError):
    """A critical table-level expectation of the pipeline's suite failed (or could not run)."""


class ObjectGone(IngestError):
    """The object was deleted between its event and our read."""

    @classmethod
    def at(cls, uri: str) -> ObjectGone:
        return cls(f"{uri} no longer exists (deleted after its event)")


class ObjectChanged(IngestError):
    """The object was overwritten between its event and our read (ETag differs)."""

    @classmethod
    def at(cls, uri: str, etag: str) -> ObjectChanged:
        return cls(f"{uri} changed after its event: ETag is no longer {etag}")


class NoValidRows(IngestError):
    """Every record of the file was rejected, so there is nothing to load."""

    @classmethod
    def among(cls, rows_in: int, first_row: int, first_reason: str) -> NoValidRows:
        """The error for ``rows_in`` rejected rows, naming the first one and why."""
        return cls(f"none of {rows_in} rows is valid; row {first_row}: {first_reason}")


class LoadFailed(IngestError):
    """BigQuery rejected the load job for a reason that retrying will not change."""


class TransientError(IngestError):
    """A dependency failed in a way that may pass (throttling, timeouts, 5xx)."""

    retryable = True


class PoisonFile(IngestError):
    """Every worker that read the file died before it could record an outcome (out of memory, a
    hard crash): its claim ran out on each attempt. Kept without being read again, so it cannot
    take another worker down."""


class InternalError(IngestError):
    """An unexpected exception: a bug or an unclassified vendor error. Retried, then kept."""

    retryable = True
