"""The sandbox's APIs: Frankfurter v1 shapes, the Customer API's contract, faults on demand."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import httpx
import pytest

from cartflow.sandbox.control import get_faults, set_faults
from cartflow.sandbox.fx_model import RateBook, easter, is_business_day
from multisource_fixtures import API_KEY


@pytest.fixture(autouse=True)
def healed(seed_sandbox):
    calm = {"error_rate": 0.0, "rate_limit_rate": 0.0, "latency_ms": 0.0, "fail_next": 0, "down": False}
    yield
    for api in ("customers", "fx", "products"):
        set_faults(seed_sandbox.info, api, calm)


def get(url: str, **kw) -> httpx.Response:
    return httpx.get(url, timeout=10, **kw)


def test_frankfurter_latest_one_day_and_range(seed_sandbox) -> None:
    fx = seed_sandbox.info.fx_url
    latest = get(f"{fx}/v1/latest", params={"base": "GBP", "symbols": "USD,EUR"}).json()
    assert set(latest) == {"amount", "base", "date", "rates"} and latest["base"] == "GBP"
    assert set(latest["rates"]) == {"USD", "EUR"} and is_business_day(date.fromisoformat(latest["date"]))
    assert get(f"{fx}/v1/latest").json()["base"] == "EUR" and len(get(f"{fx}/v1/latest").json()["rates"]) == 30
    saturday = get(f"{fx}/v1/2024-01-06").json()
    assert saturday["date"] == "2024-01-05"  # a weekend answers with the previous business day
    span = get(f"{fx}/v1/2024-03-25..2024-04-05", params={"base": "USD", "symbols": "EUR"}).json()
    days = list(span["rates"])
    assert span["start_date"] == "2024-03-25" and span["end_date"] == "2024-04-05"
    assert "2024-03-29" not in days and "2024-04-01" not in days  # Good Friday, Easter Monday
    assert all(date.fromisoformat(d).weekday() < 5 for d in days) and len(days) == 8
    rate = span["rates"]["2024-03-25"]["EUR"]
    eur = get(f"{fx}/v1/2024-03-25", params={"base": "EUR", "symbols": "USD"}).json()["rates"]["USD"]
    assert abs(rate * eur - 1) < 0.001  # the same day, quoted both ways


def test_frankfurter_errors(seed_sandbox) -> None:
    fx = seed_sandbox.info.fx_url
    bad = get(f"{fx}/v1/latest", params={"base": "XXX"})
    assert bad.status_code == 422 and bad.json() == {"status": 422, "message": "invalid currency: XXX"}
    assert get(f"{fx}/v1/1990-01-01").status_code == 404 and get(f"{fx}/v1/nonsense").json() == {"message": "not found"}


def test_the_seed_rates_are_served_byte_for_byte(seed_sandbox) -> None:
    from cartflow.sandbox.multi_generator import seed_bytes

    assert get(f"{seed_sandbox.info.fx_url}/legacy/exchange_rates").content == seed_bytes("exchange_rates.json")


def test_customer_api_key_pagination_and_updated_since(seed_sandbox) -> None:
    url = seed_sandbox.info.customers_url
    assert get(url).status_code == 401
    key = {"X-API-Key": API_KEY}
    page = get(url, params={"page": 2, "limit": 10}, headers=key)
    body = page.json()
    assert [c["Customer_ID"] for c in body["data"]] == list(range(11, 21)) and body["total"] >= 1000
    assert 'rel="next"' in page.headers["link"] and "page=3" in page.headers["link"]
    by_offset = get(url, params={"offset": 10, "limit": 10}, headers=key).json()["data"]
    assert by_offset == body["data"]
    first = get(url, params={"cursor": "", "limit": 5}, headers=key).json()
    second = get(url, params={"cursor": first["next_cursor"], "limit": 5}, headers=key).json()
    assert [c["Customer_ID"] for c in second["data"]] == [6, 7, 8, 9, 10]
    assert first["data"][0] == {"Customer_ID": 1, "Customer_Name": "John Doe", "Age": 95, "Gender": "",
                                "Location": "Unknown", "Date_Joined": "2020-07-04"}  # the seed record, as is
    since = datetime.now(UTC).isoformat()
    changed = seed_sandbox.customer_store.advance(changes=3)
    recent = get(url, params={"updated_since": since, "limit": 1000}, headers=key).json()
    assert sorted(c["Customer_ID"] for c in recent["data"]) == changed["changed"]
    assert get(url, params={"updated_since": "yesterday"}, headers=key).status_code == 422


def test_faults_on_demand(seed_sandbox) -> None:
    info = seed_sandbox.info
    fx = f"{info.fx_url}/v1/latest"
    set_faults(info, "fx", {"fail_next": 2, "fail_status": 429, "retry_after_seconds": 3})
    limited = get(fx)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
    assert get(fx).status_code == 429 and get(fx).status_code == 200
    set_faults(info, "fx", {"error_rate": 1.0})
    assert get(fx).status_code == 503
    set_faults(info, "fx", {"error_rate": 0.5, "seed": 3})
    with httpx.Client(timeout=10) as client:
        codes = [client.get(fx).status_code for _ in range(30)]
    assert 5 < codes.count(503) < 25 and codes.count(200) > 5
    set_faults(info, "fx", {"error_rate": 0.0, "latency_ms": 150})
    t0 = time.perf_counter()
    assert get(fx).status_code == 200 and time.perf_counter() - t0 >= 0.15
    set_faults(info, "fx", {"latency_ms": 0, "down": True})
    assert get(fx).status_code == 503 and get_faults(info, "fx")["down"] is True
    with pytest.raises(ValueError, match="unknown fault setting"):
        set_faults(info, "fx", {"errors": 1})


def test_products_api_serves_the_seed_products_and_reprices(seed_sandbox) -> None:
    body = get(seed_sandbox.info.products_url, params={"page": 1, "limit": 2}).json()
    assert [p["product_id"] for p in body["products"]] == ["P001", "P002"] and body["total"] == 3
    assert body["products"][0]["price"] == 1200.0
    changed = httpx.post(f"{seed_sandbox.info.products_url.rsplit('/', 1)[0]}/_sandbox/advance",
                         params={"changes": 1}, timeout=10).json()["changed"]
    after = {p["product_id"]: p["price"] for p in get(seed_sandbox.info.products_url).json()["products"]}
    assert after[changed[0]] != {"P001": 1200.0, "P002": 1200.0, "P003": 800.0}[changed[0]]


def test_the_rate_book_is_business_days_only_and_reproducible() -> None:
    assert easter(2024) == date(2024, 3, 31) and easter(2025) == date(2025, 4, 20)
    book = RateBook(seed=1, last=date(2024, 12, 31))
    assert all(d.weekday() < 5 for d in book.days) and date(2024, 12, 25) not in book.days
    assert RateBook(seed=1, last=date(2024, 12, 31)).rates[-1] == book.rates[-1]
    assert 0.8 < book.rates[-1]["USD"] < 1.4 and book.rates[-1]["BGN"] == 1.9558  # plausible, and the peg holds
