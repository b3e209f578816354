"""Which SPEC data errors are checked: on which asset, how bad, and how each is found.

The finders are the plain functions of ``accounting.data_errors``; ``data_checks`` runs
them as asset checks and keeps their evidence. ``scope`` says which months a finding is
kept for: "history", every month up to the run's last (a source error carries forward),
or "run", only the run's months (findings about the computed months themselves).
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import dagster as dg
import pandas as pd
import pycountry

from backlog_pipeline.accounting import data_errors
from backlog_pipeline.config import settings

ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN
Finder = Callable[[dict[str, pd.DataFrame]], pd.DataFrame]


@dataclass(frozen=True)
class DataErrorCheck:
    """A data error: the asset it is checked on, how bad it is, and how it is found."""

    name: str
    severity: dg.AssetCheckSeverity
    description: str
    find: Finder
    scope: str = "history"  # or "run" (see above)


@cache
def iso_currencies() -> frozenset[str]:
    return frozenset(currency.alpha_3 for currency in pycountry.currencies)


CONTRACT_CHECKS = [
    DataErrorCheck(
        "contract_ids_unique",
        ERROR,
        "Each contract_id appears once; a repeated contract would be booked twice.",
        lambda f: data_errors.duplicate_ids(
            f["contracts"], "contract_id", "crm_contracts", "signed_month", "tcv"
        ),
    ),
    DataErrorCheck(
        "tcv_not_negative",
        ERROR,
        "No contract has a negative total contract value.",
        lambda f: data_errors.negative_tcv(f["contracts"], "crm_contracts"),
    ),
    DataErrorCheck(
        "currency_known",
        ERROR,
        f"Every contract is in an ISO 4217 currency, and in {settings.reporting_currency}: "
        "amounts in other currencies are not converted yet and cannot be summed.",
        lambda f: data_errors.unknown_currencies(
            f["contracts"], "crm_contracts", settings.reporting_currency, iso_currencies()
        ),
    ),
]


CHANGE_CHECKS = [
    DataErrorCheck(
        "change_ids_unique",
        ERROR,
        "Each change_id appears once; a repeated change would be applied twice.",
        lambda f: data_errors.duplicate_ids(
            f["changes"], "change_id", "crm_contract_changes", "effective_month", "amount"
        ),
    ),
    DataErrorCheck(
        "changes_have_contracts",
        WARN,
        "Every change belongs to a known contract (orphans are left out of the figures).",
        lambda f: data_errors.orphans(
            f["changes"],
            f["contracts"],
            "crm_contract_changes",
            "change_id",
            "effective_month",
            f["quarantined"],
        ),
    ),
]


RECOGNITION_CHECKS = [
    DataErrorCheck(
        "line_ids_unique",
        ERROR,
        "Each recognition line_id appears once; a repeated line would convert twice.",
        lambda f: data_errors.duplicate_ids(
            f["recognition"], "line_id", "erp_recognition", "period", "amount"
        ),
    ),
    DataErrorCheck(
        "recognition_has_contracts",
        WARN,
        "Every recognition line belongs to a known contract (orphans are not converted).",
        lambda f: data_errors.orphans(
            f["recognition"],
            f["contracts"],
            "erp_recognition",
            "line_id",
            "period",
            f["quarantined"],
            f["lookup"],
        ),
    ),
    DataErrorCheck(
        "recognition_after_signing",
        WARN,
        "No revenue is recognized in a month before its contract was signed.",
        lambda f: data_errors.recognition_before_signing(
            f["recognition"], f["contracts"], "erp_recognition", f["lookup"]
        ),
    ),
    DataErrorCheck(
        "recognition_before_termination",
        WARN,
        "No revenue is recognized after the month its contract was terminated.",
        lambda f: data_errors.recognition_after_termination(
            f["recognition"], f["changes"], "erp_recognition", f["lookup"]
        ),
    ),
]


BACKLOG_CHECKS = [
    DataErrorCheck(
        "cancellations_within_backlog",
        ERROR,
        "No partial cancellation takes off more than the contract had left that month.",
        lambda f: data_errors.oversized_cancellations(
            f["contract_rows"], f["changes"], "crm_contract_changes"
        ),
        scope="run",
    ),
    DataErrorCheck(
        "no_over_recognition",
        WARN,
        "No contract's backlog is negative (recognized to date above its value). Negative "
        "backlog is published as it is, never clamped.",
        lambda f: data_errors.over_recognition(f["contract_rows"], "contract_backlog"),
        scope="run",
    ),
    DataErrorCheck(
        "no_phantom_backlog",
        WARN,
        "No contract holds backlog a whole month past its end date unless it was terminated.",
        lambda f: data_errors.phantom_backlog(
            f["contract_rows"], f["contracts"], f["changes"], "contract_backlog"
        ),
        scope="run",
    ),
]
