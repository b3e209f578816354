"""The resources this code location uses, chosen once from the settings.

The embedded demo and a SQLite warehouse by default; the environment's CRM, ERP and
warehouse when they are set. URLs and secrets are handed over as ``dg.EnvVar``, resolved
only inside a run, never here.
"""

import dagster as dg

from backlog_pipeline.config import (
    ERP_URL,
    HUBSPOT_TOKEN,
    NETSUITE_TOKEN,
    SALESFORCE_ACCESS_TOKEN,
    SALESFORCE_CLIENT_ID,
    SALESFORCE_CLIENT_SECRET,
    SALESFORCE_REFRESH_TOKEN,
    WAREHOUSE_URL,
    SettingsError,
    settings,
)
from backlog_pipeline.defs.fx_source import FxRatesSource
from backlog_pipeline.defs.io_manager import MonthlyFrameIOManager
from backlog_pipeline.defs.planning import Planning
from backlog_pipeline.defs.resources import (
    CrmExport,
    CrmSource,
    DocumentFolder,
    ErpDatabase,
    ErpSource,
    HubSpotCrm,
    NetSuiteErp,
    Reporting,
    SalesforceCrm,
    Warehouse,
)


def _secret(variable: str, is_set: bool) -> dg.EnvVar | None:
    """A secret as an ``EnvVar``, resolved only inside the run; None if it is not set."""
    return dg.EnvVar(variable) if is_set else None


def _http_fields() -> dict[str, object]:
    return {
        "copy_dir": str(settings.sources_dir),
        "full_refresh": settings.full_refresh,
        "http_timeout": settings.http_timeout,
        "http_max_attempts": settings.http_max_attempts,
        "http_backoff": settings.http_backoff,
        "http_max_wait": settings.http_max_wait,
        "max_quarantine_share": settings.max_quarantine_share,
    }


def _salesforce_crm() -> SalesforceCrm:
    sf = settings.salesforce
    return SalesforceCrm(
        instance_url=sf.instance_url,
        api_version=sf.api_version,
        token_url=sf.token_url,
        object_name=sf.query.object_name,
        fields=dict(sf.query.fields),
        signed_values=list(sf.query.signed_values),
        cancelled_values=list(sf.query.cancelled_values),
        changes_dir=str(settings.crm_dir) if settings.crm_dir is not None else None,
        access_token=_secret(SALESFORCE_ACCESS_TOKEN, settings.salesforce_access_token_is_set),
        refresh_token=_secret(SALESFORCE_REFRESH_TOKEN, settings.salesforce_refresh_token_is_set),
        client_id=_secret(SALESFORCE_CLIENT_ID, settings.salesforce_client_id_is_set),
        client_secret=_secret(SALESFORCE_CLIENT_SECRET, settings.salesforce_client_secret_is_set),
        **_http_fields(),
    )


def _crm() -> CrmSource:
    """The CSV export folder (the demo's by default), Salesforce or HubSpot, by setting."""
    if settings.salesforce is not None:
        return _salesforce_crm()
    if settings.hubspot is not None:
        return HubSpotCrm(
            base_url=settings.hubspot.base_url,
            properties=dict(settings.hubspot.query.properties),
            won_stages=list(settings.hubspot.query.won_stages),
            changes_dir=str(settings.crm_dir) if settings.crm_dir is not None else None,
            token=dg.EnvVar(HUBSPOT_TOKEN),
            **_http_fields(),
        )
    share = settings.max_quarantine_share
    if settings.crm_dir is not None:
        return CrmExport(directory=str(settings.crm_dir), max_quarantine_share=share)
    return CrmExport(
        directory=str(settings.demo_dir / "crm"),
        demo_data_dir=str(settings.data_dir),
        max_quarantine_share=share,
    )


def _erp() -> ErpSource:
    """A SQL database (the demo's SQLite by default) or NetSuite, by setting."""
    if settings.netsuite is not None:
        return NetSuiteErp(
            base_url=settings.netsuite.base_url,
            query=settings.netsuite.query,
            token=dg.EnvVar(NETSUITE_TOKEN),
            **_http_fields(),
        )
    pulls = {
        "snapshot_dir": str(settings.sources_dir),
        "full_refresh": settings.full_refresh,
        "reconcile_days": settings.source_reconcile_days,
        "max_quarantine_share": settings.max_quarantine_share,
    }
    if settings.erp_url_is_set:
        return ErpDatabase(
            url=dg.EnvVar(ERP_URL),
            table=settings.erp_table,
            query=settings.erp_query,
            columns=settings.erp_columns,
            **pulls,
        )
    return ErpDatabase(
        url=f"sqlite:///{settings.demo_dir}/erp.sqlite",
        demo_data_dir=str(settings.data_dir),
        **pulls,
    )


def _fx_rates() -> FxRatesSource:
    """The rates file, or the rates table in the ERP database (the demo's own by default)."""
    if settings.fx_rates_csv is not None:
        return FxRatesSource(csv_path=str(settings.fx_rates_csv))
    if settings.fx_rates_table is None:
        return FxRatesSource()
    if settings.erp_url_is_set:
        return FxRatesSource(table=settings.fx_rates_table, url=dg.EnvVar(ERP_URL))
    return FxRatesSource(
        table=settings.fx_rates_table,
        url=f"sqlite:///{settings.demo_dir}/erp.sqlite",
        demo_data_dir=str(settings.data_dir),
    )


def _planning() -> Planning:
    """The RPO disclosure's plan (a table of the ERP database), budget and expedients."""
    erp_database = {"url": dg.EnvVar(ERP_URL)} if settings.erp_url_is_set else {
        "url": f"sqlite:///{settings.demo_dir}/erp.sqlite", "demo_data_dir": str(settings.data_dir)
    }  # fmt: skip
    return Planning(
        plan_table=settings.erp_plan_table,
        budget_csv=str(settings.revenue_budget_csv) if settings.revenue_budget_csv else None,
        short_contract_expedient=settings.rpo_short_contract_expedient,
        duration_from=settings.rpo_duration_from,
        fiscal_year_start_month=settings.fiscal_year_start_month,
        **(erp_database if settings.erp_plan_table else {}),
    )


crm = _crm()
erp = _erp()
fx_rates_source = _fx_rates()
warehouse = Warehouse(
    url=dg.EnvVar(WAREHOUSE_URL)
    if settings.warehouse_url_is_set
    else settings.default_warehouse_url
)
documents = DocumentFolder(path=str(settings.output_dir))
reporting = Reporting(
    currency=settings.reporting_currency,
    timezone=settings.close_timezone,
    constant_month=settings.fx_constant_month,
    fiscal_year_start_month=settings.fiscal_year_start_month,
)
io_manager = MonthlyFrameIOManager(base_dir=str(settings.data_dir / "staging"))
try:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
except OSError as error:
    raise SettingsError(
        f"BACKLOG_DATA_DIR={str(settings.data_dir)!r} cannot be created: {error.strerror}"
    ) from None

resources = {
    "crm": crm,
    "erp": erp,
    "fx_rates_source": fx_rates_source,
    "warehouse": warehouse,
    "documents": documents,
    "reporting": reporting,
    "planning": _planning(),
    "io_manager": io_manager,
}
