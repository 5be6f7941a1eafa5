"""The notification S3 sends when an object lands, for whoever plays S3 on the local stack.

The benchmarks and the load test send it themselves (to the handler, or through a queue of
their own) instead of letting moto send it, so the event has the real shape: the key URL-encoded
as S3 encodes it, a sequencer, the requester's identity. The builder lives in the package
(``ingest.core.s3_events``) because ``ingest backfill`` sends the same events in production.
"""

from __future__ import annotations

from ingest.core.s3_events import object_created

__all__ = ["object_created"]
