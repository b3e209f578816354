"""A CRM export's CSV with a broken structure: bad lines set aside with their line numbers,
and never a value moved from one record to another."""

import csv
import io
import random

import pandas as pd
import pytest

from backlog_pipeline.defs.resources import CrmExport
from backlog_pipeline.sources.canonical import SourceError, parse_contract_changes, parse_contracts
from backlog_pipeline.sources.csv_file import read_rows

HEADER = "contract_id,customer_id,customer_name,signed_date,tcv"


def write(tmp_path, *lines: str, name: str = "contracts.csv", raw: bytes | None = None) -> None:
    (tmp_path / name).write_bytes(raw if raw is not None else ("\n".join(lines) + "\n").encode())


def read(tmp_path, table: str = "contracts") -> pd.DataFrame:
    return CrmExport(directory=str(tmp_path)).read_table(table)


def plain(n: int) -> str:
    """Contract C<n>'s line: its own customer, date and amount, all derived from n."""
    return f"C{n},X{n},Name {n},2024-01-{n:02d},{n}00.00"


def test_a_stray_quote_sets_its_line_aside_and_moves_no_value(tmp_path):
    # Line 3 opens a quote it never closes; the next quote is on line 21 (C20's name). Read
    # as pandas did, C2 took C20's date and TCV and lines 4-21 vanished into its name.
    write(tmp_path, HEADER, 'C1,A,"Acme, Inc",2024-01-01,100.00', 'C2,B,"Bolt Co,2024-01-02,200.00',
          *(plain(n) for n in range(3, 20)), 'C20,T,"Tango",2024-01-20,2000.00')  # fmt: skip
    parsed = parse_contracts(read(tmp_path), "crm", "USD")

    assert parsed.quarantine[["row_number", "field", "value"]].values.tolist() == [
        [3, "line", 'C2,B,"Bolt Co,2024-01-02,200.00']
    ]
    assert parsed.quarantine["reason"].iloc[0].startswith("unbalanced quote")
    rows = parsed.rows.set_index("contract_id")
    assert sorted(rows.index) == sorted(f"C{n}" for n in range(1, 21) if n != 2)
    # Every contract keeps its own date and TCV: C<n> was signed 2024-01-<n> for n × 100.00.
    for n in range(3, 21):
        assert rows.loc[f"C{n}", "signed_date"] == pd.Timestamp(f"2024-01-{n:02d}")
        assert rows.loc[f"C{n}", "tcv"] == n * 100 * 100
    assert rows.loc["C20", "customer_name"] == "Tango"


def test_a_quote_that_never_closes_sets_only_its_line_aside(tmp_path):
    write(tmp_path, HEADER, plain(1), 'C2,B,"Bolt,2024-01-02,200.00', plain(3), plain(4))
    parsed = parse_contracts(read(tmp_path), "crm", "USD")
    assert parsed.rows["contract_id"].tolist() == ["C1", "C3", "C4"]
    assert parsed.quarantine["row_number"].tolist() == [3]
    assert "never closes" in parsed.quarantine["reason"].iloc[0]


def test_row_numbers_are_file_lines_after_multi_line_fields_and_blank_lines(tmp_path):
    # C1's name runs over lines 2-4 (a legitimate quoted field); line 5 is blank.
    write(tmp_path, HEADER, 'C1,A,"Acme', "Holdings, Ltd", 'Europe",2024-01-01,100.00', "",
          "C2,B,Bolt,2024-13-01,5.00", "C3,C,Carr,2024-01-03,x")  # fmt: skip
    parsed = parse_contracts(read(tmp_path), "crm", "USD")
    assert parsed.rows["customer_name"].tolist() == ["Acme\nHoldings, Ltd\nEurope"]
    assert parsed.quarantine[["record_id", "row_number", "field"]].values.tolist() == [
        ["C2", 6, "signed_date"],
        ["C3", 7, "tcv"],
    ]


def test_wrong_field_counts_and_undecodable_bytes_set_their_lines_aside(tmp_path):
    lines = [HEADER, plain(1), "C2,B,Bolt,2024-01-02,200.00,extra", "C3,C,Carr", plain(4)]
    latin1 = "C5,E,Caf\xe9,2024-01-05,500.00".encode("latin-1")
    write(tmp_path, raw=("\n".join(lines) + "\n").encode() + latin1 + b"\n" + plain(6).encode())
    parsed = parse_contracts(read(tmp_path), "crm", "USD")
    assert parsed.rows["contract_id"].tolist() == ["C1", "C4", "C6"]
    assert parsed.quarantine[["row_number", "reason", "value"]].values.tolist() == [
        [3, "6 field(s) where the header has 5", "C2,B,Bolt,2024-01-02,200.00,extra"],
        [4, "3 field(s) where the header has 5", "C3,C,Carr"],
        [6, "line 6 is not valid UTF-8 (shown as \ufffd)", "C5,E,Caf\ufffd,2024-01-05,500.00"],
    ]


