"""Generate order lines shaped like the UCI Online Retail data set, dirt included.

The real file (541,909 lines, Kaggle `data.csv`) cannot be downloaded here, so this writes a
stand-in with its format and its quirks at its ratios (`shared/reference/online-retail-profile.md`).
Every invoice is planned up front (a few numbers per invoice: cheap even at scale 50); the
lines are then built and written one day at a time, so memory is bounded by one day.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cartflow.sandbox import retail_catalog as rc

HEADER = b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\r\n"
ENCODING = "latin-1"  # the real file's: "£" is the single byte 0xA3
REG, WEB, CANCEL, NOTE, GHOST, FIXED = range(6)  # invoice kinds; WEB = anonymous web shop
ZERO, EMPTY, SPLIT = 1, 2, 4  # invoice flags: a line at price 0, no description, two minutes
# Figures of the real file; the generator scales them.
ROWS, CUSTOMER_INVOICES, CUSTOMER_CANCELS = 541_909, 22_190, 3_654
FIRST_INVOICE, INVOICE_SPAN, ADJUST_OFFSET = 536_365, 45_223, 26_820  # A563185 = first + offset
CANCEL_ROWS, CANCEL_ANON, CANCEL_ANON_ROWS = 9_288, 182, 383
WEB_INVOICES, WEB_ROWS = 1_009, 131_485
NOTE_ROWS, NOTE_EMPTY, GHOST_ROWS, GHOST_EMPTY = 1_336, 468, 1_139, 986
DUPLICATES, ZERO_PRICED, SPLIT_INVOICES, MAX_LINES = 5_268, 40, 43, 1_114
MOVED_CUSTOMERS, ANON_LINES = 8, 18  # customers seen in two countries; lines per HK invoice


@dataclass(frozen=True)
class GeneratedFiles:
    """The CSV files written (one, or one per trading day) and their rows, headers excluded."""

    files: list[Path]
    rows: int


@dataclass(frozen=True)
class _Plan:
    """Every invoice in file (= time) order, and the lines placed on purpose ("events")."""

    inv: dict[str, np.ndarray]  # kind, prefix, customer, country, day, minute, size, number,
    #   start (first line), front/last (lines taken by events), dups, flags
    events: dict[str, np.ndarray]  # line, product, qty, price; sorted by line


def generate_online_retail(
    out_dir: Path,
    scale: float = 1.0,
    seed: int = 42,
    split: Literal["none", "daily"] = "none",
    progress: Callable[[int, int], None] | None = None,
) -> GeneratedFiles:
    """Write `online_retail.csv`, or one `online_retail_YYYY-MM-DD.csv` per trading day.

    Scale multiplies rows, invoices, customers and the real file's exact quirk counts (a quirk
    keeps at least one row at small scales); ratios hold at every scale. The same seed and
    scale give the same bytes. `progress(done_rows, total_rows)` is called after each day.
    """
    if not 0.001 <= scale <= 100:
        raise ValueError(f"scale must be between 0.001 and 100, got {scale}")
    if split not in ("none", "daily"):
        raise ValueError(f"split must be 'none' or 'daily', got {split!r}")
    catalog = rc.build_catalog(np.random.default_rng([seed, 1]))
    calendar = rc.Calendar.build()
    plan = _plan(np.random.default_rng([seed, 2]), catalog, calendar, scale)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    days = _days(plan, catalog, calendar, seed, progress)
    if split == "daily":
        files = []
        for day, data in days:
            files.append(out_dir / f"online_retail_{day}.csv")
            with _atomic_csv(files[-1]) as out:
                out.write(data)
    else:
        files = [out_dir / "online_retail.csv"]
        with _atomic_csv(files[0]) as out:
            for _, data in days:
                out.write(data)
    return GeneratedFiles(files=files, rows=int(plan.inv["size"].sum()))


def _days(plan: _Plan, cat: rc.Catalog, cal: rc.Calendar, seed: int,
          progress: Callable[[int, int], None] | None) -> Iterator[tuple[np.datetime64, memoryview]]:
    """(day, CSV bytes) for each trading day, built one day at a time; reports once written."""
    encoder = _Encoder(cat)
    bounds = np.searchsorted(plan.inv["day"], np.arange(len(cal.days) + 1))
    total, done = int(plan.inv["size"].sum()), 0
    for day in np.flatnonzero(np.diff(bounds)):
        rng = np.random.default_rng([seed, 3, int(day)])  # a day's lines depend on that day only
        lines = _day_lines(rng, plan, cat, int(day), bounds[day], bounds[day + 1])
        yield cal.days[day], encoder.encode(lines, cal.days[day])
        done += len(lines["qty"])
        if progress is not None:
            progress(done, total)


@contextmanager
def _atomic_csv(path: Path) -> Iterator[BinaryIO]:
    """Write under a temporary name, rename when complete: readers never see half a file."""
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as out:
            out.write(HEADER)
            yield out
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


# --- the plan: one entry per invoice ------------------------------------------------------


def _scaled(scale: float, n: int) -> int:
    """A count of the real file at this scale; a quirk never vanishes from a small sample."""
    return max(1, round(n * scale))


def _plan(rng: np.random.Generator, cat: rc.Catalog, cal: rc.Calendar, scale: float) -> _Plan:
    """Decide every invoice: who, where, when, how many lines, which quirks it carries."""
    country_rows = np.array([round(rows * scale) for _, rows, _ in rc.COUNTRIES])
    country_rows[rc.UK] = round(ROWS * scale) - country_rows.sum() + country_rows[rc.UK]
    sets = max(1, round(scale))  # landmarks: the bad-debt adjustment, the two huge orders
    anonymous_uk = sum(_scaled(scale, n) for n in (WEB_ROWS, NOTE_ROWS, GHOST_ROWS, CANCEL_ANON_ROWS))
    people = rc.build_customers(rng, scale, country_rows, anonymous_uk,
                                _scaled(scale, CUSTOMER_INVOICES) - 4 * sets,
                                _scaled(scale, CUSTOMER_CANCELS) - 2 * sets,
                                _scaled(scale, MOVED_CUSTOMERS))
    inv = _invoice_mix(rng, scale, people, country_rows, sets)
    events = _events(rng, cat, scale, inv, sets)
    _sizes(rng, scale, inv, events, country_rows, sets)
    tiebreak = _schedule(rng, cal, inv, sets)
    _flags(rng, scale, inv, len(cal.days) - 1)
    order = np.lexsort((tiebreak, inv["day"] * 1440 + inv["minute"]))
    inv = {k: v[order] for k, v in inv.items()}
    inv["number"] = _numbers(rng, scale, inv["adjust"])
    inv["start"] = np.cumsum(inv["size"]) - inv["size"]
    host = np.argsort(order)[events["inv"]]
    at = np.lexsort((events["last"], host))
    host, last = host[at], events["last"][at]
    line = inv["start"][host] + np.where(last, inv["size"][host] - 1, _rank_in_group(host))
    placed = {"line": line, **{k: events[k][at] for k in ("product", "qty", "price")}}
    return _Plan(inv=inv, events=placed)


def _block(n: int, kind: int, prefix: int = 0, customer: int = -1, country: int = rc.UK
           ) -> dict[str, np.ndarray]:
    return {k: np.full(n, v, np.int64) for k, v in
            (("kind", kind), ("prefix", prefix), ("customer", customer), ("country", country))}


def _invoice_mix(rng: np.random.Generator, scale: float, people: rc.Customers,
                 country_rows: np.ndarray, sets: int) -> dict[str, np.ndarray]:
    """All invoices by kind, customer and country; the landmarks (A rows, whales) come last."""
    blocks = [{"kind": np.where(people.cancelled, CANCEL, REG), "prefix": people.cancelled * 1,
               "customer": people.ids[people.invoice_owner], "country": people.invoice_country},
              _block(_scaled(scale, WEB_INVOICES), WEB),
              _block(_scaled(scale, CANCEL_ANON), CANCEL, prefix=1),
              _block(_scaled(scale, NOTE_ROWS), NOTE), _block(_scaled(scale, GHOST_ROWS), GHOST)]
    blocks += [_block(max(1, round(country_rows[c] / ANON_LINES)), REG, country=c)
               for c in rc.ANONYMOUS_ONLY if country_rows[c] > 0]
    blocks.append(_block(3 * sets, FIXED, prefix=2))
    for buyer in rng.choice(people.ids[people.country == rc.UK], 2 * sets):
        blocks += [_block(1, FIXED, customer=buyer), _block(1, FIXED, prefix=1, customer=buyer)]
    inv = {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}
    inv["adjust"] = np.full(len(inv["kind"]), -1)  # 3 * set + member, for the A invoices
    first_fixed = len(inv["kind"]) - 7 * sets
    inv["adjust"][first_fixed:first_fixed + 3 * sets] = np.arange(3 * sets)
    return inv


def _schedule(rng: np.random.Generator, cal: rc.Calendar, inv: dict[str, np.ndarray],
              sets: int) -> np.ndarray:
    """Day and minute of every invoice, landmarks pinned; returns the same-minute tiebreak."""
    n = len(inv["kind"])
    inv["day"], inv["minute"] = cal.schedule(rng, inv["size"])
    tiebreak = rng.random(n)
    first, last = rng.choice(np.flatnonzero((inv["kind"] == REG) & (inv["customer"] >= 0)), 2,
                             replace=False)
    inv["day"][[first, last]] = [0, len(cal.days) - 1]
    inv["minute"][[first, last]] = [rc.FIRST_MINUTE, rc.LAST_MINUTE]
    tiebreak[[first, last]] = [-9, 9]
    adjust = np.flatnonzero(inv["adjust"] >= 0).reshape(sets, 3)
    whales = np.arange(n - 4 * sets, n).reshape(sets, 2, 2)  # set, whale, (order, cancel)
    for s, pins in enumerate(cal.landmarks(rng, sets)):
        inv["day"][adjust[s]], inv["minute"][adjust[s]] = pins[0]
        tiebreak[adjust[s]] = -1 + 0.1 * np.arange(3)  # first of their minute, back to back
        for w, (day, minute) in enumerate(pins[1:]):
            inv["day"][whales[s, w]] = day
            inv["minute"][whales[s, w]] = [minute, minute + rc.WHALES[w][5]]
    return tiebreak


def _events(rng: np.random.Generator, cat: rc.Catalog, scale: float,
            inv: dict[str, np.ndarray], sets: int) -> dict[str, np.ndarray]:
    """Lines placed on purpose: non-product codes, the A rows and the two huge orders."""
    kind, known, country = inv["kind"], inv["customer"] >= 0, inv["country"]
    reg, cancel = (kind == REG) & known, kind == CANCEL
    near = np.isin(country, [rc.EIRE, rc.CHANNEL_ISLANDS])
    pools = {"reg": reg, "foreign": reg & (country != rc.UK) & ~near, "eire": reg & near,
             "dotcom": kind == WEB, "cancel": cancel & known, "cancel_anon": cancel & ~known,
             "cancel_foreign": cancel & known & (country != rc.UK)}
    parts: list[tuple[np.ndarray, ...]] = []  # (invoice, product, quantity, price)
    for code, _, hosts, _, _ in rc.SPECIALS:
        for pool, n in hosts.items():
            members = np.flatnonzero(pools[pool])
            at = rng.choice(members, min(_scaled(scale, n), len(members)), replace=False)
            product, qty, price = cat.special_lines(rng, code, len(at))
            if pool.startswith("cancel"):
                qty = -qty
                if code == "M" and len(at):  # the file's top price: a cancelled manual line
                    price[0] = rc.MANUAL_MAX
            parts.append((at, product, qty, price))
    parts.append((np.arange(len(kind) - 7 * sets, len(kind)), *cat.landmark_lines(sets)))
    events = dict(zip(("inv", "product", "qty", "price"), map(np.concatenate, zip(*parts, strict=False)), strict=False))
    events["last"] = events["product"] == cat.specials["DOT"]  # web-shop postage ends its invoice
    return events


def _sizes(rng: np.random.Generator, scale: float, inv: dict[str, np.ndarray],
           events: dict[str, np.ndarray], country_rows: np.ndarray, sets: int) -> None:
    """Lines per invoice: heavy-tailed, then fitted so every country's row count is exact."""
    kind, n = inv["kind"], len(inv["kind"])
    inv["front"] = np.bincount(events["inv"][~events["last"]], minlength=n)
    inv["last"] = np.bincount(events["inv"][events["last"]], minlength=n)
    reg, web, cancel = kind == REG, kind == WEB, kind == CANCEL
    base = np.where(kind == FIXED, 0, 1)
    base[reg] = np.clip(np.round(rng.lognormal(np.log(14), 0.95, reg.sum())), 1, 600)
    base[web] = np.clip(np.round(rng.lognormal(np.log(80), 0.8, web.sum())), 1, MAX_LINES)
    base[cancel] = np.clip(1 + np.floor(rng.lognormal(-1.0, 1.4, cancel.sum())), 1, 150)
    hosts = np.flatnonzero(reg | web)
    inv["dups"] = np.zeros(n, np.int64)
    inv["dups"][hosts] = rng.multinomial(_scaled(scale, DUPLICATES), base[hosts] / base[hosts].sum())
    extra = inv["front"] + inv["last"] + inv["dups"]
    size = base + extra
    # A cancellation may be just its placed lines (a lone "Discount"); others need a product.
    lo = np.where(reg | web, extra + 1, np.where(cancel, np.maximum(inv["front"], 1), size))
    hi = np.where(web, MAX_LINES, np.where(reg, 800, np.where(cancel, 200, size)))
    if web.sum() > 1 and _scaled(scale, WEB_ROWS) > 4 * MAX_LINES:  # the largest invoice
        biggest = np.flatnonzero(web)[size[web].argmax()]
        size[biggest] = lo[biggest] = MAX_LINES
    size[cancel] = _fit(rng, size[cancel], lo[cancel], hi[cancel],
                        _scaled(scale, CANCEL_ROWS) - 2 * sets)
    size[web] = _fit(rng, size[web], lo[web], hi[web], _scaled(scale, WEB_ROWS))
    fixed_rows = np.bincount(inv["country"][~(reg | web)], size[~(reg | web)], len(country_rows))
    target = country_rows - fixed_rows.astype(np.int64)
    target[rc.UK] -= size[web].sum()
    for c in sorted(np.unique(inv["country"][reg]), key=lambda c: c == rc.UK):
        group = reg & (inv["country"] == c)
        if c == rc.UK:  # takes up what the other countries could not
            target[c] = country_rows.sum() - size.sum() + size[group].sum()
        size[group] = _fit(rng, size[group], lo[group], hi[group], target[c])
    if size.sum() != country_rows.sum():
        raise RuntimeError(f"cannot fit {country_rows.sum()} rows at scale {scale}")
    inv["size"] = size


