"""Land payment files from an S3 data lake in BigQuery exactly once; keep what fails, with the reason."""

__version__ = "0.1.0"
