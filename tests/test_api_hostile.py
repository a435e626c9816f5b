"""Any body gets a JSON answer in the documented shape and a 2xx/4xx status, never a 5xx.

A seeded corpus of hostile bodies goes through the real app (SQLite log, dead letter and
store in a temporary project): mutations of a good request, lone surrogates, nesting
around and far past the parser's limit, integers past Python's 4,300-digit limit, huge
exponents, random bytes, NDJSON variants. The three cases of issue 13 are named.
"""

from __future__ import annotations

import json
import random
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from cartflow.api.app import create_app
from cartflow.config import Project
from stream_fixtures import order_lines

KEY = "hostile-key"
SEED = 1313
CASES = 600
GOOD = json.dumps(order_lines(3, seed=5))
TOKENS = ['"', "\\", "\\ud800", "\\udfff", "\\ud83d\\ude00", "\\u0000", "{", "}", "[", "]", ",", ":", "9" * 30,
          "1e999999999", "-", ".", "NaN", "Infinity", "null", "true", "\n", "\r", "\x00", "é", "\u2028", " "]


@pytest.fixture
def client(project: Project, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv(project.config.api.api_key_env, KEY)
    with TestClient(create_app(project, consumers=False), raise_server_exceptions=False) as c:
        yield c


def post(client: TestClient, body: bytes, content_type: str = "application/json"):
    return client.post("/v1/order-lines", content=body, headers={"X-API-Key": KEY, "Content-Type": content_type})


def assert_documented(response, what: str) -> None:
    assert response.status_code in (202, 400, 413, 422), (what, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), what
    body = response.json()
    if response.status_code in (202, 422):
        assert set(body) == {"accepted", "rejected", "event_ids", "errors"}, what
        for e in body["errors"]:
            assert {"index", "reason", "errors"} <= set(e) and isinstance(e["reason"], str), what
    else:
        assert isinstance(body["error"], str) and isinstance(body["message"], str), what


def record(**change: object) -> dict:
    return {**order_lines(1, seed=9)[0], **change}


def test_a_lone_surrogate_is_a_per_record_rejection(client: TestClient) -> None:
    body = json.dumps([record(), {"x": 1}]).replace('{"x": 1}', '{"Description": "\\ud800", "x": 1}').encode()
    response = post(client, body)
    assert_documented(response, "surrogate")
    assert response.status_code == 202 and response.json()["accepted"] == 1
    [error] = response.json()["errors"]
    assert error["index"] == 1 and error["reason"] == "invalid_unicode"
    assert "Description" in error["errors"][0]["message"]
    alone = post(client, b'{"InvoiceNo": "\\udc00", "StockCode": "X"}')
    assert_documented(alone, "surrogate alone")
    assert alone.status_code == 422 and alone.json()["errors"][0]["reason"] == "invalid_unicode"


def test_json_nested_50_000_deep_is_a_400(client: TestClient) -> None:
    response = post(client, b"[" * 50_000 + b"]" * 50_000)
    assert_documented(response, "deep")
    assert response.status_code == 400 and "nested too deeply" in response.json()["message"]
    ndjson = GOOD.encode()[1:-1].split(b"}, ")[0] + b"}\n" + b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    response = post(client, ndjson, "application/x-ndjson")
    assert_documented(response, "deep ndjson line")
    assert response.json()["accepted"] == 1 and response.json()["errors"][0]["reason"] == "malformed_json"


def test_an_integer_of_more_than_4300_digits_is_a_field_error(client: TestClient) -> None:
    body = json.dumps([record(), record(Quantity=0)]).replace('"Quantity": 0', '"Quantity": ' + "9" * 5_000)
    response = post(client, body.encode())
    assert_documented(response, "big integer")
    assert response.status_code == 202 and response.json()["errors"][0]["reason"] == "too_long:Quantity"
    assert len(response.text) < 5_000  # the error quotes the value shortened, not all 5,000 digits


def test_a_huge_exponent_is_too_long_without_writing_it_out(client: TestClient) -> None:
    body = json.dumps([record(UnitPrice=0)]).replace('"UnitPrice": 0', '"UnitPrice": 1e999999999')
    response = post(client, body.encode())
    assert_documented(response, "huge exponent")
    assert response.json()["errors"][0]["reason"] == "too_long:UnitPrice"


def hostile_bodies(rnd: random.Random) -> Iterator[tuple[str, bytes, str]]:
    for depth in (990, 995, 998, 999, 1000, 1001, 1010, 5_000):
        yield f"array depth {depth}", b"[" * depth + b"]" * depth, "application/json"
        inner = '{"InvoiceNo": ' + "[" * depth + "]" * depth + "}"
        yield f"field depth {depth}", f"[{inner}]".encode(), "application/json"
        yield f"ndjson depth {depth}", inner.encode(), "application/x-ndjson"
    for digits in (4_299, 4_300, 4_301, 20_000):
        yield f"int {digits}", f'[{{"Quantity": {"7" * digits}, "CustomerID": -{"1" * digits}}}]'.encode(), \
            "application/json"
    for i in range(CASES):
        text = list(GOOD)
        for _ in range(rnd.randint(1, 8)):
            at = rnd.randrange(len(text))
            op = rnd.random()
            if op < 0.5:
                text.insert(at, rnd.choice(TOKENS))
            elif op < 0.8:
                text[at] = rnd.choice(TOKENS)
            else:
                del text[at]
        body = "".join(text)
        kind = rnd.random()
        if kind < 0.15:  # NDJSON of the same records
            lines = body.strip()[1:-1].replace("}, {", "}\n{")
            yield f"mutation {i} ndjson", lines.encode("utf-8", "surrogatepass"), "application/x-ndjson"
        elif kind < 0.2:
            yield f"random bytes {i}", rnd.randbytes(rnd.randint(1, 300)), "application/json"
        else:
            yield f"mutation {i}", body.encode("utf-8", "surrogatepass"), "application/json"


def test_any_body_gets_a_documented_json_answer(client: TestClient) -> None:
    statuses: dict[int, int] = {}
    for what, body, content_type in hostile_bodies(random.Random(SEED)):
        response = post(client, body, content_type)
        assert_documented(response, what)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    assert statuses.get(202) and statuses.get(400) and statuses.get(422), statuses  # the corpus reaches each answer
    assert client.get("/v1/health").status_code == 200  # and the server is still well
