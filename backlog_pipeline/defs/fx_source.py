"""The exchange rates' source as a resource: a CSV file, a table of the ERP database, or
none (a company in one currency needs no rates). The ERP's URL arrives as ``dg.EnvVar``.
"""

from pathlib import Path

import dagster as dg
import pandas as pd

from backlog_pipeline.accounting.fx_rates import empty_rates
from backlog_pipeline.demo.generate import ensure_demo
from backlog_pipeline.sources.rates import read_rates_csv, read_rates_table
from backlog_pipeline.warehouse.engine import redacted


class FxRatesSource(dg.ConfigurableResource):
    """Where the monthly average and closing rates are read from (``BACKLOG_FX_RATES_*``)."""

    csv_path: str | None = None
    table: str | None = None
    url: str | None = None  # the ERP database holding ``table``
    demo_data_dir: str | None = None  # set when the table is the embedded demo's

    @property
    def configured(self) -> bool:
        return self.csv_path is not None or self.table is not None

    def describe(self) -> str:
        if self.csv_path is not None:
            return f"rates file {self.csv_path}"
        if self.table is not None:
            return f"rates table {self.table} in ERP {redacted(self.url or '')}"
        return "no rates source (every contract must be in the reporting currency)"

    def read(self, reporting_currency: str) -> pd.DataFrame:
        """The canonical rates frame; ``sources.rates.RatesError`` names each bad row."""
        if self.demo_data_dir:
            ensure_demo(Path(self.demo_data_dir))
        if self.csv_path is not None:
            return read_rates_csv(Path(self.csv_path), reporting_currency)
        if self.table is not None:
            return read_rates_table(self.url or "", self.table, self.describe(), reporting_currency)
        return empty_rates()
