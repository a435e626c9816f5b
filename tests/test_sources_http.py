"""The `http` source against the sandbox APIs: pagination, auth, retries under faults, incremental."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from cartflow.config import HttpSource, parse_config
from cartflow.lake.storage import LocalStorage
from cartflow.runtime.progress import QuietReporter
from cartflow.runtime.state import SqliteState
from cartflow.sandbox.control import set_faults
from cartflow.sources.errors import SourceError
from cartflow.sources.http import extract_http
from cartflow.sources.http_retry import retry_after
from multisource_fixtures import API_KEY, KEY_ENV


def http_source(url: str, **extra) -> HttpSource:
    raw = {"kind": "http", "entity": "customers", "url": url, "records_path": "data",
           "auth": {"type": "api_key", "token_env": KEY_ENV},
           "request_attempts": 5, "backoff_seconds": 0.01, "max_backoff_seconds": 0.05, **extra}
    return parse_config({"sources": {"api": raw}}).sources["api"]  # type: ignore[return-value]


@pytest.fixture
def lake_state(tmp_path: Path):
    storage = LocalStorage(tmp_path / "lake")
    state = SqliteState(tmp_path / "state.db")
    yield storage, state
    state.close()


@pytest.fixture(autouse=True)
def healed(seed_sandbox):
    """Every test starts and ends with fault-free APIs."""
    calm = {"error_rate": 0.0, "rate_limit_rate": 0.0, "latency_ms": 0.0, "fail_next": 0, "down": False}
    for api in ("customers", "fx", "products"):
        set_faults(seed_sandbox.info, api, calm)
    yield
    for api in ("customers", "fx", "products"):
        set_faults(seed_sandbox.info, api, calm)


@pytest.mark.parametrize("style", ["page", "offset", "cursor", "link"])
def test_every_pagination_style_lands_each_page_exactly_as_received(style, seed_sandbox, secrets, lake_state):
    storage, state = lake_state
    source = http_source(seed_sandbox.info.customers_url, pagination={"style": style, "page_size": 300})
    result = extract_http(storage, state, QuietReporter(), "api", source, "run-1")
    assert (result.records, result.landed) == (1000, 4)
    assert result.pages == (5 if style in ("page", "offset") else 4)  # page/offset end at an empty page
    landed = state.manifests()
    ids = [r["Customer_ID"] for m in landed for r in json.loads(storage.read_bytes(m.raw_key))["data"]]
    assert sorted(ids) == list(range(1, 1001))  # every seed customer once, none twice
    first = next(m for m in landed if m.rows == 300)
    again = httpx.get(first.source_file, headers={"X-API-Key": API_KEY}, timeout=10)
    assert storage.read_bytes(first.raw_key) == again.content  # raw = the bytes the API sent


def test_a_second_extract_of_unchanged_pages_lands_nothing(seed_sandbox, secrets, lake_state):
    storage, state = lake_state
    source = http_source(seed_sandbox.info.customers_url, pagination={"style": "page", "page_size": 500})
    assert extract_http(storage, state, QuietReporter(), "api", source, "r1").landed == 2
    assert extract_http(storage, state, QuietReporter(), "api", source, "r2").landed == 0
    assert len(state.manifests()) == 2


def test_transient_503s_and_429s_are_retried_honouring_retry_after(seed_sandbox, secrets, lake_state):
    storage, state = lake_state
    info = seed_sandbox.info
    set_faults(info, "customers", {"fail_next": 2, "fail_status": 429, "retry_after_seconds": 0.2})
    waits: list[float] = []
    source = http_source(info.customers_url, pagination={"style": "page", "page_size": 500})
    result = extract_http(storage, state, QuietReporter(), "api", source, "r1", sleep=waits.append)
    assert result.records == 1000 and result.fetch.retries == 2
    assert waits == [0.2, 0.2]  # the server's Retry-After, not our own backoff
    set_faults(info, "customers", {"fail_next": 3, "fail_status": 503})
    waits.clear()
    state2 = SqliteState(storage.path.parent / "state2.db")
    try:
        result = extract_http(storage, state2, QuietReporter(), "api", source, "r2", sleep=waits.append)
    finally:
        state2.close()
    assert result.records == 1000 and len(waits) == 3
    assert all(0 < w <= 0.05 for w in waits)  # exponential backoff with jitter, capped


def test_random_faults_and_latency_still_bring_every_record(seed_sandbox, secrets, lake_state):
    storage, state = lake_state
    set_faults(seed_sandbox.info, "customers", {"error_rate": 0.3, "rate_limit_rate": 0.1, "retry_after_seconds": 0.01,
                                                "latency_ms": 20, "seed": 11})
    source = http_source(seed_sandbox.info.customers_url, pagination={"style": "cursor", "page_size": 100},
                         request_attempts=12)
    result = extract_http(storage, state, QuietReporter(), "api", source, "r1")
    assert (result.landed, result.records) == (10, 1000) and result.fetch.retries > 0


def test_a_source_that_stays_down_fails_clearly_lands_nothing_and_keeps_the_watermark(
        seed_sandbox, secrets, lake_state):
    storage, state = lake_state
    info = seed_sandbox.info
    source = http_source(info.customers_url, pagination={"style": "page", "page_size": 400},
                         incremental={"param": "updated_since"}, request_attempts=3)
    state.set_watermark("api", "customers", "2020-01-01T00:00:00+00:00")
    set_faults(info, "customers", {"down": True})
    with pytest.raises(SourceError) as err:
        extract_http(storage, state, QuietReporter(), "api", source, "r1", sleep=lambda s: None)
    message = str(err.value)
    assert "'api'" in message and "HTTP 503" in message and "3 time(s)" in message and info.customers_url in message
    assert state.manifests() == [] and state.watermark("api", "customers") == "2020-01-01T00:00:00+00:00"
    # half-way: the first page arrives, the second never does -> still nothing landed
    set_faults(info, "customers", {"down": False})
    calls = {"n": 0}

    def flaky_sleep(_: float) -> None:
        calls["n"] += 1

    set_faults(info, "customers", {"fail_next": 0})
    original = httpx.Client.get

    def second_page_down(self, url, params=None, **kw):
        if params and params.get("page") == 2:
            raise httpx.ConnectError("connection refused")
        return original(self, url, params=params, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(httpx.Client, "get", second_page_down)
        with pytest.raises(SourceError, match="ConnectError"):
            extract_http(storage, state, QuietReporter(), "api", source, "r2", sleep=flaky_sleep)
    assert calls["n"] == 2 and state.manifests() == []  # page 1 arrived, page 2 never did: nothing landed
    assert state.watermark("api", "customers") == "2020-01-01T00:00:00+00:00"


def test_credentials_come_from_the_environment_and_never_reach_logs(seed_sandbox, lake_state, monkeypatch,
                                                                    caplog):
    storage, state = lake_state
    source = http_source(seed_sandbox.info.customers_url)
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(SourceError, match=KEY_ENV) as err:
        extract_http(storage, state, QuietReporter(), "api", source, "r1")
    assert getattr(err.value, "retryable", None) is False
    wrong = "wrong-key-SECRET-123"
    monkeypatch.setenv(KEY_ENV, wrong)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceError, match="HTTP 401") as err:
        extract_http(storage, state, QuietReporter(), "api", source, "r2")
    assert err.value.retryable is False and "auth.token_env" in str(err.value)
    monkeypatch.setenv(KEY_ENV, API_KEY)
    extract_http(storage, state, QuietReporter(), "api", source, "r3")
    logged = caplog.text + str(err.value)
    assert wrong not in logged and API_KEY not in logged
    assert API_KEY not in repr(source) and API_KEY not in (Path(storage.root).parent / "state.db").read_bytes().decode(
        "latin-1")


def test_incremental_extract_asks_only_for_changes_since_the_watermark(seed_sandbox, secrets, lake_state):
    storage, state = lake_state
    info = seed_sandbox.info
    source = http_source(info.customers_url, pagination={"style": "page", "page_size": 1000},
                         incremental={"param": "updated_since"})
    assert extract_http(storage, state, QuietReporter(), "api", source, "r1").records >= 1000
    first = state.watermark("api", "customers")
    changed = seed_sandbox.customer_store.advance(changes=5, new=2)
    result = extract_http(storage, state, QuietReporter(), "api", source, "r2")
    newest = state.manifests()[-1]
    got = sorted(r["Customer_ID"] for r in json.loads(storage.read_bytes(newest.raw_key))["data"])
    assert result.records == 7 and got == sorted(changed["changed"] + changed["added"])
    assert "updated_since=" in newest.source_file and state.watermark("api", "customers") > first
    assert extract_http(storage, state, QuietReporter(), "api", source, "r3").records == 0


def test_frankfurter_pages_become_one_row_per_rate(seed_sandbox, lake_state, tmp_path):
    storage, state = lake_state
    raw = {"kind": "http", "entity": "exchange_rates", "url": f"{seed_sandbox.info.fx_url}/v1/2024-01-01..2024-01-31",
           "params": {"base": "USD", "symbols": "EUR,GBP"}, "layout": "frankfurter"}
    source = parse_config({"sources": {"fx": raw}}).sources["fx"]
    result = extract_http(storage, state, QuietReporter(), "fx", source, "r1")
    assert result.records == 22 * 2  # 22 business days in January 2024 (1 January is a holiday)
    import pyarrow.parquet as pq

    from cartflow.lake.bronze import layout_for, to_bronze

    m = state.manifests()[0]
    out = to_bronze(storage, m.raw_key, source="fx", entity="exchange_rates", batch_id=m.batch_id,
                    source_file=m.source_file, ingested_at=datetime.now(), layout=layout_for(source, m.raw_key))
    rows = pq.read_table(storage.uri(out.key)).to_pylist()
    assert len(rows) == 44 and {r["base_currency"] for r in rows} == {"USD"}
    assert {r["currency_code"] for r in rows} == {"EUR", "GBP"} and "2024-01-06" not in {r["rate_date"] for r in rows}


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after("2") == 2.0 and retry_after(None) is None and retry_after("soon") is None
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 < retry_after(format_datetime(later, usegmt=True)) <= 30


def test_an_api_that_caps_the_page_size_or_repeats_its_last_page_loses_and_doubles_nothing(lake_state) -> None:
    storage, state = lake_state
    records = [{"id": i} for i in range(7)]

    def capped(request: httpx.Request) -> httpx.Response:  # asks for 10 a page, gets at most 3
        page = int(request.url.params["page"])
        chunk = records[(page - 1) * 3:page * 3] or records[-1:]  # past the end: the last page again
        return httpx.Response(200, json={"data": chunk})

    raw = {"kind": "http", "entity": "customers", "url": "http://api.test/c", "records_path": "data",
           "pagination": {"style": "page", "page_size": 10}}
    source = parse_config({"sources": {"api": raw}}).sources["api"]
    client = httpx.Client(transport=httpx.MockTransport(capped))
    result = extract_http(storage, state, QuietReporter(), "api", source, "r1", client=client)
    assert result.records >= 7 and result.landed == 3  # pages 1-3; page 4 repeats page 3 and ends it
    ids = {r["id"] for m in state.manifests() for r in json.loads(storage.read_bytes(m.raw_key))["data"]}
    assert ids == set(range(7))
