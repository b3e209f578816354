"""The resource classes: thin Dagster wrappers over ``sources/`` and ``warehouse/``.

Connection URLs and tokens arrive through ``dg.EnvVar`` when they are set, so a password or
token is never shown in the UI or written to the event log; only redacted forms are. The
CRM and ERP resources share one interface (:class:`CrmSource`, :class:`ErpSource`)
whatever system is behind them, so the source assets and their lineage do not change.
Which ones this code location uses, built from the settings, is in ``defs/deployment.py``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from pydantic import Field, PrivateAttr

from backlog_pipeline.demo.generate import ensure_demo
from backlog_pipeline.provenance import source_mark
from backlog_pipeline.sources import csv_export, hubspot, netsuite, salesforce, sql, sql_pull
from backlog_pipeline.sources.canonical import (
    CHANGE_COLUMNS,
    MAX_QUARANTINE_SHARE,
    RECOGNITION_COLUMNS,
    ParsedTable,
    parse_in_batches,
)
from backlog_pipeline.sources.http import HttpPolicy, Log
from backlog_pipeline.sources.local_copy import Batch, LocalCopy, PullResult
from backlog_pipeline.sources.snapshot import carried_marks
from backlog_pipeline.sources.sql_pull import Pulled
from backlog_pipeline.warehouse.engine import open_warehouse, redacted


@dataclass(frozen=True)
class SourceRead:
    """A source table's raw text rows and what the pull did, for the asset's metadata."""

    raw: pd.DataFrame
    high_water_mark: str | None  # latest modification time seen, ISO 8601; None if unknown
    fetched: int  # records fetched by this read (only the changed ones on an incremental pull)
    total: int  # records in the source's copy after the merge
    raw_rows: int | None = None  # rows mapped as they streamed in (then ``raw`` is empty)
    mark: dict | None = None  # the source mark, computed when its snapshot was written
    pulled: str | None = None  # how the source was pulled (incremental, or why full)

    @property
    def rows(self) -> int:
        """Raw rows handed to the canonical mapping."""
        return len(self.raw) if self.raw_rows is None else self.raw_rows


class SourceResource(dg.ConfigurableResource):
    """What every source resource has: a description safe to show, and a quarantine limit."""

    max_quarantine_share: float = MAX_QUARANTINE_SHARE

    def describe(self) -> str:
        raise NotImplementedError


class CrmSource(SourceResource):
    def read(self, table: str, log: Log) -> SourceRead:
        """``contracts`` or ``contract_changes`` as text columns named as in SPEC."""
        raise NotImplementedError


class ErpSource(SourceResource):
    def read(self, log: Log) -> SourceRead:
        """Recognition lines as columns named as in SPEC."""
        raise NotImplementedError

    def read_parsed(
        self,
        log: Log,
        parse: Callable[[pd.DataFrame], ParsedTable],
        open_from: str | None = None,  # YYYY-MM: the first month the run closes
    ) -> tuple[SourceRead, ParsedTable]:
        """The lines read and mapped by ``parse``; a large source may map them as they come."""
        read = self.read(log)
        return read, parse(read.raw)


class HttpSource(dg.ConfigurableResource):
    """Settings every HTTP connector shares: timeouts, retries, the local copy."""

    copy_dir: str
    full_refresh: bool = False
    http_timeout: float = HttpPolicy.timeout
    http_max_attempts: int = HttpPolicy.max_attempts
    http_backoff: float = HttpPolicy.backoff
    http_max_wait: float = HttpPolicy.max_wait

    def policy(self) -> HttpPolicy:
        return HttpPolicy(
            timeout=self.http_timeout, max_attempts=self.http_max_attempts,
            backoff=self.http_backoff, max_wait=self.http_max_wait,
        )  # fmt: skip

    def pull(
        self,
        name: str,
        id_column: str,
        signature: str,
        fetch: Callable[[str | None], Batch],
        log: Log,
        system: str = "",
        unique_ids: bool = True,
    ) -> PullResult:
        path = Path(self.copy_dir) / f"{name}.pkl"
        copy = LocalCopy(path, id_column, signature, system, unique_ids)
        return copy.pull(fetch, self.full_refresh, log)


def _pulled(raw: pd.DataFrame, pull: PullResult) -> SourceRead:
    return SourceRead(raw, pull.high_water_mark, pull.fetched, pull.total)


class CrmExport(CrmSource):
    """A folder of CRM CSV exports in the canonical shape (``contracts.csv``, ...)."""

    directory: str
    demo_data_dir: str | None = None  # set when the folder is the embedded demo

    def describe(self) -> str:
        return csv_export.describe(self.directory)

    def read(self, table: str, log: Log) -> SourceRead:
        raw = self.read_table(table)
        return SourceRead(raw, csv_export.high_water_mark(raw), len(raw), len(raw))

    def read_table(self, table: str) -> pd.DataFrame:
        """Every cell as text with its line; broken lines set aside (see ``csv_file``)."""
        if self.demo_data_dir:
            ensure_demo(Path(self.demo_data_dir))
        return csv_export.read_table(self.directory, table)


class SalesforceCrm(CrmSource, HttpSource):
    """Contracts (and, if set, cancellations) from a Salesforce object over REST."""

    instance_url: str
    api_version: str = salesforce.API_VERSION
    token_url: str | None = None
    object_name: str = salesforce.DEFAULT_OBJECT
    fields: dict[str, str] = Field(
        default_factory=lambda: dict(salesforce.DEFAULT_FIELDS[salesforce.DEFAULT_OBJECT])
    )
    signed_values: list[str] = Field(
        default_factory=lambda: list(salesforce.DEFAULT_SIGNED[salesforce.DEFAULT_OBJECT])
    )
    cancelled_values: list[str] = Field(default_factory=list)
    changes_dir: str | None = None  # a CSV export folder whose changes are added
    access_token: str | None = None
    refresh_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None

    def describe(self) -> str:
        return f"Salesforce {self.object_name} at {self.instance_url}"

    def read(self, table: str, log: Log) -> SourceRead:
        query = salesforce.SalesforceQuery(
            self.object_name, self.fields, tuple(self.signed_values), tuple(self.cancelled_values)
        )
        client = salesforce.SalesforceClient(
            self.instance_url, self.api_version, self.policy(), log, self.access_token,
            self.token_url, self.client_id, self.client_secret, self.refresh_token,
        )  # fmt: skip
        try:
            pull = self.pull(
                f"salesforce-{self.object_name}", salesforce.ID, query.signature(),
                lambda since: salesforce.fetch(client, query, since), log,
                salesforce.system(self.instance_url),
            )  # fmt: skip
        finally:
            client.http.close()
        if table == "contracts":
            return _pulled(salesforce.contracts(pull.records, query), pull)
        changes = salesforce.changes(pull.records, query)
        return _pulled(csv_export.with_exported_changes(changes, self.changes_dir), pull)


class HubSpotCrm(CrmSource, HttpSource):
    """Contracts from HubSpot deals in a won stage; changes from a CSV folder if set."""

    base_url: str = hubspot.BASE_URL
    properties: dict[str, str] = Field(default_factory=lambda: dict(hubspot.DEFAULT_PROPERTIES))
    won_stages: list[str] = Field(default_factory=lambda: list(hubspot.WON_STAGES))
    changes_dir: str | None = None
    token: str

    def describe(self) -> str:
        return f"HubSpot deals at {self.base_url}"

    def read(self, table: str, log: Log) -> SourceRead:
        if table == "contract_changes":
            # HubSpot has no amendment records: changes come from the CSV folder, if any.
            changes = csv_export.with_exported_changes(
                pd.DataFrame(columns=list(CHANGE_COLUMNS)), self.changes_dir
            )
            return SourceRead(changes, None, len(changes), len(changes))
        query = hubspot.HubSpotQuery(self.properties, tuple(self.won_stages))
        client = hubspot.HubSpotClient(self.base_url, self.token, self.policy(), log)
        try:
            pull = self.pull(
                "hubspot-deals", hubspot.ID, query.signature(),
                lambda since: hubspot.fetch(client, query, since), log, hubspot.system(client),
            )  # fmt: skip
        finally:
            client.http.close()
        return _pulled(hubspot.contracts(pull.records, query), pull)


class ErpDatabase(ErpSource):
    """An ERP database: a table or a query, its columns mapped to the canonical ones."""

    url: str
    table: str = sql.TABLE
    query: str | None = None  # used instead of the table when set
    # canonical name -> the ERP's column, where they differ
    columns: dict[str, str] = Field(default_factory=dict)
    demo_data_dir: str | None = None
    snapshot_dir: str | None = None  # the local snapshot's folder; None: read whole each time
    full_refresh: bool = False
    reconcile_days: float = 7.0

    def describe(self) -> str:
        what = "query" if self.query else f"table {self.table}"
        return f"ERP {redacted(self.url)} {what}"

    def _source(self) -> sql_pull.SqlSource:
        if self.demo_data_dir:
            ensure_demo(Path(self.demo_data_dir))
        select = sql.recognition_select(self.columns, self.table, self.query)
        return sql_pull.SqlSource(self.url, self.describe(), select)

    def _pull(self, source: sql_pull.SqlSource, open_from: str | None, log: Log) -> Pulled:
        settings = sql_pull.PullSettings(self.full_refresh, self.reconcile_days, open_from)
        folder = Path(self.snapshot_dir) if self.snapshot_dir else None
        return sql_pull.pull_into(source, folder, _SNAPSHOT, settings, log)

    def carried_marks(self) -> dict[str, Any]:
        """The marks the snapshot carries (``erp_recognition``), without reading the ERP."""
        if self.snapshot_dir is None:
            return {}
        return carried_marks(Path(self.snapshot_dir) / f"{_SNAPSHOT}.parquet")

    def read(self, log: Log) -> SourceRead:
        pulled = self._pull(self._source(), None, log)
        raw = sql.to_frame(pulled.rows)
        sql_pull.settle_mark(pulled, _MARK_KEY, None)  # the mark is computed at the next close
        mark = sql.high_water_mark(raw)
        return SourceRead(raw, mark, pulled.fetched, len(raw), pulled=pulled.how)

    def read_parsed(
        self,
        log: Log,
        parse: Callable[[pd.DataFrame], ParsedTable],
        open_from: str | None = None,
    ) -> tuple[SourceRead, ParsedTable]:
        """Pulled, then mapped a batch at a time; the mark is computed once per snapshot."""
        pulled = self._pull(self._source(), open_from, log)
        parsed, count = parse_in_batches(sql.frame_batches(pulled.rows), parse)
        mark = sql_pull.settle_mark(pulled, _MARK_KEY, lambda: source_mark(parsed.rows))
        high_water_mark = pulled.pull.state.high_water_mark if pulled.pull else None
        empty = pd.DataFrame(columns=list(RECOGNITION_COLUMNS))
        read = SourceRead(empty, high_water_mark, pulled.fetched, len(pulled.rows),
                          raw_rows=count, mark=mark, pulled=pulled.how)  # fmt: skip
        return read, parsed


_MARK_KEY = "erp_recognition"
_SNAPSHOT = "erp-recognition"  # <snapshot_dir>/erp-recognition.parquet


class NetSuiteErp(ErpSource, HttpSource):
    """Recognition lines from NetSuite through a SuiteQL query over REST."""

    base_url: str
    query: str
    token: str

    def describe(self) -> str:
        return f"NetSuite SuiteQL at {self.base_url}"

    def read(self, log: Log) -> SourceRead:
        client = netsuite.NetSuiteClient(self.base_url, self.token, self.policy(), log)
        try:
            pull = self.pull(
                "netsuite-recognition", netsuite.ID, netsuite.signature(self.query),
                lambda since: netsuite.fetch(client, self.query, since), log,
                netsuite.system(self.base_url), unique_ids=False,
            )  # fmt: skip
        finally:
            client.http.close()
        return _pulled(netsuite.recognition(pull.records), pull)


class Warehouse(dg.ConfigurableResource):
    """The database the backlog is published to."""

    url: str
    _engine: sa.Engine | None = PrivateAttr(default=None)

    def describe(self) -> str:
        return redacted(self.url)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._engine = open_warehouse(self.url)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._engine is not None:
            self._engine.dispose()

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = open_warehouse(self.url)
        return self._engine


class DocumentFolder(dg.ConfigurableResource):
    """Where the KPI JSON documents are written, one folder per month."""

    path: str


class Reporting(dg.ConfigurableResource):
    """What the published figures are expressed in: a currency, months in a time zone, and
    the constant-currency view's rates: those of ``constant_month`` (``YYYY-MM``), or of
    each fiscal year's first month."""

    currency: str
    timezone: str = "UTC"  # the close's (BACKLOG_CLOSE_TIMEZONE): a date-time's day is its day here
    constant_month: str | None = None
    fiscal_year_start_month: int = 1
