"""What a publication was made from: the code version and the state of each source read.

Recorded with every published version, so a figure can be traced to the exact code and
source snapshot behind it, and a later run can tell whether the sources moved since.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from backlog_pipeline.money import exact_sum, format_cents

CODE_VERSION = "BACKLOG_CODE_VERSION"
# The money column of each canonical source: contracts' TCV, changes' and lines' amounts.
MONEY_COLUMNS = ("tcv", "amount")


@cache
def code_version() -> str:
    """``BACKLOG_CODE_VERSION`` if the deployment sets it, else package version + git commit."""
    pinned = os.environ.get(CODE_VERSION, "").strip()
    if pinned:
        return pinned[:128]
    try:
        package = version("backlog_pipeline")
    except PackageNotFoundError:
        package = "unknown"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return package
    return f"{package}+g{commit}" if commit else package


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """A digest of a frame's content, independent of its row order.

    Text is hashed value by value (``categorize=False``): the same digest as pandas'
    default, without first factorizing fifteen million mostly unique line ids.
    """
    if frame.empty:
        return hashlib.sha256(b"").hexdigest()
    hashed = pd.util.hash_pandas_object(frame, index=False, categorize=False).to_numpy()
    hashed.sort()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def source_total(frame: pd.DataFrame) -> int:
    """The sum of a source's money column in cents (blank amounts count 0), exact."""
    column = next((name for name in MONEY_COLUMNS if name in frame), None)
    if column is None or frame.empty:
        return 0
    return exact_sum(frame[column].dropna().to_numpy(dtype="int64"))


# A source frame's ``attrs`` key: its mark, computed once where the source was read.
SOURCE_MARK = "backlog/source_mark"


def carried_mark(frame: pd.DataFrame) -> dict[str, Any]:
    """The mark the source step computed and carried with the frame (see ``SOURCE_MARK``);
    computed here only for a frame that carries none (one made outside a source step)."""
    mark = frame.attrs.get(SOURCE_MARK)
    return dict(mark) if mark else source_mark(frame)


def source_mark(frame: pd.DataFrame) -> dict[str, Any]:
    """Rows, total amount, content digest and the high-water mark (latest ``updated_at``) of
    a source read. Rows and total let the next run see a source that shrank (``shrink``)."""
    mark: dict[str, Any] = {
        "rows": len(frame),
        "total": format_cents(source_total(frame)),
        "fingerprint": frame_fingerprint(frame),
    }
    if "updated_at" in frame and frame["updated_at"].notna().any():
        mark["high_water_mark"] = frame["updated_at"].max().isoformat()
    else:
        mark["high_water_mark"] = None
    return mark
