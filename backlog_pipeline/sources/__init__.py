"""Sources: every system's records turned into SPEC's canonical shape, one module per system.

Nothing here knows Dagster. Each connector (``csv_export``, which reads each file with
``csv_file`` and ``csv_records``, ``sql``, ``salesforce``,
``hubspot``, ``netsuite``, with ``http`` and ``local_copy`` for the HTTP ones) returns
all-text frames with SPEC's column names, so :mod:`backlog_pipeline.sources.canonical`
(with the strict parsers of ``parsing``) maps them and quarantines bad rows for every
source alike; the Dagster resources in ``defs/resources.py`` wire them up.
"""
