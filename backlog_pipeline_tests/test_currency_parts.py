"""The parts of the currency integration that need no Dagster run: settings, the rates table,
the ledger column, the fiscal year, the constant-currency months and the staging of rows."""

import io

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from backlog_pipeline.accounting.currency_close import constant_currency_flows, constant_month
from backlog_pipeline.config import SettingsError, load_settings
from backlog_pipeline.periods import fiscal_year_start, parse_month
from backlog_pipeline.sources.canonical import parse_recognition
from backlog_pipeline.sources.rates import RatesError, read_rates_table
from backlog_pipeline.staging_frames import from_table, read_table, write_frame
from backlog_pipeline_tests.fx_frames import (
    local_rows,
    months,
    typed_changes,
    typed_contracts,
    typed_rates,
    typed_recognition,
)

M = parse_month


def test_the_rates_settings(tmp_path):
    rates = tmp_path / "rates.csv"
    rates.write_text("currency,month,average_rate,closing_rate\n")
    base = {"BACKLOG_DATA_DIR": str(tmp_path)}
    # The demo reads its own rates table; a company of one's own reads none unless told.
    assert load_settings(base).fx_rates_table == "fx_rates"
    own = {**base, "BACKLOG_CRM_DIR": str(tmp_path), "BACKLOG_ERP_URL": "sqlite://"}
    assert load_settings(own).fx_rates_table is None
    assert load_settings({**own, "BACKLOG_FX_RATES_CSV": str(rates)}).fx_rates_csv == rates
    settings = load_settings(
        {**base, "BACKLOG_FX_CONSTANT_MONTH": "2025-01", "BACKLOG_FISCAL_YEAR_START_MONTH": "4"}
    )
    assert (settings.fx_constant_month, settings.fiscal_year_start_month) == ("2025-01", 4)
    for environ, message in (
        ({"BACKLOG_FX_RATES_CSV": str(rates), "BACKLOG_FX_RATES_TABLE": "fx"}, "set one"),
        ({"BACKLOG_FX_RATES_CSV": str(tmp_path / "none.csv")}, "is not a file"),
        ({"BACKLOG_FX_RATES_TABLE": "fx; drop"}, "must be a table name"),
        ({"BACKLOG_FX_CONSTANT_MONTH": "2025-13"}, "BACKLOG_FX_CONSTANT_MONTH"),
        ({"BACKLOG_FISCAL_YEAR_START_MONTH": "13"}, "from 1 to 12"),
        ({"BACKLOG_ERP_COLUMNS": "amount_usd=x"}, "BACKLOG_ERP_COLUMNS"),
    ):
        with pytest.raises(SettingsError, match=message):
            load_settings({**base, **environ})
    assert load_settings({**own, "BACKLOG_ERP_COLUMNS": "amount_reporting=amount_usd"}).erp_columns
    netsuite = {
        **base, "BACKLOG_CRM_DIR": str(tmp_path), "BACKLOG_ERP_KIND": "netsuite",
        "BACKLOG_NETSUITE_BASE_URL": "https://1.suitetalk.api.netsuite.com",
        "BACKLOG_NETSUITE_QUERY": "SELECT 1", "BACKLOG_NETSUITE_TOKEN": "t",
        "BACKLOG_FX_RATES_TABLE": "fx",
    }  # fmt: skip
    with pytest.raises(SettingsError, match="BACKLOG_FX_RATES_CSV"):
        load_settings(netsuite)


def test_rates_are_read_exactly_from_a_database_table(warehouse_url):
    engine = sa.create_engine(warehouse_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE TABLE fx (currency VARCHAR(3), month VARCHAR(7), "
                "average_rate NUMERIC(20, 10), closing_rate NUMERIC(20, 10))"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO fx VALUES ('EUR', '2024-01', 1.0825, 1.1), ('USD', '2024-01', 1, 1)"
            )
        )
    engine.dispose()
    rates = read_rates_table(warehouse_url, "fx", "test ERP", "USD")
    # 1.0825 is 10,825,000,000 units of 10⁻¹⁰; the USD row (rate 1) needs no row.
    assert rates.to_dict("records") == [
        {"currency": "EUR", "month": M("2024-01"), "average_rate": 10_825_000_000,
         "closing_rate": 11_000_000_000}
    ]  # fmt: skip
    with pytest.raises(RatesError, match=r"test ERP: rates refused: row 1 .* cannot be read"):
        read_rates_table(warehouse_url, "no_such_table", "test ERP", "USD")