def _fit(rng: np.random.Generator, size: np.ndarray, lo: np.ndarray, hi: np.ndarray,
         target: int) -> np.ndarray:
    """Nudge sizes within [lo, hi] until they sum to target, in proportion, so the shape holds."""
    size = np.clip(size, lo, hi)
    for _ in range(1_000):
        gap = int(target - size.sum())
        room = hi - size if gap > 0 else size - lo
        if gap == 0 or room.sum() == 0:
            break
        weight = np.where(room > 0, size if gap > 0 else room, 0).astype(float)
        step = np.minimum(rng.multinomial(abs(gap), weight / weight.sum()), room)
        size = size + np.sign(gap) * step
    return size


def _flags(rng: np.random.Generator, scale: float, inv: dict[str, np.ndarray], last_day: int) -> None:
    """Mark the invoices that carry a zero-priced line, no description, or two timestamps."""
    kind, flags = inv["kind"], np.zeros(len(inv["kind"]), np.int64)
    pick = [(ZERO, (kind == REG) & (inv["customer"] >= 0) & (inv["dups"] == 0), ZERO_PRICED),
            (EMPTY, kind == NOTE, NOTE_EMPTY), (EMPTY, kind == GHOST, GHOST_EMPTY),
            (SPLIT, np.isin(kind, [REG, WEB]) & (inv["dups"] == 0) & (inv["size"] >= 2)
             & (inv["day"] != last_day) & (inv["minute"] % 60 != 59), SPLIT_INVOICES)]
    for flag, pool, n in pick:
        members = np.flatnonzero(pool)
        flags[rng.choice(members, min(_scaled(scale, n), len(members)), replace=False)] |= flag
    inv["flags"] = flags


