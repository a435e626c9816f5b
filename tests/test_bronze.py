"""raw → bronze: every column as text, lineage, and clear errors for files that cannot be read."""

from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cartflow.config import CsvOptions
from cartflow.lake.bronze import BronzeError, Layout, to_bronze
from cartflow.lake.storage import LocalStorage
from conftest import write_csv

ROWS = [
    '536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER ,6,12/1/2010 8:26,2.55,17850,United Kingdom',
    '536366,22633,"HAND WARMER, UNION JACK",6,12/1/2010 8:28,1.85,,United Kingdom',
    '536367,GIFT_0001_40,Dotcomgiftshop Gift Voucher £40.00,1,12/1/2010 8:34,34.04,,United Kingdom',
]


def convert(tmp_path: Path, raw: Path, **opts: str):
    storage = LocalStorage(tmp_path / "lake")
    key = "raw/s/order_lines/x.csv"
    storage.write_file(key, raw)
    csv = CsvOptions(**opts)
    result = to_bronze(storage, key, source="online_retail", entity="order_lines", batch_id="b1",
                       source_file=raw.name, ingested_at=datetime(2024, 1, 1),
                       layout=Layout("csv", encoding=csv.encoding, delimiter=csv.delimiter, quote=csv.quote))
    return result, pq.read_table(storage.uri(result.key))


def test_columns_are_text_with_lineage_and_latin1_decoded(tmp_path: Path) -> None:
    result, table = convert(tmp_path, write_csv(tmp_path / "a.csv", ROWS))
    assert result.rows == 3 and result.malformed_rows == 0
    assert all(str(t) == "string" for t in table.schema.types[:8])
    rows = table.to_pylist()
    assert rows[0]["description"] == "WHITE HANGING HEART T-LIGHT HOLDER "  # trimmed later, in silver
    assert rows[1]["description"] == "HAND WARMER, UNION JACK"
    assert rows[1]["customer_id"] is None
    assert rows[2]["description"].endswith("£40.00")
    assert [r["_source_row"] for r in rows] == [1, 2, 3]
    assert {r["_batch_id"] for r in rows} == {"b1"} and rows[0]["_source_file"] == "a.csv"


def test_online_retail_ii_header_maps_to_the_same_columns(tmp_path: Path) -> None:
    header = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"
    _, table = convert(tmp_path, write_csv(tmp_path / "ii.csv", ROWS[:1], header=header))
    row = table.to_pylist()[0]
    assert row["invoice_no"] == "536365" and row["unit_price"] == "2.55" and row["customer_id"] == "17850"


def test_wrong_encoding_names_file_row_and_the_fix(tmp_path: Path) -> None:
    raw = write_csv(tmp_path / "latin.csv", ROWS)  # latin-1 bytes
    with pytest.raises(BronzeError) as err:
        convert(tmp_path, raw, encoding="utf-8")
    msg = str(err.value)
    assert "online_retail: latin.csv: row 3 (line 4)" in msg and 'encoding = "latin-1"' in msg


def test_missing_column_is_named(tmp_path: Path) -> None:
    header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,CustomerID,Country"
    raw = write_csv(tmp_path / "m.csv", ["536365,85123A,X,6,12/1/2010 8:26,17850,United Kingdom"], header=header)
    with pytest.raises(BronzeError, match=r"m.csv: row 1 \(header\): missing column 'unit_price'"):
        convert(tmp_path, raw)


def test_extra_column_is_ignored_with_a_warning(tmp_path: Path) -> None:
    header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country,Channel"
    raw = write_csv(tmp_path / "e.csv", [ROWS[0] + ",web"], header=header)
    result, table = convert(tmp_path, raw)
    assert result.warnings == ["online_retail: e.csv: extra column 'Channel' ignored"]
    assert "Channel" not in table.column_names and table.num_rows == 1


def test_truncated_file_keeps_the_broken_last_row_for_quarantine(tmp_path: Path) -> None:
    raw = write_csv(tmp_path / "t.csv", ROWS)
    raw.write_bytes(raw.read_bytes()[:-30])  # cut inside the last row
    result, table = convert(tmp_path, raw)
    assert result.rows == 3 and result.malformed_rows == 1
    broken = [r for r in table.to_pylist() if r["_error"]]
    assert broken[0]["_source_row"] == 3 and "expected 8 fields" in broken[0]["_error"]


def test_malformed_row_in_the_middle_keeps_its_row_number(tmp_path: Path) -> None:
    rows = [ROWS[0], "536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850", ROWS[1]]
    result, table = convert(tmp_path, write_csv(tmp_path / "mid.csv", rows))
    by_row = {r["_source_row"]: r for r in table.to_pylist()}
    assert sorted(by_row) == [1, 2, 3]
    assert by_row[2]["_error"] and by_row[3]["invoice_no"] == "536366"


def test_empty_file_is_a_clear_error(tmp_path: Path) -> None:
    raw = tmp_path / "empty.csv"
    raw.write_bytes(b"")
    with pytest.raises(BronzeError, match="empty.csv: the file is empty"):
        convert(tmp_path, raw)


def test_header_only_file_is_an_empty_batch(tmp_path: Path) -> None:
    result, table = convert(tmp_path, write_csv(tmp_path / "h.csv", []))
    assert result.rows == 0 and table.num_rows == 0


def test_semicolon_export_reads_with_configured_delimiter(tmp_path: Path) -> None:
    header = "InvoiceNo;StockCode;Description;Quantity;InvoiceDate;UnitPrice;CustomerID;Country"
    raw = write_csv(tmp_path / "s.csv", ["536365;85123A;X;6;01-12-2010 08:26;2,55;17850;United Kingdom"], header=header)
    _, table = convert(tmp_path, raw, delimiter=";", decimal=",")
    assert table.to_pylist()[0]["unit_price"] == "2,55"
