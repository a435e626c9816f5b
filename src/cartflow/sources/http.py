"""The `http` source: a paginated REST JSON API, each page landed in raw exactly as received.

Pagination styles: `page` (?page=N&limit=K), `offset` (?offset=N&limit=K), `cursor`
(the next cursor read from each page's body) and `link` (the `Link: <...>; rel="next"`
header). Auth is a bearer token or an API-key header whose value comes from an
environment variable and never reaches a log line.

Incremental: the last watermark is sent as a parameter (`updated_since` by default),
minus an optional look-back. The next watermark is the largest value of a record field,
or the time the extract started when records carry no such field.

Atomicity: pages are spooled to a temporary directory while they arrive and landed only
after the last page came in, and the watermark moves after that. A failure half-way
lands nothing and keeps the watermark, so the next run asks for the same changes again.
One batch per page; a page whose bytes were landed before is not landed twice.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

import httpx

from cartflow.config import HttpSource
from cartflow.lake.raw import land_bytes
from cartflow.lake.records import dig, frankfurter_rows
from cartflow.lake.storage import Storage
from cartflow.runtime.progress import Reporter
from cartflow.runtime.state import StateStore
from cartflow.sources.errors import SourceError
from cartflow.sources.http_retry import FetchStats, RetryingGetter

log = logging.getLogger(__name__)
USER_AGENT = "cartflow-http-source/1"


@dataclass
class Page:
    number: int
    url: str
    body: bytes
    records: int
    newest: Any = None
    """The largest value of the incremental field on this page."""


@dataclass
class HttpExtract:
    """What one extract fetched and landed."""

    pages: int = 0
    records: int = 0
    landed: int = 0
    watermark: str | None = None
    seconds: float = 0.0
    fetch: FetchStats = field(default_factory=FetchStats)


def extract_http(storage: Storage, state: StateStore, reporter: Reporter, name: str, source: HttpSource,
                 run_id: str | None, *, client: httpx.Client | None = None, sleep: Any = time.sleep) -> HttpExtract:
    """Fetch every page, then land them and advance the watermark; raise SourceError on failure."""
    t0 = time.perf_counter()
    started = datetime.now(UTC).isoformat(timespec="microseconds")
    previous = state.watermark(name, source.entity)
    since = since_param(source, previous)
    own_client = client is None
    client = client or client_for(name, source)
    getter = RetryingGetter(client, source=name, attempts=source.request_attempts,
                            backoff_seconds=source.backoff_seconds, max_backoff_seconds=source.max_backoff_seconds,
                            max_retry_after_seconds=source.max_retry_after_seconds, sleep=sleep)
    result = HttpExtract(fetch=getter.stats)
    stage = reporter.stage(f"extract {name}")
    newest: Any = None
    try:
        with tempfile.TemporaryDirectory(prefix="cf-http-") as spool:
            spooled: list[tuple[Page, Path]] = []
            for page in pages(getter, name, source, since):
                path = Path(spool) / f"{page.number:07d}.json"
                path.write_bytes(page.body)
                spooled.append((Page(page.number, page.url, b"", page.records), path))
                result.pages += 1
                result.records += page.records
                newest = _max(newest, page.newest)
                stage.advance(detail=f"page {page.number}: {page.records} record(s)")
            if source.incremental:
                result.watermark = _next_watermark(source, previous, newest, started)
            for page, path in spooled:
                if page.records == 0:
                    continue  # an empty last page carries nothing to standardize
                if land_bytes(storage, state, source=name, entity=source.entity, data=path.read_bytes(),
                              name=page.url, ext="json", run_id=run_id, watermark=result.watermark,
                              rows=page.records):
                    result.landed += 1
    finally:
        if own_client:
            client.close()
    if source.incremental and result.watermark and result.watermark != previous:
        state.set_watermark(name, source.entity, result.watermark)
    result.seconds = time.perf_counter() - t0
    stage.done(f"{result.pages} page(s), {result.records} record(s), {result.landed} new batch(es)")
    log.info("source %s: %d page(s), %d record(s), %d new batch(es), %d retried request(s) in %.2fs",
             name, result.pages, result.records, result.landed, result.fetch.retries, result.seconds,
             extra={"source": name, "pages": result.pages, "records": result.records})
    return result


def pages(getter: RetryingGetter, name: str, source: HttpSource, since: str | None) -> Iterator[Page]:
    """Yield the pages of one extract in order, following the configured pagination."""
    p = source.pagination
    params: dict[str, Any] = dict(source.params)
    if source.incremental and since is not None:
        params[source.incremental.param] = since
    if p.style in ("page", "offset", "cursor", "link"):
        params[p.size_param] = p.page_size
    if p.style == "page":
        params[p.page_param] = p.first_page
    elif p.style == "offset":
        params[p.offset_param] = 0
    url: str | None = source.url
    number = 0
    previous: bytes | None = None
    while url is not None:
        number += 1
        if number > p.max_pages:
            raise SourceError(f"source {name!r}: more than pagination.max_pages = {p.max_pages} pages from "
                              f"{source.url}: the API does not end its pages; check the pagination settings",
                              retryable=False)
        response = getter.get(url, params if number == 1 or p.style != "link" else None)
        body = response.content
        if body == previous and p.style in ("page", "offset"):
            break  # an API that answers past the end with its last page again
        previous = body
        document = _json(name, response)
        records = records_of(document, source, name, str(response.url))
        field_name = source.incremental.field if source.incremental else None
        yield Page(number, str(response.url), body, len(records),
                   _field_max(records, field_name) if field_name else None)
        count = len(records)
        url, params = _next(p.style, source, document, response, params, count)


def _next(style: str, source: HttpSource, document: Any, response: httpx.Response, params: dict[str, Any],
          count: int) -> tuple[str | None, dict[str, Any]]:
    """The next request, or (None, _) when this page was the last."""
    p = source.pagination
    if style == "none" or count == 0:
        return None, params
    # page/offset: only an empty page ends the pages. A short page may just be an API that
    # caps the page size below what was asked, and stopping there would lose records.
    if style == "page":
        return source.url, {**params, p.page_param: int(params[p.page_param]) + 1}
    if style == "offset":
        return source.url, {**params, p.offset_param: int(params[p.offset_param]) + count}
    if style == "cursor":
        cursor = dig(document, p.cursor_path)
        if cursor in (None, "", False):
            return None, params
        return source.url, {**params, p.cursor_param: cursor}
    nxt = response.links.get("next", {}).get("url")
    return (str(response.url.join(nxt)) if nxt else None), params


def _json(name: str, response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        kind = response.headers.get("content-type", "no content type")
        raise SourceError(f"source {name!r}: GET {response.url} did not answer JSON ({kind}: {exc}); "
                          "check url in cartflow.toml", retryable=False) from None


def records_of(document: Any, source: Any, name: str, where: str) -> list[Any]:
    """The records of one page (or file): a list at `records_path`, or the rates of a Frankfurter page."""
    if getattr(source, "layout", "records") == "frankfurter":
        return frankfurter_rows(document)
    found = dig(document, source.records_path)
    if isinstance(found, list):
        return found
    what = f"an object with keys {sorted(found)[:8]}" if isinstance(found, dict) else type(found).__name__
    raise SourceError(f"source {name!r}: {where}: expected a list of records at "
                      f"{source.records_path or 'the top level'}, found {what}: set records_path in cartflow.toml",
                      retryable=False)


def count_records(document: Any, source: Any, name: str, where: str) -> int:
    return len(records_of(document, source, name, where))


def since_param(source: HttpSource, previous: str | None) -> str | None:
    """The value sent as the incremental parameter: the watermark minus the look-back."""
    inc = source.incremental
    if inc is None:
        return None
    value = previous or inc.initial
    if value is None or not inc.lookback_seconds:
        return value
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value  # not a timestamp: a look-back has no meaning for it
    return (ts - timedelta(seconds=inc.lookback_seconds)).isoformat()


def _field_max(records: list[Any], field_name: str) -> Any:
    newest = None
    for record in records:
        if isinstance(record, dict) and record.get(field_name) not in (None, ""):
            newest = _max(newest, record[field_name])
    return newest


def _key(value: Any) -> tuple[int, Any]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value))
    text = str(value)
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (1, ts if ts.tzinfo else ts.replace(tzinfo=UTC))
    except ValueError:
        return (2, text)


def _max(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    try:
        return b if _key(b) > _key(a) else a
    except TypeError:  # mixed kinds: compare as text
        return b if str(b) > str(a) else a


def _next_watermark(source: HttpSource, previous: str | None, newest: Any, started: str) -> str | None:
    if source.incremental and source.incremental.field is None:
        return started
    return str(_max(previous, newest)) if (previous or newest is not None) else None


def auth_headers(name: str, source: HttpSource) -> dict[str, str]:
    """The auth header, its secret read from the environment now (never stored, never logged)."""
    auth = source.auth
    if auth.type == "none":
        return {}
    secret = os.environ.get(auth.token_env or "")
    if not secret:
        raise SourceError(f"source {name!r}: the env var {auth.token_env} (auth.token_env) is not set: "
                          "export it with the API's token before the run", retryable=False)
    if auth.type == "bearer":
        return {"Authorization": f"Bearer {secret}"}
    return {auth.header: secret}


def client_for(name: str, source: HttpSource) -> httpx.Client:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **source.headers, **auth_headers(name, source)}
    return httpx.Client(timeout=httpx.Timeout(source.timeout_seconds), headers=headers, follow_redirects=True)
