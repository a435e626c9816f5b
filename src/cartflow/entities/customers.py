"""Customers: records from a customer API, JSON drops or a database (SCD2 in gold).

Attributes never reject a customer (an impossible age becomes NULL, flagged in
`issues`); only a record without an identity, or a copy of one, is quarantined.
"""

from __future__ import annotations

from cartflow.entities.contract import Column, Entity, Reason, range_reasons

COLUMNS = (
    Column("customer_id", description="The source's customer id (text: keys may be strings).", required=True,
           aliases=("customer", "id"), max_length=128),
    Column("customer_name", aliases=("name", "fullname"), max_length=500),
    Column("email", aliases=("emailaddress",), max_length=320),
    Column("age", "integer", "Whole years; outside 1-120 it is kept as NULL (age_status invalid).",
           minimum=1, maximum=120, scientific=True),
    Column("gender", aliases=("sex",), max_length=100),
    Column("location", aliases=("city", "state", "region"), max_length=500),
    Column("country", max_length=100),
    Column("date_joined", "date", aliases=("joined", "signupdate", "createdat")),
    Column("updated_at", "timestamp", "When the source last changed the record (its SCD2 observation time).",
           aliases=("lastmodified", "modifiedat")),
)

CUSTOMERS = Entity(
    name="customers",
    description="Customer records: identity and attributes, versioned in gold.dim_customer.",
    columns=COLUMNS,
    key=("customer_id",),
    reasons=(
        Reason("malformed_record", "not an object, or a row the parser could not split", "row"),
        Reason("missing_field:customer_id", "no customer id", "customer_id"),
        Reason("duplicate_key", "an older copy of a record sent again later in the same batch", "customer_id"),
        *range_reasons(tuple(c for c in COLUMNS if c.name in ("customer_id", "updated_at"))),
    ),
    tags=("customers",),
)
