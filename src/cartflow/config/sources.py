"""`[sources.<name>]`: where rows come from (files, an HTTP API, PostgreSQL) and how their values read.

A source's `kind` selects its model (`SourceConfig` is the discriminated union); every kind shares
the entity it delivers, its currency, date rules, column mapping and fill-down (`EntitySource`).
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from cartflow.config.base import Strict
from cartflow.entities import ENTITIES, ENTITY_NAMES


class CsvOptions(Strict):
    encoding: str = "latin-1"
    delimiter: str = ","
    quote: str = '"'
    date_format: str = "%-m/%-d/%Y %-H:%M"
    """How this source writes its timestamps (strptime, DuckDB spelling: `%-m` = unpadded month).
    Reaches silver per source through `_pipeline/sources.parquet` (docs/columns.md)."""
    decimal: Literal[".", ","] = "."


Entity = Literal[ENTITY_NAMES]  # type: ignore[valid-type]
"""What a source delivers: one of the entity contracts in `cartflow.entities`."""

_CURRENCY = r"^[A-Z]{3}$"
_IDENT = r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$"


class DateRules(Strict):
    """How day/month dates such as `03/04/2022` are read: written down here, never guessed."""

    ambiguous: Literal["quarantine", "month_first", "day_first"] = "quarantine"
    """A date whose day and month could be swapped (both <= 12, different): quarantine it, or read it so."""
    slash: Literal["infer", "month_first", "day_first"] = "infer"
    """`a/b/YYYY`: infer (a > 12 means day first, b > 12 month first, else ambiguous) or a fixed order."""
    dash: Literal["infer", "month_first", "day_first"] = "infer"
    """`a-b-YYYY`, as `slash`. The multi-source seed documents its dashed dates as MM-DD-YYYY."""
    dot: Literal["infer", "month_first", "day_first"] = "infer"
    """`a.b.YYYY`, as `slash`."""


class _EntitySource(Strict):
    """What every source kind shares: the entity it delivers and how its values are read."""

    currency: str | None = Field(default=None, pattern=_CURRENCY)
    """Currency of amounts in rows that carry none (default: `[currency] base`)."""
    rate_base: str = Field(default="EUR", pattern=_CURRENCY)
    """exchange_rates rows without a base currency of their own are quoted against this one."""
    dates: DateRules = Field(default_factory=DateRules)
    enabled: bool = True
    required: bool = True
    """A failing required source fails the run; an optional one makes it `partial`."""
    columns: dict[str, str] = Field(default_factory=dict)
    """`[sources.<name>.columns]`: canonical column = the source's column (a dotted path such as
    `customer.id` inside JSON records). Columns not named here fall back to the accepted spellings."""
    fill_down: list[str] = Field(default_factory=list)
    """Canonical columns that are blank on an order's continuation rows (a Shopify export writes
    order-level fields on the first line item only): a blank takes the value of the row above
    when that row has the same `fill_down_by` value."""
    fill_down_by: str | None = None
    """The canonical column that groups continuation rows (default: the entity's first key column)."""

    @model_validator(mode="after")
    def _columns_of_the_entity(self) -> _EntitySource:
        contract = ENTITIES[getattr(self, "entity", "order_lines")]
        known = contract.bronze_columns
        for key, value in self.columns.items():
            if key not in known:
                raise ValueError(f"columns.{key}: {_not_a_column(key, contract.name, known)}")
            if not value.strip():
                raise ValueError(f"columns.{key}: empty source column name (remove the line to use the accepted "
                                 "spellings)")
        for key in (*self.fill_down, *([self.fill_down_by] if self.fill_down_by else [])):
            if key not in known:
                raise ValueError(f"fill_down: {_not_a_column(key, contract.name, known)}")
        if self.fill_down and self.fill_down_key() in self.fill_down:
            raise ValueError(f"fill_down: {self.fill_down_key()!r} groups the rows (fill_down_by); it cannot be "
                             "filled itself")
        return self

    def fill_down_key(self) -> str:
        """The column whose equal values mark continuation rows."""
        return self.fill_down_by or ENTITIES[getattr(self, "entity", "order_lines")].key[0]


def _not_a_column(name: str, entity: str, known: tuple[str, ...]) -> str:
    """`'qty' is not a column of order_lines: did you mean 'quantity'? (columns: ...)`"""
    import difflib

    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{name!r} is not a column of entity {entity}: {hint}(its columns: {', '.join(known)})"


class FilesSource(_EntitySource):
    kind: Literal["files"]
    entity: Entity = "order_lines"
    path: str
    """Directory, or glob (`landing/retail/*.csv`), relative to the project."""
    format: Literal["csv", "json", "ndjson"] = "csv"
    """csv; json: one array of objects per file (or `records_path` inside one object); ndjson: one object per line."""
    records_path: str | None = None
    """json: dotted path to the list of records inside the document (`data.items`); none: the document is the list."""
    csv: CsvOptions = Field(default_factory=CsvOptions)
    currency: str | None = Field(default="GBP", pattern=_CURRENCY)
    inbox: bool = True
    """Also take files dropped in `<lake>/landing/<source>/` (moved to processed/ or rejected/ after)."""
    settle_seconds: float = Field(default=5.0, ge=0)
    """Take a file only once its size and modification time stayed the same this long (a copy in
    progress is left for the next run). 0: every file is complete when it appears (a batch job
    that writes elsewhere and renames, or tests)."""
    ready_marker: str | None = Field(default=None, pattern=r"^[^/\\*?\[]+$")
    """For producers that signal completion: `".done"` takes `x.csv` once `x.csv.done` exists;
    a name such as `"_SUCCESS"` takes the files of a folder once it holds that file. With a
    marker the quiet period is not waited for. Files ending .tmp/.part/.partial/.filepart/
    .crdownload/.uploading are always left alone until renamed."""
    follow_symlinks: bool = False
    """A symbolic link in `path` is rejected (`symlink`) unless this is true: a link can point
    anywhere on the machine, and its target can change under the same name."""
    recursive: bool = False
    """A directory `path` takes its direct files only; sub-folders are skipped with a note.
    true: files in sub-folders too, named by their path below `path` (`2024/01/day.csv`)."""


class HttpAuth(Strict):
    type: Literal["none", "bearer", "api_key"] = "none"
    token_env: str | None = None
    """The env var holding the token or key (never the secret itself: config files get committed)."""
    header: str = "X-API-Key"
    """api_key: the header that carries the key."""

    @model_validator(mode="after")
    def _secret_named(self) -> HttpAuth:
        if self.type != "none" and not self.token_env:
            raise ValueError(f"auth type {self.type!r} needs token_env (the env var holding the secret)")
        return self


class HttpPagination(Strict):
    style: Literal["none", "page", "offset", "cursor", "link"] = "none"
    """page: ?page=N&limit=K; offset: ?offset=N&limit=K (both end at an empty page); cursor: ?cursor=<from the
    last page>; link: follow `Link: rel="next"`."""
    page_param: str = "page"
    first_page: int = Field(default=1, ge=0)
    size_param: str = "limit"
    page_size: int = Field(default=100, ge=1, le=100_000)
    offset_param: str = "offset"
    cursor_param: str = "cursor"
    cursor_path: str = "next_cursor"
    """cursor: dotted path to the next cursor in each page's body; empty or missing ends the pages."""
    max_pages: int = Field(default=100_000, ge=1)
    """A safety stop: an API that never ends its pages fails the extract instead of looping."""


class HttpIncremental(Strict):
    param: str = "updated_since"
    """The query parameter that receives the last watermark."""
    field: str | None = None
    """Record field whose largest value becomes the next watermark; none: the time the extract started."""
    initial: str | None = None
    """Watermark for the first extract (none: the parameter is left out, a full load)."""
    lookback_seconds: float = Field(default=0, ge=0)
    """Ask again for this much before the watermark (ISO timestamps only), for late or clock-skewed updates."""


class HttpSource(_EntitySource):
    kind: Literal["http"]
    entity: Entity
    url: str = Field(pattern=r"^https?://")
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra request headers; secrets go in `auth` (token_env), which is never logged."""
    auth: HttpAuth = Field(default_factory=HttpAuth)
    pagination: HttpPagination = Field(default_factory=HttpPagination)
    records_path: str | None = None
    """Dotted path to the records in each page (`data`); none: the page itself is the list."""
    layout: Literal["records", "frankfurter"] = "records"
    """frankfurter: `{base, rates: {date: {currency: rate}}}` pages (exchange rates) become one row per rate."""
    incremental: HttpIncremental | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    request_attempts: int = Field(default=5, ge=1, le=20)
    """Tries per request on connection errors, timeouts, 5xx and 429 (the first included)."""
    backoff_seconds: float = Field(default=0.5, ge=0)
    max_backoff_seconds: float = Field(default=30.0, ge=0)
    max_retry_after_seconds: float = Field(default=120.0, ge=0)
    """A 429/503 asking to wait longer than this fails the request instead of stalling the run."""


class PostgresIncremental(Strict):
    column: str = Field(pattern=_IDENT)
    """Watermark column (a timestamp, date or number that grows when a row changes)."""
    lookback: str | float = 0
    """Re-read this far behind the watermark for late commits: an interval (`"10 minutes"`) or a number."""
    initial: str | None = None
    """Extract only rows after this value on the first run (none: everything)."""


class PostgresSource(_EntitySource):
    kind: Literal["postgres"]
    entity: Entity
    dsn_env: str = "CARTFLOW_SOURCE_DSN"
    """The env var holding the connection string (it carries a password, so never the config)."""
    dsn: str | None = None
    """A connection string without a password (a local or sandbox database); wins over dsn_env."""
    table: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")
    query: str | None = None
    """A SELECT instead of a table; incremental filters wrap it (`SELECT * FROM (<query>) q WHERE ...`)."""
    key: list[str] = Field(default_factory=list)
    """Primary-key columns: a stable row order, so an unchanged extract is the same batch."""
    incremental: PostgresIncremental | None = None
    chunk_rows: int = Field(default=10_000, ge=1, le=1_000_000)
    """Rows fetched per round trip from a server-side cursor, and per Parquet row group."""
    connect_timeout_seconds: int = Field(default=10, ge=1)
    statement_timeout_seconds: int | None = Field(default=None, ge=1)
    connect_attempts: int = Field(default=5, ge=1, le=20)
    backoff_seconds: float = Field(default=0.5, ge=0)
    max_backoff_seconds: float = Field(default=15.0, ge=0)

    @model_validator(mode="after")
    def _table_or_query(self) -> PostgresSource:
        if bool(self.table) == bool(self.query):
            raise ValueError("set exactly one of table or query")
        if self.dsn and _dsn_has_password(self.dsn):
            raise ValueError("dsn carries a password: put the connection string in the env var named by dsn_env")
        return self


def _dsn_has_password(dsn: str) -> bool:
    from urllib.parse import urlsplit

    if "://" in dsn:
        return bool(urlsplit(dsn).password)
    return any(part.strip().startswith("password=") for part in dsn.split())


SourceConfig = Annotated[Union[FilesSource, HttpSource, PostgresSource], Field(discriminator="kind")]
