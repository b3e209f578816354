"""Frames between steps: Parquet files that give back exactly what went in, projected and
coded as each step asks, one file per month however many months a load spans."""

import io
from decimal import Decimal

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from upath import UPath

from backlog_pipeline.accounting.lookup import positions
from backlog_pipeline.defs.io_manager import (
    CATEGORIES,
    COLUMNS,
    OPTIONAL,
    SNAPSHOT,
    MonthlyFrameIOManager,
    ParquetFrameIOManager,
)
from backlog_pipeline.periods import PARTITION_KEY_FORMAT
from backlog_pipeline.staging_frames import from_table, read_table, write_frame
from backlog_pipeline_tests.support import partition_key


def staged(frame, columns=None, optional=(), categories=()):
    stream = io.BytesIO()
    write_frame(frame, stream)
    stream.seek(0)
    return from_table(read_table(stream, columns, optional), columns, optional, categories)


def every_type(n: int) -> pd.DataFrame:
    figures = np.arange(n, dtype=np.int64) * 1_000_003 - 7  # cents, negatives included
    frame = pd.DataFrame(
        {
            "line_id": [f"L-{i:06d}-ü" for i in range(n)],
            "contract_id": [f"C-{i % 7}" for i in range(n)],
            "with_missing": [None if i % 3 else "x" for i in range(n)],
            "period": np.full(n, 24_301, dtype=np.int64),
            "closing_local": figures,
            "closing": figures,  # the very array: stored once
            "big": np.full(n, 2**62 + 1, dtype=np.int64),  # beyond a float's 53 bits
            "amount": pd.array([None, *range(n - 1)], dtype="Int64"),
            "updated_at": pd.Timestamp("2024-01-01 10:00:00.123456789", tz="UTC"),
            "signed": pd.Timestamp("2024-02-29"),
            "pct": [Decimal("1.50") if i % 2 else None for i in range(n)],
            "rate": [Decimal("0.9123456789")] * n,
            "currency": pd.Categorical(["USD"] * n, categories=["EUR", "USD"]),
        },
        index=pd.RangeIndex(10, 10 + n),
        copy=False,
    )
    frame.attrs["missing_reasons"] = {"tcv": "the field is empty in every record"}
    return frame


def test_every_column_type_comes_back_exactly():
    frame = every_type(5_000)
    back = staged(frame)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert back.attrs == frame.attrs
    assert [str(v) for v in back["pct"].head(2)] == ["None", "1.50"]  # scale kept
    assert int(back["big"].iloc[0]) == 2**62 + 1
    # Repeated ids: one object per distinct id; equal figures: one shared array.
    assert len({id(value) for value in back["contract_id"]}) == 7
    assert np.shares_memory(back["closing"].to_numpy(), back["closing_local"].to_numpy())
    for small in (frame.head(3), frame.iloc[0:0], pd.DataFrame()):
        pd.testing.assert_frame_equal(staged(small), small, check_exact=True)


def test_a_step_that_asks_for_some_columns_gets_only_those():
    frame = every_type(3_000)
    wanted = ["contract_id", "closing"]
    only = staged(frame, wanted, optional=("amount_reporting", "pct"))
    pd.testing.assert_frame_equal(only, frame[[*wanted, "pct"]])
    with pytest.raises(KeyError, match="tcv"):
        staged(frame, ["contract_id", "tcv"])


