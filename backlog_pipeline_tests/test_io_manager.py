"""Frames between steps come back exactly as they went in, however they are packed."""

import pickle

import numpy as np
import pandas as pd
import pytest

from backlog_pipeline.defs.io_manager import pack, unpack


def test_packed_frames_come_back_equal_with_one_object_per_repeated_text():
    n = 5_000
    frame = pd.DataFrame(
        {
            "line_id": [f"L-{i:06d}-ü" for i in range(n)],
            "contract_id": [f"C-{i % 7}" for i in range(n)],
            "with_missing": [None if i % 3 else "x" for i in range(n)],
            "holds_separator": ["a\x1fb"] * n,
            "period": np.arange(n, dtype=np.int64),
            "amount": pd.array([None, *range(n - 1)], dtype="Int64"),
            "when": pd.Timestamp("2024-01-01", tz="UTC"),
        },
        index=pd.RangeIndex(10, 10 + n),
    )
    back = unpack(pickle.loads(pickle.dumps(pack(frame))))
    pd.testing.assert_frame_equal(back, frame)
    assert len({id(value) for value in back["contract_id"]}) == 7
    for small in (frame.head(3), frame.iloc[0:0], pd.DataFrame()):
        pd.testing.assert_frame_equal(unpack(pickle.loads(pickle.dumps(pack(small)))), small)
    assert unpack(frame) is frame  # pickled as they are by earlier versions


def test_a_step_that_asks_for_some_columns_gets_only_those():
    n = 3_000
    frame = pd.DataFrame(
        {
            "line_id": [f"L-{i:06d}" for i in range(n)],
            "contract_id": [f"C-{i % 11}" for i in range(n)],
            "period": np.arange(n, dtype=np.int64),
        }
    )
    stored = pickle.loads(pickle.dumps(pack(frame)))
    wanted = ["contract_id", "period"]
    pd.testing.assert_frame_equal(unpack(stored, wanted), frame[wanted])
    pd.testing.assert_frame_equal(unpack(frame, wanted), frame[wanted])  # an unpacked frame
    with pytest.raises(KeyError, match="tcv"):
        unpack(stored, ["contract_id", "tcv"])


def test_a_loaded_id_column_is_looked_up_through_its_distinct_ids_and_only_that_column():
    import gc

    from backlog_pipeline import text_codes

    n = 20_000
    frame = pd.DataFrame(
        {"contract_id": [f"C{i % 300:04d}" for i in range(n)], "period": np.arange(n)}
    )
    loaded = unpack(pickle.loads(pickle.dumps(pack(frame))))
    known = pd.Index([f"C{i:04d}" for i in range(0, 400, 3)])  # some ids unknown (-1)
    expected = known.get_indexer(frame["contract_id"])
    ids = loaded["contract_id"].to_numpy()
    assert id(ids) in text_codes._remembered  # the fast route is the one taken
    assert (text_codes.positions(known, loaded["contract_id"]) == expected).all()
    # A filtered or reordered copy is a different array: looked up value by value.
    turned = loaded.iloc[::-1]
    assert id(turned["contract_id"].to_numpy()) not in text_codes._remembered
    assert (text_codes.positions(known, turned["contract_id"]) == expected[::-1]).all()
    del loaded, turned, ids
    gc.collect()
    assert not any(entry[0]() is not None and len(entry[1]) == n
                   for entry in text_codes._remembered.values())  # fmt: skip