def test_where_records_end_cannot_be_told_every_line_of_the_run_is_set_aside(tmp_path):
    # A quoted field over lines 3-4 that leaves 6 fields, and line 4 alone is no row either.
    write(tmp_path, HEADER, plain(1), 'C2,B,"first part', 'second part",2024-01-02,200.00,EXTRA',
          plain(5))  # fmt: skip
    parsed = parse_contracts(read(tmp_path), "crm", "USD")
    assert parsed.rows["contract_id"].tolist() == ["C1", "C5"]
    assert parsed.quarantine["row_number"].tolist() == [3, 4]
    assert all("cannot tell where records end between lines 3 and 4" in r
               for r in parsed.quarantine["reason"])  # fmt: skip


def test_an_empty_file_and_a_broken_header_name_the_file(tmp_path):
    write(tmp_path, raw=b"")
    with pytest.raises(SourceError, match=r"CRM export .*: contracts.csv is empty"):
        read(tmp_path)
    write(tmp_path, 'contract_id,"customer_id', plain(1))
    with pytest.raises(SourceError, match=r"contracts.csv, line 1 \(the header\)"):
        read(tmp_path)
    write(tmp_path, "contract_id,tcv,tcv", "C1,1,2")
    with pytest.raises(SourceError, match=r"contracts.csv, line 1 \(the header\): .* tcv repeated"):
        read(tmp_path)


def test_changes_quarantined_from_a_broken_export_name_their_lines(tmp_path):
    write(tmp_path, "change_id,contract_id,effective_date,kind,amount",
          "X1,C1,2024-03-01,increase,10.00", 'X2,C1,"2024-03-02,decrease,5.00',
          "X3,C1,2024-03-03,decrease,1.00", name="contract_changes.csv")  # fmt: skip
    parsed = parse_contract_changes(read(tmp_path, "contract_changes"), "crm")
    assert parsed.rows["change_id"].tolist() == ["X1", "X3"]
    assert parsed.quarantine[["row_number", "field"]].values.tolist() == [[3, "line"]]


def _export(rng: random.Random, count: int) -> tuple[str, dict[str, tuple[list[str], int]]]:
    """A well-formed export of ``count`` records (names with commas, quotes and line
    breaks), and each record's fields and first line, by id."""
    words = ["Acme", "Bolt, Inc", 'the "Big" one', "Carr\nand Sons", "x,y,z", "", "Ltd."]
    out, expected, line = io.StringIO(), {}, 2
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER.split(","))
    for n in range(count):
        fields = [f"C{n}", f"X{n}", " ".join(rng.sample(words, 2)), f"2024-02-{n % 28 + 1:02d}",
                  f"{rng.randint(1, 99999)}.{rng.randint(0, 99):02d}"]  # fmt: skip
        before = out.tell()
        writer.writerow(fields)
        expected[f"C{n}"] = (fields, line)
        line += out.getvalue()[before:].count("\n")
    return out.getvalue(), expected


def _one_quote_broken(rng: random.Random, text: str) -> str:
    """``text`` with one quote removed, or added at a field's start or anywhere."""
    quotes = [i for i, c in enumerate(text) if c == '"']
    kind = rng.random()
    if kind < 0.4 and quotes:
        at = rng.choice(quotes)
        return text[:at] + text[at + 1 :]
    if kind < 0.8:
        at = rng.choice([i + 1 for i, c in enumerate(text) if c in ",\n" and i + 1 < len(text)])
    else:
        at = rng.randrange(len(text))
    return text[:at] + '"' + text[at:]


