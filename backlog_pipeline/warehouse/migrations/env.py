"""Alembic's environment: migrations run on the connection :mod:`..migrate` hands over.

There is no alembic.ini: the pipeline migrates its warehouse itself, before first use
(``warehouse.migrate.upgrade``), so the schema of any warehouse it opens is the schema of
the code that opens it.
"""

from alembic import context

from backlog_pipeline.warehouse.schema import metadata

connection = context.config.attributes["connection"]
# Batch mode: SQLite alters a table by copying it, which is the only way it can change a
# column's type or constraints.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
