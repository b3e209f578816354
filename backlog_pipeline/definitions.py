"""The code location: ``dagster dev`` and ``dagster asset materialize -m`` load ``defs``."""

import dagster as dg

from backlog_pipeline.defs.backlog import build_backlog_assets
from backlog_pipeline.defs.checks import build_flow_checks
from backlog_pipeline.defs.data_checks import build_data_error_checks
from backlog_pipeline.defs.executors import build_executor
from backlog_pipeline.defs.io_manager import MonthlyFrameIOManager
from backlog_pipeline.defs.partitions import monthly_partitions
from backlog_pipeline.defs.policies import run_retry_tags, transient_retry_policy
from backlog_pipeline.defs.publish import build_publish_assets
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
from backlog_pipeline.defs.schedules import build_close_job, build_close_schedule
from backlog_pipeline.defs.sensors import build_late_data_sensor
from backlog_pipeline.defs.sources import build_source_assets
from backlog_pipeline.settings import (
    ERP_URL,
    HUBSPOT_TOKEN,
    NETSUITE_TOKEN,
    SALESFORCE_ACCESS_TOKEN,
    SALESFORCE_CLIENT_ID,
    SALESFORCE_CLIENT_SECRET,
    SALESFORCE_REFRESH_TOKEN,
    WAREHOUSE_URL,
    Settings,
    load_settings,
)


def _secret(settings: Settings, name: str) -> dg.EnvVar | None:
    """A secret is handed over as an ``EnvVar``, resolved only inside the run."""
    return dg.EnvVar(name) if name in settings.secrets_set else None


def _http_fields(settings: Settings) -> dict[str, object]:
    policy = settings.http
    return {
        "copy_dir": str(settings.sources_dir),
        "full_refresh": settings.full_refresh,
        "http_timeout": policy.timeout,
        "http_max_attempts": policy.max_attempts,
        "http_backoff": policy.backoff,
        "http_max_wait": policy.max_wait,
        "max_quarantine_share": settings.max_quarantine_share,
    }


def build_crm(settings: Settings) -> CrmSource:
    """The CSV export folder (the demo's by default), Salesforce or HubSpot, by setting."""
    changes_dir = str(settings.crm_dir) if settings.crm_dir is not None else None
    if settings.salesforce is not None:
        sf = settings.salesforce
        return SalesforceCrm(
            instance_url=sf.instance_url,
            api_version=sf.api_version,
            token_url=sf.token_url,
            object_name=sf.query.object_name,
            fields=dict(sf.query.fields),
            signed_values=list(sf.query.signed_values),
            cancelled_values=list(sf.query.cancelled_values),
            changes_dir=changes_dir,
            access_token=_secret(settings, SALESFORCE_ACCESS_TOKEN),
            refresh_token=_secret(settings, SALESFORCE_REFRESH_TOKEN),
            client_id=_secret(settings, SALESFORCE_CLIENT_ID),
            client_secret=_secret(settings, SALESFORCE_CLIENT_SECRET),
            **_http_fields(settings),
        )
    if settings.hubspot is not None:
        return HubSpotCrm(
            base_url=settings.hubspot.base_url,
            properties=dict(settings.hubspot.query.properties),
            won_stages=list(settings.hubspot.query.won_stages),
            changes_dir=changes_dir,
            token=dg.EnvVar(HUBSPOT_TOKEN),
            **_http_fields(settings),
        )
    share = settings.max_quarantine_share
    if settings.crm_dir is not None:
        return CrmExport(directory=str(settings.crm_dir), max_quarantine_share=share)
    return CrmExport(
        directory=str(settings.demo_dir / "crm"),
        demo_data_dir=str(settings.data_dir),
        max_quarantine_share=share,
    )


def build_erp(settings: Settings) -> ErpSource:
    """A SQL database (the demo's SQLite by default) or NetSuite, by setting."""
    if settings.netsuite is not None:
        return NetSuiteErp(
            base_url=settings.netsuite.base_url,
            query=settings.netsuite.query,
            token=dg.EnvVar(NETSUITE_TOKEN),
            **_http_fields(settings),
        )
    if settings.erp_url_is_set:
        return ErpDatabase(
            url=dg.EnvVar(ERP_URL),
            table=settings.erp_table,
            query=settings.erp_query,
            columns=settings.erp_columns,
            max_quarantine_share=settings.max_quarantine_share,
        )
    return ErpDatabase(
        url=f"sqlite:///{settings.demo_dir}/erp.sqlite",
        demo_data_dir=str(settings.data_dir),
        max_quarantine_share=settings.max_quarantine_share,
    )


def build_resources(settings: Settings) -> dict[str, object]:
    """Embedded demo and SQLite by default; the environment's sources and warehouse if set."""
    crm = build_crm(settings)
    erp = build_erp(settings)
    warehouse = Warehouse(
        url=dg.EnvVar(WAREHOUSE_URL)
        if settings.warehouse_url_is_set
        else settings.default_warehouse_url
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "crm": crm,
        "erp": erp,
        "warehouse": warehouse,
        "documents": DocumentFolder(path=str(settings.output_dir)),
        "reporting": Reporting(
            currency=settings.reporting_currency, timezone=settings.close_timezone
        ),
        "io_manager": MonthlyFrameIOManager(base_dir=str(settings.data_dir / "staging")),
    }


def build_definitions(settings: Settings) -> dg.Definitions:
    partitions_def = monthly_partitions(settings)
    close_job = build_close_job(run_retry_tags(settings))
    return dg.Definitions(
        assets=[
            *build_source_assets(
                partitions_def,
                settings.crm_kind,
                settings.erp_kind,
                transient_retry_policy(settings),
            ),
            *build_backlog_assets(partitions_def),
            *build_publish_assets(partitions_def, transient_retry_policy(settings)),
        ],
        asset_checks=[
            *build_data_error_checks(partitions_def, settings.reporting_currency),
            *build_flow_checks(partitions_def),
        ],
        jobs=[close_job],
        schedules=[build_close_schedule(close_job, settings)],
        sensors=[build_late_data_sensor(close_job, settings.late_data_interval)],
        resources=build_resources(settings),
        executor=build_executor(settings),
    )


defs = build_definitions(load_settings())
