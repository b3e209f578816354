"""The accounting of SPEC.md in plain pandas: no Dagster, no I/O.

Money is integer cents (see :mod:`backlog_pipeline.money`), months are integer indices
(see :mod:`backlog_pipeline.periods`).
"""