def test_frames_that_cannot_be_staged_exactly_are_refused():
    with pytest.raises(ValueError, match="duplicate"):
        staged(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    with pytest.raises(TypeError, match="attrs"):
        frame = pd.DataFrame({"a": [1]})
        frame.attrs["when"] = object()
        staged(frame)


def test_an_id_column_loaded_as_categories_is_looked_up_through_its_distinct_ids():
    n = 20_000
    frame = pd.DataFrame({"contract_id": [None if i == 5 else f"C{i % 300:04d}" for i in range(n)]})
    loaded = staged(frame, ["contract_id"], categories=("contract_id",))
    assert isinstance(loaded["contract_id"].dtype, pd.CategoricalDtype)
    assert len(loaded["contract_id"].cat.categories) == 300
    known = pd.Index([f"C{i:04d}" for i in range(0, 400, 3)])  # some ids unknown (-1)
    expected = known.get_indexer(frame["contract_id"])
    assert expected[5] == -1
    assert (positions(known, loaded["contract_id"]) == expected).all()
    assert (positions(known, frame["contract_id"]) == expected).all()  # texts: by value


def _manager(tmp_path) -> ParquetFrameIOManager:
    return MonthlyFrameIOManager(base_dir=str(tmp_path / "staging")).create_io_manager(
        dg.build_init_resource_context()
    )


def _months_frame(months: list[str], per_month: int) -> pd.DataFrame:
    parts = []
    for at, month in enumerate(months):
        year, number = map(int, month.split("-"))
        part = every_type(per_month).reset_index(drop=True)
        part["period"] = year * 12 + number - 1
        part["contract_id"] = [f"{month}-C{i % 5}" for i in range(per_month)]
        part["closing"] = part["closing"] + at
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def test_a_range_of_months_is_written_month_by_month_and_loaded_as_one(tmp_path):
    months = ["2025-01", "2025-02", "2025-03"]
    frame = _months_frame(months, 1_500)
    manager = _manager(tmp_path)
    partitions = dg.MonthlyPartitionsDefinition(start_date="2024-01", fmt=PARTITION_KEY_FORMAT)
    keys = [partition_key(m) for m in months]
    output = dg.build_output_context(
        asset_key=dg.AssetKey("contract_backlog"),
        partition_key=None,
        run_id="run-1",
        asset_partitions_def=partitions,
        asset_partition_key_range=dg.PartitionKeyRange(keys[0], keys[-1]),
    )
    manager.handle_output(output, frame)
    files = sorted(p.name for p in (tmp_path / "staging" / "contract_backlog").iterdir())
    assert files == [f"{m}.parquet" for m in months]
    assert (tmp_path / "staging" / "runs" / "run-1" / "contract_backlog").is_dir()

    def load(first, last, **metadata):
        context = dg.build_input_context(
            asset_key=dg.AssetKey("contract_backlog"),
            asset_partitions_def=partitions,
            asset_partition_key_range=dg.PartitionKeyRange(first, last),
            definition_metadata=metadata,
        )
        return manager.load_input(context)

    pd.testing.assert_frame_equal(load(keys[0], keys[-1]), frame, check_exact=True)
    one = load(keys[1], keys[1])
    pd.testing.assert_frame_equal(
        one, frame[frame["period"] == 2025 * 12 + 1].reset_index(drop=True)
    )
    coded = load(keys[0], keys[2], **{COLUMNS: ["contract_id"], OPTIONAL: ["nothing"],
                                      CATEGORIES: ["contract_id"]})  # fmt: skip
    assert list(coded.columns) == ["contract_id"]
    assert coded["contract_id"].astype(object).tolist() == frame["contract_id"].tolist()
    with pytest.raises(FileNotFoundError, match="materialize"):
        load(partition_key("2025-04"), partition_key("2025-04"))


def test_a_snapshot_is_one_file_whatever_months_a_run_covers(tmp_path):
    manager = _manager(tmp_path)
    partitions = dg.MonthlyPartitionsDefinition(start_date="2024-01", fmt=PARTITION_KEY_FORMAT)
    frame = every_type(2_000).reset_index(drop=True)
    output = dg.build_output_context(
        asset_key=dg.AssetKey("erp_recognition"),
        run_id="run-2",
        asset_partitions_def=partitions,
        asset_partition_key_range=dg.PartitionKeyRange(partition_key("2024-01"),
                                                       partition_key("2024-06")),
        definition_metadata={SNAPSHOT: True},
    )  # fmt: skip
    manager.handle_output(output, frame)
    assert [p.name for p in (tmp_path / "staging" / "erp_recognition").iterdir()] == ["all.parquet"]
    context = dg.build_input_context(
        asset_key=dg.AssetKey("erp_recognition"),
        asset_partitions_def=partitions,
        asset_partition_key_range=dg.PartitionKeyRange(partition_key("2024-03"),
                                                       partition_key("2024-03")),
        upstream_output=output,
    )  # fmt: skip
    pd.testing.assert_frame_equal(manager.load_input(context), frame, check_exact=True)


def test_staging_can_sit_on_any_fsspec_storage(tmp_path):
    """The memory filesystem stands for object storage: no links, no renames."""
    manager = ParquetFrameIOManager(UPath("memory://staging-test"))
    frame = every_type(1_200).reset_index(drop=True)
    output = dg.build_output_context(asset_key=dg.AssetKey("backlog_flow"), run_id="run-3")
    manager.handle_output(output, frame)
    loaded = manager.load_input(dg.build_input_context(asset_key=dg.AssetKey("backlog_flow")))
    pd.testing.assert_frame_equal(loaded, frame, check_exact=True)
