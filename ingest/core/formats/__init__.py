"""Turn an object's bytes into numbered records, whatever the format, without trusting names.

Lake files often have no extension, so everything is read from the content: compression from
magic bytes (gzip, bzip2, zstd), Parquet from its magic, the text encoding from its BOM
(UTF-8 or UTF-16, UTF-8 without one), then the first meaningful character: ``[`` a JSON array,
``{`` NDJSON or concatenated objects as Firehose writes them, anything else CSV with a sniffed
delimiter.

Everything streams: the reader holds a bounded window of the file, never the whole of it. A
record that cannot be read on its own (one bad NDJSON line, a ragged CSV row) becomes a
``ParsedRow`` with an error so the good rows still load; a file whose structure is broken
(truncated array, invalid UTF-8, corrupt compression) raises an ``IngestError`` for the file.

``reader`` is the entry point (``open_rows``); ``decompress`` and ``detect`` read the head;
``csv_rows``, ``json_rows`` and ``parquet_rows`` read one format each.
"""