def _numbers(rng: np.random.Generator, scale: float, adjust: np.ndarray) -> np.ndarray:
    """Invoice numbers rising with time, with gaps; the first A invoice lands on 563185."""
    n = len(adjust)
    span = max(round(INVOICE_SPAN * scale), n)
    step = np.ones(n, np.int64)
    step[0] = 0
    free = (adjust < 0) | (adjust % 3 == 0)  # A invoices of one set are back to back
    free[0] = False
    pin = int(np.flatnonzero(adjust == 0)[0])
    before = int(np.clip(round(ADJUST_OFFSET * scale) - pin, 0, span - n))
    for lo, hi, gaps in ((0, pin + 1, before), (pin + 1, n, span - n - before)):
        slots = np.flatnonzero(free[lo:hi]) + lo
        if len(slots):
            step[slots] += rng.multinomial(gaps, np.full(len(slots), 1 / len(slots)))
    return FIRST_INVOICE + np.cumsum(step)


def _rank_in_group(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2... within each run of equal values of a sorted array."""
    starts = np.r_[True, groups[1:] != groups[:-1]]
    return np.arange(len(groups)) - np.maximum.accumulate(np.where(starts, np.arange(len(groups)), 0))


# --- one day's lines ------------------------------------------------------------------------


def _day_lines(rng: np.random.Generator, plan: _Plan, cat: rc.Catalog, day: int, i0: int,
               i1: int) -> dict[str, np.ndarray]:
    """The order lines of invoices i0..i1 (one day): products, quantities, prices, quirks."""
    inv, ev = plan.inv, plan.events
    first, n = int(inv["start"][i0]), int(inv["size"][i0:i1].sum())
    owner = np.repeat(np.arange(i0, i1), inv["size"][i0:i1])
    pos = np.arange(first, first + n) - inv["start"][owner]
    kind = inv["kind"][owner]
    product = cat.sample(rng, n)
    _make_distinct(rng, cat, owner, product)
    web = kind == WEB
    qty = np.where(web, rc.draw(rng, rc.WEB_QTY, n), rc.draw(rng, rc.TRADE_QTY, n))
    price = cat.unit_price(product, qty, web)
    qty[kind == CANCEL] *= -1
    desc = cat.description(product, day)
    # Warehouse lines: price 0, a stock note (negative) or found stock (positive).
    notes = np.flatnonzero((kind == NOTE) | (kind == GHOST))
    product[notes], desc[notes] = cat.stock_notes(rng, kind[notes] == NOTE,
                                                  inv["flags"][owner[notes]] & EMPTY > 0)
    qty[notes] = rc.draw(rng, rc.NOTE_QTY, len(notes)) * np.where(kind[notes] == NOTE, -1, 1)
    price[notes] = 0
    a, b = np.searchsorted(ev["line"], [first, first + n])
    at = ev["line"][a:b] - first
    product[at], qty[at], price[at] = ev["product"][a:b], ev["qty"][a:b], ev["price"][a:b]
    desc[at] = product[at]
    price[(inv["flags"][owner] & ZERO > 0) & (pos == inv["front"][owner])] = 0
    src = _duplicate_sources(rng, inv, owner, pos)
    cut = 1 + (rng.random(i1 - i0) * (inv["size"][i0:i1] - 1)).astype(np.int64)
    late = (inv["flags"][owner] & SPLIT > 0) & (pos >= cut[owner - i0])
    return {"prefix": inv["prefix"][owner], "number": inv["number"][owner],
            "product": product[src], "desc": desc[src], "qty": qty[src],
            "minute": inv["minute"][owner] + late, "price": price[src],
            "customer": inv["customer"][owner], "country": inv["country"][owner]}


def _make_distinct(rng: np.random.Generator, cat: rc.Catalog, owner: np.ndarray,
                   product: np.ndarray) -> None:
    """Redraw products that repeat within an invoice, so only planned duplicates repeat."""
    for _ in range(100):
        key = owner * len(cat.codes) + product
        order = np.argsort(key, kind="stable")
        again = order[1:][key[order][1:] == key[order][:-1]]
        if not len(again):
            return
        product[again] = cat.sample(rng, len(again))


def _duplicate_sources(rng: np.random.Generator, inv: dict[str, np.ndarray], owner: np.ndarray,
                       pos: np.ndarray) -> np.ndarray:
    """For each line, the line it copies: itself, or for a planned duplicate an earlier one."""
    src = np.arange(len(owner))
    dups = inv["dups"][owner]
    body_end = inv["size"][owner] - inv["last"][owner]
    cand = np.flatnonzero((dups > 0) & (pos > inv["front"][owner]) & (pos < body_end))
    cand = cand[np.lexsort((rng.random(len(cand)), owner[cand]))]
    slots = cand[_rank_in_group(owner[cand]) < dups[cand]]
    front = inv["front"][owner[slots]]  # copies repeat products, not the placed lines
    offset = front + (rng.random(len(slots)) * (pos[slots] - front)).astype(np.int64)
    src[slots] = slots - pos[slots] + offset
    while not np.array_equal(deeper := src[src], src):  # a copy of a copy copies the original
        src = deeper
    return src


# --- CSV bytes ------------------------------------------------------------------------------


class _Encoder:
    """Turns one day's line arrays into the file's CSV bytes with Arrow kernels: no Python per row."""

    def __init__(self, cat: rc.Catalog) -> None:
        self.codes = _strings(cat.codes)
        self.descriptions = _strings(_quote(d) for d in cat.descriptions)
        self.countries = _strings(name for name, _, _ in rc.COUNTRIES)
        self.clock = _strings(f"{m // 60}:{m % 60:02d}" for m in range(1441))
        self.prefixes = _strings(("", "C", "A"))
        self.signs = _strings(("", "-"))
        # Thousandths as the real file prints them: 550 -> ".55", 1 -> ".001", 0 -> "".
        self.fractions = _strings(f".{f:03d}".rstrip("0").rstrip(".") for f in range(1000))

    def encode(self, lines: dict[str, np.ndarray], day: np.datetime64) -> memoryview:
        date = cast(dt.date, day.item())  # a datetime64[D] is a date
        stamp = pa.scalar(f"{date.month}/{date.day}/{date.year} ".encode(), pa.binary())
        desc, customer, price = lines["desc"], lines["customer"], lines["price"]
        columns = [
            pc.binary_join_element_wise(self.prefixes.take(lines["prefix"]),
                                        _text(lines["number"]), b""),
            self.codes.take(lines["product"]),
            pc.fill_null(self.descriptions.take(pa.array(desc, mask=desc < 0)), b""),
            _text(lines["qty"]),
            pc.binary_join_element_wise(stamp, self.clock.take(lines["minute"]), b""),
            pc.binary_join_element_wise(self.signs.take((price < 0).view(np.int8)), _text(np.abs(price) // 1000),
                                        self.fractions.take(np.abs(price) % 1000), b""),
            pc.fill_null(_text(pa.array(customer, mask=customer < 0)), b""),
            self.countries.take(lines["country"]),
        ]
        rows = pc.binary_join_element_wise(*columns, b",")
        rows = pc.binary_join_element_wise(rows, pa.scalar(b"\r\n", pa.binary()), b"")
        offsets = np.frombuffer(rows.buffers()[1], np.int32, len(rows) + 1, rows.offset * 4)
        return memoryview(rows.buffers()[2])[offsets[0]:offsets[-1]]


def _strings(items: Iterable[str]) -> pa.Array:
    return pa.array([s.encode(ENCODING) for s in items], pa.binary())


def _text(values: np.ndarray | pa.Array) -> pa.Array:
    return pc.cast(pc.cast(values, pa.string()), pa.binary())


def _quote(field: str) -> str:
    """Quote a field only when it needs it, as the real file does."""
    if any(c in field for c in ',"\r\n'):
        return '"' + field.replace('"', '""') + '"'
    return field
