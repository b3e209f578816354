"""Source connectors: CRM and ERP systems mapped into SPEC's canonical shape.

Nothing here knows Dagster. Each connector returns all-text frames with SPEC's column
names, so :mod:`backlog_pipeline.sources.canonical` does the strict parsing and the quarantine
for every source alike; the Dagster resources in ``defs/resources.py`` wire them up.
"""
