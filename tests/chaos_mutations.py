"""Mutated order-line files for the file fuzz (tests/test_chaos_files.py): seeded, one RNG per file.

A file starts as a few rows of generated Online Retail (or, for a `good` file, clean rows under
invoice numbers no mutation produces), then takes 1-3 mutations at three levels: its table
(columns missing, extra, duplicated, renamed, shuffled; ragged rows; hostile values; huge fields;
a header only), its text (line endings mixed, quotes unbalanced, another delimiter) and its
bytes (re-encoded, truncated at a random byte, NULs, binary noise, compressed, empty). Names
carry escape codes and other invisible characters now and then, and odd extensions.

`mutate(seed, ...)` is a pure function of its arguments: the seed printed with a failure makes
the same bytes again.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import json
import random
import zipfile
from dataclasses import dataclass, field
from typing import Any, Callable

HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
RENAMES = {
    "InvoiceNo": ["invoiceno", "INVOICENO", "Invoice", "Invoice No", "invoice_no", "InvoiceNumber", "Inv\x1b[31moiceNo"],
    "StockCode": ["stockcode", "Stock Code", "SKU", "StockCode ", " StockCode"],
    "Description": ["description", "Desc", "Description\u200b"],
    "Quantity": ["quantity", "Qty", "Quantity\x00", "QUANTITY"],
    "InvoiceDate": ["invoicedate", "Invoice Date", "Date", "InvoiceDate\r"],
    "UnitPrice": ["unitprice", "Price", "Unit Price", "UnitPrice\u202e"],
    "CustomerID": ["customerid", "Customer ID", "CustomerId", "Customer"],
    "Country": ["country", "COUNTRY", "Land"],
}
HOSTILE = ["", " ", "\t", "\x1b[31mred\x1b[0m", "\x1b]8;;http://x\x07link", "\u202egnp.exe", "\u200b", "a\x00b",
           "\x00", "\r", "\n", "\"", "\"\"", "'; DROP TABLE x; --", "9" * 30, "-" + "9" * 25, "1e400", "NaN",
           "Infinity", "-0", "0x1F", "١٢", "9999-12-31T23:59:00", "0001-01-01", "2/30/2011 8:00", "13/13/2011 25:61",
           "1E+25", "3.14159265358979", "😀" * 40, "é" * 300, "\ud7ff\ue000", "\\", "NULL", "null", "None"]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1252", "cp437"]
EXTENSIONS = {"csv": [".csv"] * 12 + [".CSV", ".txt", ".tsv", "", ".xlsx", ".csv.gz", ".json"],
              "ndjson": [".ndjson"] * 8 + [".jsonl", ".json", ".NDJSON", ".csv", ""]}
NAME_NOISE = ["", "", "", "", " ", "\x1b[2J", "\n", "\r", "\t", "\u202e", "\u200b", "é", "😀", "%", "'", '"', "\\"]


@dataclass
class Fuzzed:
    name: str
    data: bytes
    source: str
    seed: str
    mutations: list[str] = field(default_factory=list)
    good_rows: int = 0
    """A good file: this many rows, every one of which must reach gold."""


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    with_header: bool = True
    notes: list[str] = field(default_factory=list)


# -- table mutations --------------------------------------------------------------------------
def drop_column(t: Table, rng: random.Random) -> None:
    i = rng.randrange(len(t.header))
    t.notes.append(f"drop:{t.header[i]}")
    del t.header[i]
    for r in t.rows:
        if i < len(r):
            del r[i]


def extra_column(t: Table, rng: random.Random) -> None:
    i = rng.randrange(len(t.header) + 1)
    t.header.insert(i, rng.choice(["Notes", "Extra", "", "InvoiceNo2", "_source", "\x1b[1mbold"]))
    for r in t.rows:
        r.insert(min(i, len(r)), rng.choice(HOSTILE))
    t.notes.append("extra")


def duplicate_column(t: Table, rng: random.Random) -> None:
    i = rng.randrange(len(t.header))
    t.header.append(t.header[i])
    for r in t.rows:
        r.append(r[i] if i < len(r) and rng.random() < 0.5 else rng.choice(HOSTILE))
    t.notes.append(f"dup:{t.header[i]}")


def rename_column(t: Table, rng: random.Random) -> None:
    i = rng.randrange(len(t.header))
    t.header[i] = rng.choice(RENAMES.get(t.header[i], ["Renamed"]))
    t.notes.append("rename")


def shuffle_columns(t: Table, rng: random.Random) -> None:
    order = list(range(len(t.header)))
    rng.shuffle(order)
    t.header = [t.header[i] for i in order]
    t.rows = [[r[i] for i in order if i < len(r)] for r in t.rows]
    t.notes.append("shuffle")


def ragged_rows(t: Table, rng: random.Random) -> None:
    for r in rng.sample(t.rows, k=min(len(t.rows), rng.randint(1, 4))):
        if rng.random() < 0.5 and r:
            del r[rng.randrange(len(r)):]
        else:
            r += [rng.choice(HOSTILE) for _ in range(rng.randint(1, 5))]
    t.notes.append("ragged")


def hostile_values(t: Table, rng: random.Random) -> None:
    for _ in range(rng.randint(1, 2 * len(t.rows) + 1)):
        if t.rows:
            r = rng.choice(t.rows)
            if r:
                r[rng.randrange(len(r))] = rng.choice(HOSTILE)
    t.notes.append("values")


def huge_field(t: Table, rng: random.Random) -> None:
    if t.rows:
        r = rng.choice(t.rows)
        size = rng.choice([70_000, 300_000, 1_100_000, 3_000_000])
        r[rng.randrange(len(r))] = (rng.choice(["X", "é", "ab,", "\"q\""]) * size)[:size]
        t.notes.append(f"huge:{size}")


def duplicate_rows(t: Table, rng: random.Random) -> None:
    if t.rows:
        t.rows += [list(rng.choice(t.rows)) for _ in range(rng.randint(1, 5))]
        t.notes.append("duprows")


def header_only(t: Table, rng: random.Random) -> None:
    t.rows = []
    t.notes.append("header-only")


def no_header(t: Table, rng: random.Random) -> None:
    t.with_header = False
    t.notes.append("no-header")


TABLE_MUTATIONS: list[Callable[[Table, random.Random], None]] = [
    drop_column, extra_column, duplicate_column, rename_column, shuffle_columns, ragged_rows, hostile_values,
    hostile_values, huge_field, duplicate_rows, header_only, no_header]


# -- text: CSV or NDJSON -------------------------------------------------------------------------
def csv_cell(value: str, rng: random.Random, quoting: str) -> str:
    needs = any(ch in value for ch in ',"\r\n') or quoting == "all"
    if quoting == "never" or not needs:
        return value
    return '"' + value.replace('"', '""') + '"'


def csv_text(t: Table, rng: random.Random, notes: list[str]) -> str:
    quoting = rng.choice(["minimal"] * 6 + ["all", "never"])
    delimiter = "," if rng.random() < 0.92 else rng.choice([";", "\t", "|"])
    endings = rng.choice([["\r\n"]] * 4 + [["\n"]] * 3 + [["\r"], ["\r\n", "\n", "\r"], ["\n", "\r\n"]])
    lines = ([t.header] if t.with_header else []) + t.rows
    out = []
    for cells in lines:
        out.append(delimiter.join(csv_cell(c, rng, quoting) for c in cells))
        out.append(rng.choice(endings))
    if rng.random() < 0.15 and out:
        out.pop()  # no newline at the end
    if rng.random() < 0.2 and len(out) > 2:  # a quote that never closes
        i = rng.randrange(len(out) // 2) * 2
        cut = rng.randrange(len(out[i]) + 1)
        out[i] = out[i][:cut] + '"' + out[i][cut:]
        notes.append("unbalanced-quote")
    if quoting != "minimal":
        notes.append(f"quote-{quoting}")
    if delimiter != ",":
        notes.append(f"delimiter-{delimiter!r}")
    if endings != ["\r\n"]:
        notes.append("endings-" + "+".join(repr(e) for e in endings))
    return "".join(out)


def ndjson_text(t: Table, rng: random.Random, notes: list[str]) -> str:
    lines = []
    for cells in t.rows:
        record: dict[str, Any] = {}
        for k, v in zip(t.header, cells, strict=False):
            record[k] = v
        roll = rng.random()
        if roll < 0.04:
            lines.append(rng.choice(["[1, 2]", "42", "\"text\"", "null", "{", "{\"InvoiceNo\": }", "{'a': 1}", "",
                                     "[" * 5000 + "]" * 5000, "{\"Quantity\": " + "9" * 5000 + "}",
                                     "{\"Description\": \"\\ud800\"}", "{\"a\": 1} trailing"]))
            notes.append("bad-line")
            continue
        if roll < 0.10 and record:
            key = rng.choice(list(record))
            record[key] = rng.choice([None, 12, -1.5, 10**30, True, [1, 2], {"nested": {"deep": [1]}}])
            notes.append("typed")
        text = json.dumps(record, ensure_ascii=rng.random() < 0.5)
        if rng.random() < 0.03:
            text = text[:-1] + ", \"InvoiceNo\": \"536999\"}"  # a key twice
            notes.append("dup-key")
        lines.append(text)
    ending = rng.choice(["\n", "\n", "\r\n", "\r"])
    if ending != "\n":
        notes.append(f"endings-{ending!r}")
    return ending.join(lines) + (ending if rng.random() < 0.85 else "")


# -- bytes ---------------------------------------------------------------------------------------
def encode(text: str, encoding: str, rng: random.Random, notes: list[str]) -> bytes:
    chosen = encoding if rng.random() < 0.8 else rng.choice(ENCODINGS)
    if chosen != encoding:
        notes.append(f"encoded-{chosen}")
    return text.encode(chosen, "surrogatepass" if chosen.startswith("utf") else "replace")


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[:rng.randrange(len(data) + 1)] if data else data


def nuls(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        out.insert(rng.randrange(len(out) + 1), 0)
    return bytes(out)


def noise(data: bytes, rng: random.Random) -> bytes:
    blob = rng.randbytes(rng.choice([8, 200, 5000]))
    if rng.random() < 0.3 or not data:
        return blob
    at = rng.randrange(len(data) + 1)
    return data[:at] + blob + data[at + (len(blob) if rng.random() < 0.5 else 0):]


def compress(data: bytes, rng: random.Random) -> bytes:
    kind = rng.choice(["gzip", "bz2", "zip"])
    if kind == "gzip":
        return gzip.compress(data)
    if kind == "bz2":
        return bz2.compress(data)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("orders.csv", data)
    return buffer.getvalue()


def empty(data: bytes, rng: random.Random) -> bytes:
    return rng.choice([b"", b"\n", b"\r\n", b"   ", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, b"\x00"])


BYTE_MUTATIONS: list[Callable[[bytes, random.Random], bytes]] = [truncate, truncate, nuls, noise, compress, empty]


# -- files -----------------------------------------------------------------------------------------
def file_name(index: int, notes: list[str], fmt: str, rng: random.Random) -> str:
    tag = "-".join(n.split(":")[0] for n in notes[:3])[:40] or "plain"
    return f"{index:04d}-{tag}{rng.choice(NAME_NOISE)}{rng.choice(EXTENSIONS[fmt])}"


def mutate(seed: str, index: int, base: list[list[str]], source: str, fmt: str, encoding: str) -> Fuzzed:
    """One mutated file from a few of the `base` rows (each a list of the 8 Online Retail fields)."""
    rng = random.Random(seed)
    start = rng.randrange(max(1, len(base) - 40))
    table = Table(list(HEADER), [list(r) for r in base[start:start + rng.randint(1, 40)]])
    for mutation in rng.sample(TABLE_MUTATIONS, k=rng.choice([0, 1, 1, 2, 3])):
        mutation(table, rng)
    notes = table.notes
    text = csv_text(table, rng, notes) if fmt == "csv" else ndjson_text(table, rng, notes)
    data = encode(text, encoding, rng, notes)
    for mutation in rng.sample(BYTE_MUTATIONS, k=rng.choice([0, 0, 1, 1, 2])):
        data = mutation(data, rng)
        notes.append(mutation.__name__)
    return Fuzzed(file_name(index, notes, fmt, rng), data, source, seed, notes)


def good_file(index: int, run: int, source: str, fmt: str, rows: int = 5) -> Fuzzed:
    """Clean rows under invoice numbers 9xxxxx, which nothing else here produces: all of them reach gold."""
    records = [[f"9{run:02d}{index:02d}{i:01d}", f"{84000 + i}G", f"GOOD ITEM {run}-{index}-{i}", str(i + 1),
                f"12/{1 + i}/2010 9:{index:02d}", f"{1 + i}.25", str(12000 + index), "United Kingdom"]
               for i in range(rows)]
    if fmt == "csv":
        text = "\r\n".join(",".join(r) for r in [HEADER, *records]) + "\r\n"
    else:
        text = "".join(json.dumps(dict(zip(HEADER, r, strict=True))) + "\n" for r in records)
    ext = ".csv" if fmt == "csv" else ".ndjson"
    return Fuzzed(f"good-{run}-{index}{ext}", text.encode("utf-8"), source, f"good-{run}-{index}", ["good"], rows)
