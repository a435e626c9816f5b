"""S3Storage against a real S3 server (SeaweedFS) with enforced credentials."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from cartflow.lake.marts import published_tables
from cartflow.lake.s3 import LakeAccessError, S3Storage, load_httpfs
from cartflow.lake.storage import open_storage
from cartflow.publish.marts import publish
from conftest_s3 import KEY_ENV, SECRET_ENV

pytestmark = pytest.mark.slow  # a real S3 server (SeaweedFS)


@pytest.fixture
def store(s3_server, s3_root, s3_env) -> S3Storage:
    return open_storage(s3_root, endpoint=s3_server.endpoint, region=s3_server.region,
                        access_key_env=KEY_ENV, secret_key_env=SECRET_ENV)  # type: ignore[return-value]


def test_round_trip_list_move_delete(store: S3Storage, tmp_path: Path) -> None:
    store.write_bytes("raw/src/order_lines/ingest_date=2024-01-01/a.csv", b"a,b\r\n1,2\r\n")
    local = tmp_path / "b.csv"
    local.write_bytes(b"x" * 1000)
    store.write_file("raw/src/order_lines/ingest_date=2024-01-02/b.csv", local)
    store.write_bytes("raw/src/.hidden", b"tmp")
    store.write_bytes("rawish/c.csv", b"not under raw/")

    assert store.read_bytes("raw/src/order_lines/ingest_date=2024-01-01/a.csv") == b"a,b\r\n1,2\r\n"
    assert store.list("raw") == ["raw/src/order_lines/ingest_date=2024-01-01/a.csv",
                                 "raw/src/order_lines/ingest_date=2024-01-02/b.csv"]
    assert store.list("raw/src/order_lines/ingest_date=2024-01-02/b.csv") == [
        "raw/src/order_lines/ingest_date=2024-01-02/b.csv"]
    assert store.list("nothing") == []
    assert store.exists("raw/src") and store.exists("rawish/c.csv") and not store.exists("raw/sr")
    assert store.size("raw/src/order_lines/ingest_date=2024-01-02/b.csv") == 1000
    assert store.uri("marts/x/data.parquet") == f"{store.root}/marts/x/data.parquet"

    store.move("rawish/c.csv", "inbox/claimed/c.csv")
    assert not store.exists("rawish/c.csv")
    assert store.read_bytes("inbox/claimed/c.csv") == b"not under raw/"

    with store.local_copy("raw/src/order_lines/ingest_date=2024-01-02/b.csv") as path:
        assert path.read_bytes() == b"x" * 1000
        kept = path
    assert not kept.exists(), "local_copy must not leave its temp file behind"

    store.delete("raw")
    assert store.list("raw") == [] and store.exists("inbox/claimed/c.csv")


def test_prefixes_are_isolated(store: S3Storage, s3_server, s3_env) -> None:
    other = S3Storage(store.root + "-other", endpoint=s3_server.endpoint, access_key_env=KEY_ENV,
                      secret_key_env=SECRET_ENV)
    store.write_bytes("marts/t/data.parquet", b"1")
    assert other.list("marts") == [] and other.list("") == []
    assert store.list("") == ["marts/t/data.parquet"]


def test_duckdb_reads_the_lake_through_httpfs_from_the_wheel(store: S3Storage, tmp_path: Path) -> None:
    local = tmp_path / "t.parquet"
    duckdb.sql(f"COPY (SELECT range AS n, (range * 1.25)::DECIMAL(12,2) AS amount FROM range(100)) "
               f"TO '{local}' (FORMAT parquet)")
    store.write_file("bronze/x/1.parquet", local)
    store.write_file("bronze/x/2.parquet", local)
    con = duckdb.connect()
    store.prepare_duckdb(con)
    assert con.execute("SELECT current_setting('autoinstall_known_extensions')").fetchone()[0] is False
    total, n = con.execute(f"SELECT sum(amount)::VARCHAR, count(*) FROM read_parquet('{store.uri('bronze/x')}/*.parquet')"
                           ).fetchone()
    assert (total, n) == ("12375.00", 200)
    secrets = con.execute("SELECT secret_string FROM duckdb_secrets()").fetchall()
    assert store.credentials()[1] not in repr(secrets), "DuckDB must redact the secret key"


@pytest.mark.parametrize("lake", ["local", "s3"])
def test_every_lake_prepares_a_duckdb_connection_through_the_storage_protocol(lake: str, tmp_path: Path,
                                                                            request: pytest.FixtureRequest) -> None:
    """`Storage.prepare_duckdb` is declared: callers call it on any lake, no `getattr` probing."""
    storage = open_storage(str(tmp_path / "lake")) if lake == "local" else request.getfixturevalue("store")
    local = tmp_path / "t.parquet"
    duckdb.sql(f"COPY (SELECT range AS n FROM range(10)) TO '{local}' (FORMAT parquet)")
    storage.write_file("bronze/x/1.parquet", local)
    con = duckdb.connect()
    storage.prepare_duckdb(con)
    assert con.execute(f"SELECT count(*) FROM read_parquet('{storage.uri('bronze/x/1.parquet')}')").fetchone() == (10,)


def test_publish_on_s3_writes_tables_then_the_catalog(store: S3Storage, tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE SCHEMA gold; CREATE TABLE gold.mart_a AS SELECT 1 AS x; "
                "CREATE TABLE gold.mart_b AS SELECT 2.50::DECIMAL(18,2) AS amount")
    con.close()
    order: list[str] = []
    write_file, write_bytes = store.write_file, store.write_bytes
    store.write_file = lambda key, src: (order.append(key), write_file(key, src))[1]  # type: ignore[method-assign]
    store.write_bytes = lambda key, data: (order.append(key), write_bytes(key, data))[1]  # type: ignore[method-assign]
    publish(warehouse, store)
    assert order == ["marts/mart_a/data.parquet", "marts/mart_b/data.parquet", "marts/_catalog.json"]
    catalog = json.loads(store.read_bytes("marts/_catalog.json"))
    assert catalog["tables"]["mart_b"]["rows"] == 1
    assert set(published_tables(store)) == {"mart_a", "mart_b"}


def test_wrong_secret_is_a_clear_error_without_the_secret(store: S3Storage, monkeypatch, s3_server) -> None:
    monkeypatch.setenv(SECRET_ENV, "definitely-wrong-secret")
    with pytest.raises(LakeAccessError) as err:
        store.list("raw")
    msg = str(err.value)
    assert s3_server.endpoint in msg and KEY_ENV in msg and SECRET_ENV in msg and "rejected" in msg
    assert "definitely-wrong-secret" not in msg and s3_server.secret_key not in msg
    assert "definitely-wrong-secret" not in repr(store)


def test_unknown_key_and_missing_env(store: S3Storage, monkeypatch, s3_server) -> None:
    monkeypatch.setenv(KEY_ENV, "NOSUCHKEY")
    with pytest.raises(LakeAccessError, match="InvalidAccessKeyId"):
        store.write_bytes("x", b"1")
    fresh = S3Storage(store.root, endpoint=s3_server.endpoint, access_key_env=KEY_ENV, secret_key_env=SECRET_ENV)
    monkeypatch.delenv(SECRET_ENV)
    with pytest.raises(LakeAccessError, match=f"{SECRET_ENV} is not set"):
        fresh.exists("x")


def test_unreachable_endpoint_and_missing_bucket(s3_server, s3_env) -> None:
    down = S3Storage("s3://b/p", endpoint="http://127.0.0.1:9", access_key_env=KEY_ENV, secret_key_env=SECRET_ENV)
    down._client.meta.config.retries = {"max_attempts": 1}
    with pytest.raises(LakeAccessError, match=r"cannot connect to the endpoint.*\[lake\] endpoint"):
        down.read_bytes("x")
    nobucket = S3Storage("s3://no-such-bucket-cf/p", endpoint=s3_server.endpoint,
                         access_key_env=KEY_ENV, secret_key_env=SECRET_ENV)
    with pytest.raises(LakeAccessError, match="no-such-bucket-cf"):
        nobucket.read_bytes("x")


def test_httpfs_loads_without_network() -> None:
    con = duckdb.connect()
    load_httpfs(con)
    loaded = con.execute("SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'").fetchone()
    assert loaded == (True,)
