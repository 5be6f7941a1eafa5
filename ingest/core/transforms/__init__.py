"""Record transforms of the pipelines, and how a pipeline's transform runs over parsed rows.

A pipeline YAML names its transform as ``module:function`` (``ingest.core.transforms.paypal:
flatten_transaction``); ``apply`` runs it row by row, or its Arrow form over a whole file.
"""
