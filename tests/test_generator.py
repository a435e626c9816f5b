"""The Online Retail generator against the real file's profile (shared/reference/online-retail-profile.md).

The CSV is read back with real readers (DuckDB, the csv module), never through generator internals.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import duckdb
import pytest

from cartflow.sandbox.retail_generator import GeneratedFiles, generate_online_retail

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
ROWS = 541_909


def _load(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"""
        CREATE TABLE raw AS SELECT * FROM read_csv('{path}', encoding = 'latin-1', header = true,
            all_varchar = true, quote = '"', escape = '"', delim = ',')""")
    con.execute("""
        CREATE TABLE r AS SELECT InvoiceNo AS inv, StockCode AS code, Description AS descr,
            CAST(Quantity AS INTEGER) AS q, strptime(InvoiceDate, '%-m/%-d/%Y %-H:%M') AS ts,
            CAST(UnitPrice AS DECIMAL(18, 3)) AS price, CAST(CustomerID AS INTEGER) AS cid,
            Country AS country FROM raw""")
    return con


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GeneratedFiles:
    return generate_online_retail(tmp_path_factory.mktemp("retail"), scale=1.0, seed=42)


@pytest.fixture(scope="module")
def raw(generated: GeneratedFiles) -> bytes:
    return generated.files[0].read_bytes()


@pytest.fixture(scope="module")
def db(generated: GeneratedFiles) -> duckdb.DuckDBPyConnection:
    return _load(generated.files[0])


def one(db: duckdb.DuckDBPyConnection, sql: str) -> object:
    row = db.execute(sql).fetchone()
    return row[0] if len(row) == 1 else row


def near(value: float, expected: float, rel: float = 0.03) -> bool:
    return abs(value - expected) <= rel * abs(expected)


def several(db: duckdb.DuckDBPyConnection, key: str, column: str) -> int:
    """How many `key`s come with more than one distinct `column`."""
    return one(db, f"""SELECT count(*) FROM (SELECT {key} FROM r WHERE {key} IS NOT NULL
                       GROUP BY {key} HAVING count(DISTINCT {column}) > 1)""")


def duplicates(db: duckdb.DuckDBPyConnection) -> int:
    """Rows equal in all 8 columns to an earlier row."""
    return one(db, "SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT * FROM raw)) FROM raw")


# --- file format ----------------------------------------------------------------------------


def test_one_file_with_the_exact_row_count(generated: GeneratedFiles, db) -> None:
    assert [f.name for f in generated.files] == ["online_retail.csv"]
    assert generated.rows == ROWS
    assert one(db, "SELECT count(*) FROM r") == ROWS


def test_header_crlf_and_latin1(raw: bytes) -> None:
    assert raw.startswith(HEADER.encode() + b"\r\n")
    assert raw.count(b"\r\n") == ROWS + 1
    assert raw.count(b"\n") == ROWS + 1  # no bare LF anywhere
    assert b"\xa3" in raw and b"\xc2\xa3" not in raw  # "£" as latin-1, not UTF-8
    assert "Dotcomgiftshop Gift Voucher £40.00".encode("latin-1") in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")


def test_fields_quoted_only_where_needed(raw: bytes) -> None:
    """Unquoted lines split into 8 fields on commas; quoted ones round-trip minimal quoting."""
    lines = raw.split(b"\r\n")[1:-1]
    quoted = [line.decode("latin-1") for line in lines if b'"' in line]
    assert all(line.count(b",") == 7 for line in lines if b'"' not in line)
    assert 0 < len(quoted) < len(lines) // 50
    for row in csv.reader(quoted):
        assert len(row) == 8 and ("," in row[2] or '"' in row[2])
        out = io.StringIO()
        csv.writer(out, lineterminator="", quoting=csv.QUOTE_MINIMAL).writerow(row)
        assert out.getvalue() in quoted
    assert '"PAPER CRAFT , LITTLE BIRDIE"' in raw.decode("latin-1")
    assert any(line.split(b",")[2].endswith(b" ") for line in lines[:1000])  # trailing spaces kept


def test_value_formats(db) -> None:
    def bad(column: str, pattern: str) -> int:
        return one(db, f"SELECT count(*) FROM raw WHERE NOT regexp_full_match({column}, '{pattern}')")

    assert bad("InvoiceDate", r"(1[0-2]|[1-9])/([1-9]|[12][0-9]|3[01])/20(10|11) (1?[0-9]|2[0-3]):[0-5][0-9]") == 0
    assert bad("InvoiceNo", r"[CA]?[0-9]{6}") == 0
    assert bad("UnitPrice", r"-?(0|[1-9][0-9]*)(\.[0-9]{0,2}[1-9])?") == 0  # no float noise
    assert bad("Quantity", r"-?[1-9][0-9]*") == 0
    assert bad("coalesce(CustomerID, '1')", r"[1-9][0-9]*") == 0
    assert one(db, "SELECT count(*) FROM raw WHERE UnitPrice = '0.001'") == 4
    assert one(db, "SELECT min(ts), max(ts) FROM r") == (
        one(db, "SELECT TIMESTAMP '2010-12-01 08:26'"), one(db, "SELECT TIMESTAMP '2011-12-09 12:50'"))
    assert one(db, "SELECT InvoiceDate FROM raw LIMIT 1") == "12/1/2010 8:26"


# --- exact counts and quirks ----------------------------------------------------------------


def test_exact_duplicate_rows(db) -> None:
    assert duplicates(db) == 5_268


def test_cancellations(db) -> None:
    rows, invoices, top = one(db, "SELECT count(*), count(DISTINCT inv), max(q) FROM r WHERE inv LIKE 'C%'")
    assert (rows, invoices) == (9_288, 3_836) and top < 0


def test_bad_debt_adjustments(db) -> None:
    rows = db.execute("SELECT inv, code, descr, q, price, cid FROM r WHERE inv LIKE 'A%' ORDER BY inv").fetchall()
    assert [r[0] for r in rows] == ["A563185", "A563186", "A563187"]
    assert {(r[1], r[2], r[5]) for r in rows} == {("B", "Adjust bad debt", None)}
    assert sorted(float(r[4]) for r in rows) == [-11062.06, -11062.06, 11062.06]


def test_stock_notes(db) -> None:
    rows, top_price, customers = one(db, """
        SELECT count(*), max(price), count(cid) FROM r WHERE q < 0 AND inv NOT LIKE 'C%'""")
    assert (rows, top_price, customers) == (1_336, 0, 0)
    notes = {r[0] for r in db.execute("SELECT DISTINCT descr FROM r WHERE q < 0 AND inv NOT LIKE 'C%'").fetchall()}
    assert {"check", "damaged", "found", "?", None} <= notes
    assert one(db, "SELECT count(*) FROM r WHERE q < 0") == 10_624
    assert one(db, "SELECT count(*) FROM r WHERE q = 0") == 0


def test_missing_values(db) -> None:
    assert near(one(db, "SELECT count(*) FROM r WHERE cid IS NULL"), 135_080, 0.01)
    assert one(db, "SELECT count(cid) FROM r WHERE country IN ('Hong Kong', 'Unspecified')") == 0
    assert one(db, "SELECT count(*) FROM r WHERE descr IS NULL") == 1_454


def test_prices(db) -> None:
    assert one(db, "SELECT count(*) FROM r WHERE price = 0") == 2_515
    assert one(db, "SELECT count(*) FROM r WHERE price < 0") == 2
    q1, q2, q3 = (float(v) for v in one(db, "SELECT quantile_cont(price, [.25, .5, .75]) FROM r"))
    assert near(q1, 1.25, 0.05) and near(q2, 2.08, 0.05) and near(q3, 4.13, 0.05)
    assert float(one(db, "SELECT max(price) FROM r")) == 38_970
    assert near(several(db, "code", "price"), 3_603, 0.05)


def test_quantities(db) -> None:
    assert [float(v) for v in one(db, "SELECT quantile_cont(q, [.25, .5, .75]) FROM r")] == [1, 3, 10]
    assert near(float(one(db, "SELECT avg(q) FROM r")), 9.55, 0.05)
    for qty in (80_995, 74_215):  # each huge order is cancelled by its own C invoice that day
        rows = db.execute(f"SELECT inv, ts FROM r WHERE abs(q) = {qty} ORDER BY ts").fetchall()
        assert len(rows) == 2 and rows[1][0] == "C" + str(int(rows[1][0][1:]))
        assert not rows[0][0].startswith("C") and rows[0][1].date() == rows[1][1].date()


def test_stock_codes(db) -> None:
    assert near(one(db, "SELECT count(*) FROM r WHERE regexp_matches(code, '[a-z]')"), 1_977)
    assert one(db, "SELECT count(*) FROM r WHERE code = '85123a'") > 0
    assert near(one(db, "SELECT count(DISTINCT code) FROM r"), 4_070)
    assert near(one(db, "SELECT count(DISTINCT descr) FROM r"), 4_223)
    assert near(several(db, "code", "descr"), 647, 0.05)
    counts = dict(db.execute("""
        SELECT CASE WHEN code LIKE 'gift_0001_%' THEN 'gift' WHEN code LIKE 'DCGS%' THEN 'DCGS'
                    WHEN code IN ('M', 'm') THEN 'M/m' ELSE code END, count(*) FROM r GROUP BY 1""").fetchall())
    expected = {"POST": 1_256, "DOT": 710, "M/m": 572, "C2": 144, "D": 77, "S": 63, "BANK CHARGES": 37,
                "AMAZONFEE": 34, "CRUK": 16, "PADS": 4, "B": 3, "gift": 34, "DCGS": 40}
    assert {code: counts.get(code) for code in expected} == expected


def test_keys_and_shapes(db) -> None:
    assert one(db, "SELECT count(DISTINCT inv) FROM r") == 25_900
    assert one(db, "SELECT count(DISTINCT cid), min(cid), max(cid) FROM r") == (4_372, 12_346, 18_287)
    numbers = one(db, "SELECT min(substr(inv, -6)::INT), max(substr(inv, -6)::INT) FROM r")
    assert numbers == (536_365, 581_587)
    lines = one(db, "SELECT quantile_disc(n, [.5, .9, .99]), max(n) FROM (SELECT count(*) n FROM r GROUP BY inv)")
    assert lines[0][0] in (9, 10, 11) and near(lines[0][1], 47, 0.1) and near(lines[0][2], 194, 0.1)
    assert lines[1] == 1_114
    per_customer = one(db, """SELECT quantile_disc(n, [.5, .9, .99]), max(n)
                              FROM (SELECT count(DISTINCT inv) n FROM r WHERE cid IS NOT NULL GROUP BY cid)""")
    assert per_customer[0][0] == 3 and near(per_customer[0][1], 11, 0.1) and per_customer[1] <= 248
    assert several(db, "cid", "country") == 8
    assert several(db, "inv", "ts") == 43


def test_invoice_numbers_rise_with_time(db) -> None:
    out_of_order = one(db, """
        SELECT count(*) FROM (
            SELECT t < max(t) OVER (ORDER BY n ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS early
            FROM (SELECT substr(inv, -6)::INT AS n, min(ts) AS t FROM r GROUP BY inv))
        WHERE early""")
    assert out_of_order == 0


def test_time_profile(db) -> None:
    assert one(db, "SELECT count(*) FROM r WHERE dayofweek(ts) = 6") == 0  # no Saturdays
    assert one(db, "SELECT min(hour(ts)), max(hour(ts)) FROM r") == (6, 20)
    busiest = [h for h, in db.execute("SELECT hour(ts) FROM r GROUP BY 1 ORDER BY count(*) DESC LIMIT 2").fetchall()]
    assert sorted(busiest) == [12, 15]
    weekdays = dict(db.execute("SELECT dayofweek(ts), count(*) FROM r GROUP BY 1").fetchall())
    for day, rows in {0: 64_375, 1: 95_111, 2: 101_808, 3: 94_565, 4: 103_857, 5: 82_193}.items():
        assert near(weekdays[day], rows, 0.05), day
    months = db.execute("""SELECT count(*) FROM r GROUP BY date_trunc('month', ts)
                           ORDER BY date_trunc('month', ts)""").fetchall()
    real = (42_481, 35_147, 27_707, 36_748, 29_916, 37_030, 36_874, 39_518, 35_284, 50_226, 60_742, 84_711, 25_525)
    assert len(months) == 13 and all(near(n, rows) for (n,), rows in zip(months, real, strict=False))  # peak: Nov 2011
    assert one(db, "SELECT max(ts)::DATE FROM r") == one(db, "SELECT DATE '2011-12-09'")


def test_countries(db) -> None:
    countries = dict(db.execute("SELECT country, count(*) FROM r GROUP BY 1").fetchall())
    assert len(countries) == 38
    assert near(countries["United Kingdom"] / ROWS, 0.9143, 0.002)
    for name, rows in {"Germany": 9_495, "France": 8_557, "EIRE": 8_196, "Spain": 2_533, "Norway": 1_086}.items():
        assert near(countries[name], rows), name
    assert countries["Saudi Arabia"] == 10


# --- scale, seed, split ---------------------------------------------------------------------


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a = generate_online_retail(tmp_path / "a", scale=0.01, seed=7).files[0].read_bytes()
    b = generate_online_retail(tmp_path / "b", scale=0.01, seed=7).files[0].read_bytes()
    c = generate_online_retail(tmp_path / "c", scale=0.01, seed=8).files[0].read_bytes()
    assert a == b and a != c
    assert a.count(b"\r\n") == round(ROWS * 0.01) + 1


def test_daily_split_matches_single_file(tmp_path: Path) -> None:
    whole = generate_online_retail(tmp_path / "one", scale=0.05, seed=3)
    seen: list[tuple[int, int]] = []
    daily = generate_online_retail(tmp_path / "days", scale=0.05, seed=3, split="daily",
                                   progress=lambda done, total: seen.append((done, total)))
    assert daily.rows == whole.rows == round(ROWS * 0.05)
    assert len(daily.files) == len(seen) > 250 and seen[-1] == (daily.rows, daily.rows)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    body, total = b"", 0
    for path in daily.files:
        data = path.read_bytes()
        assert data.startswith(HEADER.encode() + b"\r\n")
        day = re.fullmatch(r"online_retail_(\d{4})-(\d\d)-(\d\d)\.csv", path.name).groups()
        stamp = f"{int(day[1])}/{int(day[2])}/{day[0]} ".encode()
        rows = data.split(b"\r\n")[1:-1]
        assert all(stamp in row for row in rows)
        total += len(rows)
        body += data[len(HEADER) + 2:]
    assert total == daily.rows
    assert body == whole.files[0].read_bytes()[len(HEADER) + 2:]


def test_counts_scale(tmp_path: Path) -> None:
    result = generate_online_retail(tmp_path, scale=0.2, seed=1)
    db = _load(result.files[0])
    assert result.rows == one(db, "SELECT count(*) FROM r") == round(ROWS * 0.2)
    assert duplicates(db) == round(5_268 * 0.2)
    assert one(db, "SELECT count(*) FROM r WHERE inv LIKE 'C%'") == round(9_288 * 0.2)
    assert one(db, "SELECT count(*) FROM r WHERE inv LIKE 'A%'") == 3
    assert near(one(db, "SELECT count(*) FROM r WHERE cid IS NULL") / result.rows, 0.2493, 0.02)
    assert near(one(db, "SELECT count(*) FROM r WHERE country = 'United Kingdom'") / result.rows, 0.9143, 0.002)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="scale"):
        generate_online_retail(tmp_path, scale=0)
    with pytest.raises(ValueError, match="split"):
        generate_online_retail(tmp_path, split="hourly")  # type: ignore[arg-type]
