"""The original systems' approach, written as good idiomatic pandas (pyarrow engine).

    python -m benchmarks.impl_pandas CSV_DIR OUT_DIR

Same rules as docs/data-rules.md (trim, upper-case stock codes, line types, the 14
rejections in order, first failing rule wins) and the same outputs: silver and
quarantine Parquet, and the revenue-monthly, top-products-by-season and RFM marts of
docs/definitions.md. Money is float64 rounded to 3 decimals, as a pandas user would write
it (cartflow keeps DECIMAL(18,3)).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.harness import emit

RAW = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
       "CustomerID", "Country"]
NAMES = ["invoice_no", "stock_code", "description", "quantity", "invoice_date", "unit_price",
         "customer_id", "country"]
NON_PRODUCTS = {"POST", "DOT", "M", "C2", "D", "S", "BANK CHARGES", "AMAZONFEE", "CRUK",
                "PADS", "B"}


def read(csv_dir: str) -> pd.DataFrame:
    frames = []
    for path in sorted(Path(csv_dir).glob("*.csv")):
        df = pd.read_csv(path, engine="pyarrow", dtype=str, encoding="latin-1",
                         keep_default_na=False)
        df.columns = NAMES
        df["_source_file"] = path.name
        df["_source_row"] = np.arange(1, len(df) + 1)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def clean(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    t = {c: raw[c].str.strip().replace("", None) for c in NAMES}
    stock = t["stock_code"].str.upper()
    qty_num = pd.to_numeric(t["quantity"], errors="coerce")
    qty_ok = qty_num.notna() & (qty_num == np.floor(qty_num)) & (qty_num.abs() <= 2**31 - 1)
    quantity = qty_num.where(qty_ok)
    price = pd.to_numeric(t["unit_price"], errors="coerce").round(3)
    ts = pd.to_datetime(t["invoice_date"], format="%m/%d/%Y %H:%M", errors="coerce")
    cust_num = pd.to_numeric(t["customer_id"], errors="coerce")
    cust_ok = (cust_num > 0) & (cust_num == np.floor(cust_num))
    customer = cust_num.where(cust_ok).astype("Int64").astype("string")
    first = t["invoice_no"].str[:1].str.upper()
    line_type = np.select([first == "C", first == "A"], ["cancellation", "adjustment"], "sale")
    duplicate = raw.duplicated(subset=["_source_file", *NAMES], keep="first")

    sale = line_type == "sale"
    rules = [
        (t["invoice_no"].isna(), "missing_field:invoice_no", "invoice_no"),
        (t["stock_code"].isna(), "missing_field:stock_code", "stock_code"),
        (t["quantity"].isna(), "missing_field:quantity", "quantity"),
        (t["invoice_date"].isna(), "missing_field:invoice_date", "invoice_date"),
        (t["unit_price"].isna(), "missing_field:unit_price", "unit_price"),
        (quantity.isna(), "unparseable:quantity", "quantity"),
        (price.isna(), "unparseable:unit_price", "unit_price"),
        (ts.isna(), "unparseable:invoice_date", "invoice_date"),
        (t["customer_id"].notna() & customer.isna(), "unparseable:customer_id", "customer_id"),
        (duplicate, "duplicate_row", None),
        ((quantity < 0) & sale, "stock_note", "quantity"),
        (quantity == 0, "zero_quantity", "quantity"),
        (sale & (price <= 0), "non_positive_price_sale", "unit_price"),
        ((line_type == "cancellation") & (quantity > 0), "cancellation_positive_quantity", "quantity"),
    ]
    conds = [c.fillna(False).to_numpy(dtype=bool) if hasattr(c, "fillna") else c for c, _, _ in rules]
    reason = np.select(conds, [r for _, r, _ in rules], default="")
    field = np.select(conds, [f or "" for _, _, f in rules], default="")
    good = reason == ""

    silver = pd.DataFrame({
        "invoice_no": t["invoice_no"], "stock_code": stock, "description": t["description"],
        "quantity": quantity, "unit_price": price, "invoice_ts": ts,
        "invoice_date": ts.dt.normalize(), "customer_id": customer, "country": t["country"],
        "line_type": line_type, "currency": "GBP",
        "_source_file": raw["_source_file"], "_source_row": raw["_source_row"],
    })[good]
    silver["quantity"] = silver["quantity"].astype("int32")

    bad = ~good
    quarantine = raw[bad].copy()
    quarantine["reason"] = reason[bad]
    quarantine["field"] = field[bad]
    raw_value = pd.Series(None, index=quarantine.index, dtype="string")
    for name in NAMES:
        mask = quarantine["field"] == name
        raw_value[mask] = quarantine.loc[mask, name]
    quarantine["raw_value"] = raw_value
    return silver.reset_index(drop=True), quarantine.reset_index(drop=True)


def amounts(silver: pd.DataFrame) -> pd.DataFrame:
    lines = silver
    amount = (lines["quantity"] * lines["unit_price"]).round(3)
    is_sale = (lines["line_type"] == "sale") & (lines["quantity"] > 0) & (lines["unit_price"] > 0)
    is_cancel = lines["line_type"] == "cancellation"
    gross = amount.where(is_sale, 0.0)
    returns = amount.abs().where(is_cancel, 0.0)
    return lines.assign(is_sale=is_sale, is_cancel=is_cancel, gross_amount=gross,
                        return_amount=returns, net_amount=gross - returns)


def revenue_monthly(lines: pd.DataFrame) -> pd.DataFrame:
    sale = lines[lines["is_sale"]]
    period = lines["invoice_date"].dt.to_period("M").dt.start_time
    money = lines.groupby(period)[["gross_amount", "return_amount", "net_amount"]].sum()
    sale_period = sale["invoice_date"].dt.to_period("M").dt.start_time
    orders = sale.groupby(sale_period)["invoice_no"].nunique()
    customers = sale.dropna(subset=["customer_id"]).groupby(sale_period)["customer_id"].nunique()
    out = money.rename(columns={"gross_amount": "gross_sales", "return_amount": "returns",
                                "net_amount": "net_revenue"})
    out["orders"] = orders.reindex(out.index, fill_value=0)
    out["customers"] = customers.reindex(out.index, fill_value=0)
    out["avg_order_value"] = (out["gross_sales"] / out["orders"].replace(0, np.nan)).round(3)
    out.index.name = "period_start"
    return out.reset_index()


def is_product(codes: pd.Series) -> pd.Series:
    return ~(codes.isin(NON_PRODUCTS) | codes.str.startswith("GIFT_") | codes.str.startswith("DCGS"))


def top_products_by_season(lines: pd.DataFrame) -> pd.DataFrame:
    # The product's current description: its latest non-null one (greater wins a tie).
    described = lines.dropna(subset=["description"]).sort_values(["invoice_ts", "description"])
    current = described.drop_duplicates("stock_code", keep="last").set_index("stock_code")["description"]

    lines = lines[(lines["is_sale"] | lines["is_cancel"]) & is_product(lines["stock_code"])]
    month = lines["invoice_date"].dt.month
    season = pd.Series(np.select([month.isin([12, 1, 2]), month.isin([3, 4, 5]), month.isin([6, 7, 8])],
                                 ["winter", "spring", "summer"], "autumn"), index=lines.index)
    season_year = lines["invoice_date"].dt.year + (month == 12)
    grouped = (lines.assign(season=season, season_year=season_year)
               .groupby(["season_year", "season", "stock_code"], as_index=False)
               .agg(revenue=("net_amount", "sum"), quantity=("quantity", "sum")))
    out = []
    for ranking in ("revenue", "quantity"):
        ranked = grouped.sort_values(["season_year", "season", ranking, "stock_code"],
                                     ascending=[True, True, False, True])
        ranked["rank"] = ranked.groupby(["season_year", "season"]).cumcount() + 1
        out.append(ranked[ranked["rank"] <= 10].assign(ranking=ranking))
    top = pd.concat(out, ignore_index=True)
    top["description"] = top["stock_code"].map(current)
    return top[["season_year", "season", "ranking", "rank", "stock_code", "description",
                "revenue", "quantity"]]


def ntile(order: pd.DataFrame, by: list[str], ascending: list[bool], buckets: int = 5) -> pd.Series:
    """SQL NTILE(buckets) OVER (ORDER BY by): the first n % buckets tiles get one row more."""
    ordered = order.sort_values(by, ascending=ascending)
    n = len(ordered)
    size, extra = divmod(n, buckets)
    pos = np.arange(n)
    cut = extra * (size + 1)
    tile = np.where(pos < cut, pos // max(size + 1, 1), extra + (pos - cut) // max(size, 1)) + 1
    return pd.Series(tile, index=ordered.index)


def customer_rfm(lines: pd.DataFrame) -> pd.DataFrame:
    last_date = lines["invoice_date"].max()
    known = lines.dropna(subset=["customer_id"])
    sale = known[known["is_sale"]]
    rfm = pd.DataFrame({
        "last_purchase_date": sale.groupby("customer_id")["invoice_date"].max(),
        "frequency": sale.groupby("customer_id")["invoice_no"].nunique(),
    })
    rfm["monetary"] = known.groupby("customer_id")["net_amount"].sum().reindex(rfm.index)
    rfm = rfm.reset_index()
    rfm["recency_days"] = (last_date - rfm["last_purchase_date"]).dt.days
    rfm["r_score"] = ntile(rfm, ["recency_days", "customer_id"], [False, True])
    rfm["f_score"] = ntile(rfm, ["frequency", "customer_id"], [True, True])
    rfm["m_score"] = ntile(rfm, ["monetary", "customer_id"], [True, True])
    r, f, m = rfm["r_score"], rfm["f_score"], rfm["m_score"]
    rfm["segment"] = np.select(
        [(r >= 4) & (f >= 4) & (m >= 4), (r >= 3) & (f >= 4), (r >= 4) & (f == 1), r >= 4,
         (r <= 2) & (f >= 3), r == 3, (r == 1) & (f == 1)],
        ["Champions", "Loyal", "New", "Potential loyalist", "At risk", "Need attention", "Lost"],
        "Hibernating")
    rfm["rfm_score"] = r.astype(str) + f.astype(str) + m.astype(str)
    return rfm


def main(csv_dir: str, out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    raw = read(csv_dir)
    silver, quarantine = clean(raw)
    silver.to_parquet(out / "order_lines.parquet", index=False)
    quarantine.to_parquet(out / "quarantine_order_lines.parquet", index=False)
    lines = amounts(silver)
    revenue_monthly(lines).to_parquet(out / "mart_revenue_monthly.parquet", index=False)
    top_products_by_season(lines).to_parquet(out / "mart_top_products_by_season.parquet", index=False)
    rfm = customer_rfm(lines)
    rfm.to_parquet(out / "mart_customer_rfm.parquet", index=False)
    emit({"raw_rows": len(raw), "silver_rows": len(silver), "quarantine_rows": len(quarantine),
          "quarantine": quarantine["reason"].value_counts().to_dict(), "rfm_customers": len(rfm)})


if __name__ == "__main__":
    main(*sys.argv[1:3])
