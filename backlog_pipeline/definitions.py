"""The code location: ``dagster dev`` and ``dagster asset materialize -m`` load ``defs``."""

import dagster as dg

from backlog_pipeline.defs.backlog import build_backlog_assets
from backlog_pipeline.defs.checks import build_flow_checks
from backlog_pipeline.defs.data_checks import build_data_error_checks
from backlog_pipeline.defs.io_manager import MonthlyFrameIOManager
from backlog_pipeline.defs.partitions import monthly_partitions
from backlog_pipeline.defs.publish import build_publish_assets
from backlog_pipeline.defs.resources import (
    CrmExport,
    DocumentFolder,
    ErpDatabase,
    Reporting,
    Warehouse,
)
from backlog_pipeline.defs.schedules import build_close_job, build_close_schedule
from backlog_pipeline.defs.sources import build_source_assets
from backlog_pipeline.settings import (
    ERP_URL,
    WAREHOUSE_URL,
    Settings,
    load_settings,
)


def build_resources(settings: Settings) -> dict[str, object]:
    """Embedded demo and SQLite by default; the environment's sources and warehouse if set."""
    demo = str(settings.demo_dir)
    crm = (
        CrmExport(directory=str(settings.crm_dir))
        if settings.crm_dir is not None
        else CrmExport(
            directory=str(settings.demo_dir / "crm"), demo_data_dir=str(settings.data_dir)
        )
    )
    erp = (
        ErpDatabase(url=dg.EnvVar(ERP_URL), table=settings.erp_table)
        if settings.erp_url_is_set
        else ErpDatabase(url=f"sqlite:///{demo}/erp.sqlite", demo_data_dir=str(settings.data_dir))
    )
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
        "reporting": Reporting(currency=settings.reporting_currency),
        "io_manager": MonthlyFrameIOManager(base_dir=str(settings.data_dir / "staging")),
    }


def build_definitions(settings: Settings) -> dg.Definitions:
    partitions_def = monthly_partitions(settings)
    close_job = build_close_job()
    return dg.Definitions(
        assets=[
            *build_source_assets(partitions_def),
            *build_backlog_assets(partitions_def),
            *build_publish_assets(partitions_def),
        ],
        asset_checks=[
            *build_data_error_checks(partitions_def, settings.reporting_currency),
            *build_flow_checks(partitions_def),
        ],
        jobs=[close_job],
        schedules=[build_close_schedule(close_job, settings)],
        resources=build_resources(settings),
    )


defs = build_definitions(load_settings())