def test_no_value_ever_moves_between_records_whatever_quote_is_broken():
    # 1,000 exports of 40 records, each with one quote removed or added somewhere. Every row
    # read lies within the lines of one original record (so holds no other record's value),
    # and a record that is not read has a line set aside: nothing merges, nothing vanishes.
    exact = rows = 0
    for seed in range(1_000):
        rng = random.Random(seed)
        text, expected = _export(rng, 40)
        spans = {rid: (line, line + sum(f.count("\n") for f in fields))
                 for rid, (fields, line) in expected.items()}  # fmt: skip
        try:
            frame, broken = read_rows(_one_quote_broken(rng, text).encode(), "contracts.csv")
        except SourceError:
            continue  # the header was hit: the whole file is refused, naming it
        read_ids = set()
        rows_read = frame[HEADER.split(",")].values.tolist()
        for fields, line in zip(rows_read, frame["@line"].tolist(), strict=True):
            end = line + sum(f.count("\n") for f in fields)
            owners = [rid for rid, (a, b) in spans.items() if a <= line and end <= b]
            assert len(owners) == 1, (seed, fields, line)
            rows += 1
            read_ids.add(owners[0])
            exact += (fields, line) == expected[owners[0]]
        aside = {b.line for b in broken}
        for rid, (a, b) in spans.items():
            assert rid in read_ids or aside.intersection(range(a, b + 1)), (seed, rid)
    # Rows that differ from their record are that record's own text, quoted anew by the
    # broken quote (a name's quotes); ids, dates and amounts are checked by the parsers.
    assert exact / rows > 0.999


def test_a_file_of_one_record_per_line_reads_the_same_by_pyarrow_as_record_by_record():
    # Such files take pyarrow's CSV reader; the careful reader is the independent route.
    from backlog_pipeline.sources.csv_records import read_records

    rng = random.Random(7)
    names = ["Acme", "Bolt, Inc", 'the "Big" one', "", "x,y,z", '"']
    for case in range(300):
        out = io.StringIO()
        ending = rng.choice(["\n", "\r\n"])
        quoting = rng.choice([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, None])  # None: no quote at all
        writer = csv.writer(out, lineterminator=ending, quoting=quoting or csv.QUOTE_MINIMAL)
        writer.writerow(HEADER.split(","))
        for n in range(1, 30):
            name = rng.choice(names if quoting else ["Acme", "", "Bolt Inc"])
            writer.writerow([f"C{n}", f"X{n}", name, f"2024-01-{n:02d}", "1.00"])
        lines = out.getvalue().split(ending)
        for _ in range(rng.randint(0, 4)):  # blank lines, short and long lines, empty rows
            at = rng.randrange(1, len(lines))
            lines.insert(at, rng.choice(["", "C9,X", 'C8,X8,"N",2024-01-08,1.00,x', ",,,,"]))
        data = ("\ufeff" if case % 3 == 0 else "").encode() + ending.join(lines).encode()
        frame, broken = read_rows(data, "contracts.csv")
        careful = read_records(data, "contracts.csv")
        assert frame[careful.header].values.tolist() == careful.rows, case
        assert frame["@line"].tolist() == careful.lines, case
        assert [(b.line, b.reason, b.text) for b in broken] == [
            (b.line, b.reason, b.text) for b in careful.broken
        ], case


# The broken files of the tests above, and whether each is provably one record per line.
BROKEN_FILES = {
    "stray quote": ([HEADER, plain(1), 'C2,B,"Bolt Co,2024-01-02,200.00', plain(3)], False),
    "multi-line field and blank line": (
        [HEADER, 'C1,A,"Acme', 'Europe",2024-01-01,100.00', "", plain(2)], False),
    "field counts and a blank line": (
        [HEADER, plain(1), "C2,B,Bolt,2024-01-02,200.00,extra", "", "C3,C,Carr", plain(4)], True),
    "quoted commas, doubled quotes, CRLF": (
        [HEADER, 'C1,A,"Acme, ""Inc""",2024-01-01,100.00\r', "C2,B,Bolt,2024-13-01,x\r"], True),
    "quote inside an unquoted field": ([HEADER, 'C1,A,Ac"me,2024-01-01,1.00', plain(2)], False),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BROKEN_FILES))
def test_the_pyarrow_fast_path_equals_the_strict_reader_on_broken_files(case):
    from backlog_pipeline.sources.csv_file import _plain
    from backlog_pipeline.sources.csv_records import read_records

    lines, simple = BROKEN_FILES[case]
    data = ("\n".join(lines) + "\n").encode()
    fast = _plain(data, "contracts.csv")
    assert (fast is not None) == simple  # a file that is not provably simple is never fast
    frame, broken = read_rows(data, "contracts.csv")
    careful = read_records(data, "contracts.csv")
    assert frame[careful.header].values.tolist() == careful.rows
    assert frame["@line"].tolist() == careful.lines
    assert [(b.line, b.reason, b.text) for b in broken] == [
        (b.line, b.reason, b.text) for b in careful.broken
    ]
