"""Resources: where the sources are read and where the results are written.

Connection URLs arrive through ``dg.EnvVar`` when they are set, so a password in one is
never shown in the UI or written to the event log; only :func:`redacted` forms are.
"""

from pathlib import Path

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from pydantic import PrivateAttr

from backlog_pipeline.canonical import RECOGNITION_COLUMNS, SourceError
from backlog_pipeline.demo.generate import ensure_demo
from backlog_pipeline.warehouse import create_warehouse_engine, redacted


class CrmExport(dg.ConfigurableResource):
    """A folder of CRM CSV exports in the canonical shape (``contracts.csv``, ...)."""

    directory: str
    demo_data_dir: str | None = None  # set when the folder is the embedded demo

    def describe(self) -> str:
        return f"CRM export {self.directory}"

    def read_table(self, table: str) -> pd.DataFrame:
        """Every cell as text: parsing and its errors belong to the canonical mapping."""
        if self.demo_data_dir:
            ensure_demo(Path(self.demo_data_dir))
        path = Path(self.directory) / f"{table}.csv"
        if not path.is_file():
            raise SourceError(f"{self.describe()}: {path.name} not found in {self.directory}")
        try:
            frame = pd.read_csv(
                path, dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False
            )
        except (pd.errors.ParserError, UnicodeDecodeError) as error:
            raise SourceError(f"{self.describe()}: {path.name} cannot be read: {error}") from None
        # Blank lines are dropped by label, so row numbers still match the file's lines.
        return frame[(frame != "").any(axis=1)]


class ErpDatabase(dg.ConfigurableResource):
    """An ERP database holding recognized revenue in the canonical shape."""

    url: str
    table: str = "recognition"
    demo_data_dir: str | None = None

    def describe(self) -> str:
        return f"ERP {redacted(self.url)} table {self.table}"

    def read_recognition(self) -> pd.DataFrame:
        if self.demo_data_dir:
            ensure_demo(Path(self.demo_data_dir))
        schema, _, name = self.table.rpartition(".")
        # Identifiers are quoted by SQLAlchemy, never formatted into the SQL text.
        source = sa.table(name, *(sa.column(c) for c in RECOGNITION_COLUMNS), schema=schema or None)
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as connection:
                return pd.read_sql(sa.select(source), connection)
        except sa.exc.SQLAlchemyError as error:
            message = str(error.orig if getattr(error, "orig", None) else error).splitlines()[0]
            raise SourceError(f"{self.describe()}: cannot read recognition: {message}") from None
        finally:
            engine.dispose()


class Warehouse(dg.ConfigurableResource):
    """The database the backlog is published to."""

    url: str
    _engine: sa.Engine | None = PrivateAttr(default=None)

    def describe(self) -> str:
        return redacted(self.url)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._engine = create_warehouse_engine(self.url)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._engine is not None:
            self._engine.dispose()

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = create_warehouse_engine(self.url)
        return self._engine


class DocumentFolder(dg.ConfigurableResource):
    """Where the KPI JSON documents are written, one folder per month."""

    path: str


class Reporting(dg.ConfigurableResource):
    """What the published figures are expressed in."""

    currency: str = "USD"