def test_the_ledger_amount_is_optional_per_line_and_exact_where_given():
    raw = pd.DataFrame(
        {
            "line_id": ["L1", "L2", "L3", "L4"],
            "contract_id": ["E1"] * 4,
            "period": ["2024-01"] * 4,
            "amount": ["1000.00", "10.00", "5.00", "1.00"],
            "amount_reporting": ["1101.50", "", None, "1.005"],
        }
    )
    parsed = parse_recognition(raw, "test ERP")
    # Blank and missing mean no ledger amount; a third decimal is refused, not rounded.
    assert parsed.rows["amount_reporting"].tolist() == [110150, pd.NA, pd.NA]
    assert str(parsed.rows["amount_reporting"].dtype) == "Int64"
    assert parsed.quarantine[["record_id", "field"]].values.tolist() == [["L4", "amount_reporting"]]
    without = parse_recognition(raw.drop(columns="amount_reporting"), "test ERP")
    assert "amount_reporting" not in without.rows


def test_the_fiscal_year_and_the_constant_month():
    assert fiscal_year_start(M("2024-03"), 1) == M("2024-01")
    assert fiscal_year_start(M("2024-03"), 4) == M("2023-04")
    assert fiscal_year_start(M("2024-04"), 4) == M("2024-04")
    assert fiscal_year_start(M("2024-12"), 12) == M("2024-12")
    assert constant_month(M("2024-03"), None, 4) == M("2023-04")
    assert constant_month(M("2024-03"), M("2025-01"), 4) == M("2025-01")


def test_the_constant_currency_view_restates_the_opening_at_a_new_fiscal_year():
    # 1,000.00 EUR signed in March 2024, nothing recognized; fiscal years from April.
    contracts = typed_contracts(("E1", "2024-03", "1000.00", "EUR"))
    rates = typed_rates(
        ("EUR", "2023-04", "1.05", "1.06"),
        ("EUR", "2024-03", "1.09", "1.10"),
        ("EUR", "2024-04", "1.20", "1.25"),
    )
    local, _ = local_rows(contracts, typed_changes(), typed_recognition(), "2024-03", "2024-04")
    flows = constant_currency_flows(local, rates, "USD", months("2024-03", "2024-04"), None, 4)
    # March is in the fiscal year from 2023-04: new 1,000 × 1.05 = 1,050.00, closing
    # 1,000 × 1.06 = 1,060.00, revaluation 10.00. April starts a new year at 2024-04's
    # rates: opening 1,000 × 1.25 = 1,250.00, closing 1,250.00, nothing else.
    by_month = flows.set_index("period")
    march, april = by_month.loc[M("2024-03")], by_month.loc[M("2024-04")]
    assert [int(march[c]) for c in ("new_bookings", "fx_revaluation", "closing")] == [
        105000,
        1000,
        106000,
    ]
    assert [int(april[c]) for c in ("opening", "fx_revaluation", "closing")] == [125000, 0, 125000]
    assert (march["basis"], april["basis"]) == (
        "constant currency at 2023-04 rates (non-GAAP)",
        "constant currency at 2024-04 rates (non-GAAP)",
    )


def test_a_column_that_is_another_column_is_staged_once_and_loads_shared():
    n = 200_000
    figures = np.arange(n, dtype=np.int64)
    frame = pd.DataFrame(
        {"closing_local": figures, "closing": figures, "fx_revaluation": np.zeros(n, np.int64)},
        copy=False,
    )
    alone = pd.DataFrame({"closing": figures.copy(), "fx_revaluation": np.zeros(n, np.int64)})

    def stored(frame: pd.DataFrame) -> bytes:
        stream = io.BytesIO()
        write_frame(frame, stream)
        return stream.getvalue()

    def back(data: bytes, columns=None, optional=()) -> pd.DataFrame:
        table = read_table(io.BytesIO(data), columns, optional)
        return from_table(table, columns, optional)

    # The repeated column costs a line of metadata, not another column.
    assert len(stored(frame)) < len(stored(alone)) + 1_000
    loaded = back(stored(frame))
    pd.testing.assert_frame_equal(loaded, frame)
    assert np.shares_memory(loaded["closing"].to_numpy(), loaded["closing_local"].to_numpy())
    # Asked for one of them only, or for a column the frame may lack: as asked.
    only = back(stored(frame), ["closing"], ["amount_reporting"])
    assert list(only.columns) == ["closing"] and only["closing"].equals(frame["closing"])
    # Equal values in another array are stored as they are.
    apart = pd.DataFrame({"a": figures, "b": figures.copy()})
    assert len(stored(apart)) > len(stored(apart[["a"]])) + 1_000
