"""The code location: ``dagster dev`` and ``dagster asset materialize -m`` load ``defs``.

Every definition is a module-level object of ``defs/``, built once at import from the one
settings object (``config.settings``).
"""

import dagster as dg

from backlog_pipeline.defs.backlog import backlog_flow, contract_backlog
from backlog_pipeline.defs.board_pack import board_pack
from backlog_pipeline.defs.checks import (
    cancellation_line_present,
    flow_matches_contracts,
    flow_reconciles,
    matches_published,
    opening_continues_previous_close,
)
from backlog_pipeline.defs.currency import (
    backlog_flow_by_currency,
    backlog_flow_constant_currency,
    fx_rates,
)
from backlog_pipeline.defs.currency_checks import (
    currencies_sum_to_flow,
    fx_revaluation_second_route,
)
from backlog_pipeline.defs.data_checks import (
    backlog_data_errors,
    source_data_errors,
)
from backlog_pipeline.defs.deployment import resources
from backlog_pipeline.defs.disclosure import rpo_disclosure_figures
from backlog_pipeline.defs.disclosure_checks import (
    contract_timing_sums_to_month,
    disclosed_plus_excluded_is_closing,
    disclosure_matches_published,
    slices_sum_to_flow,
    waterfall_sums_to_disclosed,
)
from backlog_pipeline.defs.executors import executor
from backlog_pipeline.defs.jobs import monthly_close
from backlog_pipeline.defs.late_data_scan import late_data_scan
from backlog_pipeline.defs.lock_checks import continues_locked_close
from backlog_pipeline.defs.planning import erp_revenue_plan, revenue_budget
from backlog_pipeline.defs.publish import publish_kpi_documents, publish_warehouse_tables
from backlog_pipeline.defs.schedules import monthly_close_schedule
from backlog_pipeline.defs.sensors import late_data_sensor
from backlog_pipeline.defs.sources import crm_contract_changes, crm_contracts, erp_recognition

defs = dg.Definitions(
    assets=[
        crm_contracts,
        crm_contract_changes,
        erp_recognition,
        fx_rates,
        contract_backlog,
        backlog_flow,
        backlog_flow_by_currency,
        backlog_flow_constant_currency,
        erp_revenue_plan,
        revenue_budget,
        rpo_disclosure_figures,
        publish_warehouse_tables,
        publish_kpi_documents,
        board_pack,
    ],
    asset_checks=[
        source_data_errors,
        backlog_data_errors,
        matches_published,
        flow_reconciles,
        cancellation_line_present,
        flow_matches_contracts,
        opening_continues_previous_close,
        currencies_sum_to_flow,
        fx_revaluation_second_route,
        continues_locked_close,
        contract_timing_sums_to_month,
        waterfall_sums_to_disclosed,
        disclosed_plus_excluded_is_closing,
        slices_sum_to_flow,
        disclosure_matches_published,
    ],
    jobs=[monthly_close, late_data_scan],
    schedules=[monthly_close_schedule],
    sensors=[late_data_sensor],
    resources=resources,
    executor=executor,
)
