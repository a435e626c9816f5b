"""Order lines: one line of an invoice (the Online Retail shape), from files and the stream.

The API's field names (`InvoiceNo`, ...) are the Online Retail headers; files may use
those, the Online Retail II spellings, or any names mapped in `[sources.<name>.columns]`.
"""

from __future__ import annotations

from cartflow.entities.contract import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    MONEY_MAX,
    MONEY_SCALE,
    Column,
    Entity,
    Reason,
    range_reasons,
)

COLUMNS = (
    Column("invoice_no", description="Invoice number; 'C' prefix = cancellation, 'A' = adjustment.",
           required=True, aliases=("invoiceno", "invoice"), api_name="InvoiceNo", max_length=32),
    Column("stock_code", description="Product code; case-insensitive (upper-cased in silver).",
           required=True, aliases=("stockcode",), api_name="StockCode", max_length=32),
    Column("description", description="Product name as printed on the invoice.",
           api_name="Description", max_length=1000),
    Column("quantity", "integer", "Units; negative on cancellations.", required=True,
           api_name="Quantity", minimum=INT32_MIN, maximum=INT32_MAX),
    Column("invoice_date", "timestamp", "When the invoice was issued (shop-local time).", required=True,
           aliases=("invoicedate",), api_name="InvoiceDate", max_length=40),
    Column("unit_price", "decimal", "Price per unit in the source's currency, at most 3 decimals.", required=True,
           aliases=("unitprice", "price"), api_name="UnitPrice", minimum=-MONEY_MAX, maximum=MONEY_MAX,
           scale=MONEY_SCALE),
    Column("customer_id", "integer", "Positive whole number; absent for a guest (the 'unknown' customer).",
           aliases=("customerid",), api_name="CustomerID", minimum=1, maximum=INT64_MAX),
    Column("country", description="Country the order ships to.", api_name="Country", max_length=100),
)

REASONS = (
    Reason("malformed_row", "the parser could not split the row into fields", "row"),
    *(Reason(f"missing_field:{c.name}", f"{c.name} is empty", c.name) for c in COLUMNS if c.required),
    Reason("unparseable:quantity", "not a whole number", "quantity"),
    Reason("unparseable:unit_price", "not a decimal number with at most 3 decimals", "unit_price"),
    Reason("unparseable:invoice_date", "does not match the date format, nor ISO 8601", "invoice_date"),
    Reason("unparseable:customer_id", "present but not a positive whole number", "customer_id"),
    *range_reasons(COLUMNS),
    Reason("out_of_range:line_amount", "quantity x unit_price does not fit DECIMAL(18,3)", "unit_price"),
    Reason("duplicate_row", "an exact copy of an earlier row of the same batch"),
    Reason("stock_note", "negative quantity on a sale invoice: a stock-keeping note", "quantity"),
    Reason("zero_quantity", "a line of nothing", "quantity"),
    Reason("non_positive_price_sale", "a sale line with unit price <= 0", "unit_price"),
    Reason("cancellation_positive_quantity", "a cancellation with quantity > 0", "quantity"),
)

ORDER_LINES = Entity(
    name="order_lines",
    description="Invoice lines: sales, cancellations (C) and adjustments (A).",
    columns=COLUMNS,
    key=("invoice_no", "stock_code"),
    reasons=REASONS,
    extra_bronze_columns=("event_id",),
    tags=("order_lines",),
)
