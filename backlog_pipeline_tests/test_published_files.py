"""Published files and the folders they go to (issue 12, smaller items).

An unchanged rerun leaves every KPI file as it was (same bytes, same modification time);
files are 0644; relative folder settings live inside the data folder.
"""

import stat
from pathlib import Path

import pytest

from backlog_pipeline.config import SettingsError, load_settings
from backlog_pipeline.file_writes import write_atomically
from backlog_pipeline_tests.support import build, close


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_file_is_rewritten_only_when_its_bytes_change(tmp_path):
    path = tmp_path / "month" / "document.json"
    assert write_atomically(path, b"{}\n")
    before = path.stat().st_mtime_ns, path.stat().st_ino
    assert not write_atomically(path, b"{}\n")
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == before
    assert write_atomically(path, b'{"a": 1}\n')
    assert path.read_bytes() == b'{"a": 1}\n' and _mode(path) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["document.json"]  # no temporary left


@pytest.mark.slow
def test_an_unchanged_rerun_keeps_every_kpi_file_and_they_are_readable_by_all(
    tmp_path, monkeypatch
):
    defs = build(tmp_path, monkeypatch, f"sqlite:///{tmp_path / 'warehouse.sqlite'}")
    assert close(defs, "2024-01", "2024-06").success
    files = sorted(path for path in (tmp_path / "data" / "output").rglob("*") if path.is_file())
    kpi = [path for path in files if not path.name.startswith(("board_pack", "backlog_trend"))]
    # Per month: the two KPI documents, the RPO disclosure's document and its four notes.
    assert len(kpi) == 6 * 7
    # Per month the board pack's page and its charts' images, and the trend at the top.
    assert {path.parent.name for path in files if path.name == "board_pack.html"} == {
        f"2024-0{month}" for month in range(1, 7)
    }
    assert (tmp_path / "data" / "output" / "backlog_trend.html").is_file()
    assert {_mode(path) for path in files} == {0o644}
    before = {path: path.stat().st_mtime_ns for path in files}
    assert close(defs, "2024-01", "2024-06").success
    assert {path: path.stat().st_mtime_ns for path in files} == before


@pytest.mark.parametrize(
    ("variable", "text", "expected"),
    [
        ("BACKLOG_OUTPUT_DIR", "reports", "data/reports"),
        ("BACKLOG_OUTPUT_DIR", "reports/../kpi", "data/kpi"),
        ("BACKLOG_CRM_DIR", "exports", "data/exports"),
    ],
)
def test_relative_folders_are_inside_the_data_folder(tmp_path, variable, text, expected):
    (tmp_path / "data" / "exports").mkdir(parents=True)
    environ = {"BACKLOG_DATA_DIR": str(tmp_path / "data"), "BACKLOG_CRM_DIR": "exports",
               variable: text, "BACKLOG_ERP_URL": "sqlite:///x.sqlite"}  # fmt: skip
    settings = load_settings(environ)
    found = settings.output_dir if variable == "BACKLOG_OUTPUT_DIR" else settings.crm_dir
    assert found == tmp_path / expected


@pytest.mark.parametrize("text", ["../../etc", "reports/../../elsewhere", ".."])
def test_a_relative_folder_leading_out_of_the_data_folder_is_refused(tmp_path, text):
    environ = {"BACKLOG_DATA_DIR": str(tmp_path / "data"), "BACKLOG_OUTPUT_DIR": text}
    with pytest.raises(SettingsError, match="leads outside the data folder"):
        load_settings(environ)


def test_an_absolute_folder_is_taken_as_it_is(tmp_path):
    environ = {"BACKLOG_DATA_DIR": str(tmp_path / "data"),
               "BACKLOG_OUTPUT_DIR": str(tmp_path / "kpi")}  # fmt: skip
    assert load_settings(environ).output_dir == tmp_path / "kpi"
