"""The lake on any S3 endpoint (AWS S3, SeaweedFS, MinIO, Ceph…), behind the `Storage` protocol.

Why each choice:
* Every object write is one PUT (or one multipart upload, which S3 also makes visible
  only when it completes), so a reader sees the old object or the new one, never half.
  Publishing writes each table object first and `marts/_catalog.json` last: the catalog
  is the pointer readers follow.
* Credentials come from the env vars named in `[lake]` (`access_key_env`,
  `secret_key_env`, optional `session_token_env`), else from boto3's default chain
  (instance profile, `~/.aws`), so EMR/Glue roles work unchanged. They are never put in
  a message, a repr or a log line.
* DuckDB reads the lake through httpfs, loaded from the `duckdb-extension-httpfs` wheel
  (never downloaded) by `prepare_duckdb`, with a DuckDB secret scoped to the bucket.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

import duckdb

#: botocore error codes that mean "these credentials are wrong", not "the object is missing"
_AUTH_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken",
               "ExpiredToken", "AuthorizationHeaderMalformed", "InvalidSecurity", "403", "Forbidden"}
_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}
_MULTIPART_THRESHOLD = 64 * 1024 * 1024


class LakeAccessError(Exception):
    """The S3 lake cannot be used (credentials, endpoint, bucket); the message says what to fix."""


class S3Storage:
    """`s3://bucket/prefix` as a lake root. Keys are POSIX paths below the prefix."""

    def __init__(self, root: str, *, endpoint: str | None = None, region: str | None = "us-east-1",
                 access_key_env: str | None = "AWS_ACCESS_KEY_ID",
                 secret_key_env: str | None = "AWS_SECRET_ACCESS_KEY",
                 session_token_env: str | None = "AWS_SESSION_TOKEN", **_: Any) -> None:
        parsed = urlparse(root)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"lake root {root!r}: expected s3://bucket/prefix")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.root = f"s3://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self.region = region or "us-east-1"
        self.access_key_env = access_key_env or "AWS_ACCESS_KEY_ID"
        self.secret_key_env = secret_key_env or "AWS_SECRET_ACCESS_KEY"
        self.session_token_env = session_token_env or "AWS_SESSION_TOKEN"
        self._client_obj: Any = None
        self._transfer: Any = None

    def __repr__(self) -> str:  # no credentials, ever
        return f"S3Storage({self.root!r}, endpoint={self.endpoint or 'AWS'!r}, region={self.region!r})"

    # -- connection ----------------------------------------------------------------
    @property
    def where(self) -> str:
        return f"{self.root} at {self.endpoint or f'AWS S3 ({self.region})'}"

    def credentials(self) -> tuple[str, str, str | None]:
        """(key id, secret, session token) from the configured env vars, else boto3's chain."""
        key, secret = os.environ.get(self.access_key_env), os.environ.get(self.secret_key_env)
        token = os.environ.get(self.session_token_env) or None
        if key and secret:
            return key, secret, token
        if key or secret:
            missing = self.secret_key_env if key else self.access_key_env
            raise LakeAccessError(f"S3 lake {self.where}: {missing} is not set (its pair is): "
                                  f"set both {self.access_key_env} and {self.secret_key_env}")
        boto3 = _boto3()
        found = boto3.session.Session(region_name=self.region).get_credentials()
        if found is None:
            raise LakeAccessError(
                f"S3 lake {self.where}: no credentials: set {self.access_key_env} and "
                f"{self.secret_key_env} (names set by [lake] access_key_env / secret_key_env in "
                "cartflow.toml), or run where an AWS profile or instance role provides them")
        frozen = found.get_frozen_credentials()
        return frozen.access_key, frozen.secret_key, frozen.token

    @property
    def _client(self) -> Any:
        if self._client_obj is None:
            boto3 = _boto3()
            from botocore.config import Config

            key, secret, token = self.credentials()
            config = Config(
                region_name=self.region,
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=10, read_timeout=120,
                # path style works on every S3-compatible server; AWS keeps virtual hosts
                s3={"addressing_style": "path" if self.endpoint else "auto"},
                # boto3 >= 1.36 adds CRC checksums many non-AWS servers reject; only send when required
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
            self._client_obj = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=key,
                                            aws_secret_access_key=secret, aws_session_token=token,
                                            config=config)
        return self._client_obj

    def _k(self, key: str) -> str:
        key = key.strip("/")
        return f"{self.prefix}/{key}" if self.prefix and key else (self.prefix or key)

    def _call(self, what: str, key: str, fn: Any, **kwargs: Any) -> Any:
        """Run one S3 call, turning credential/endpoint/bucket failures into actionable errors."""
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            raise self._explain(exc, what, key) from None
        except EndpointConnectionError:
            raise LakeAccessError(
                f"S3 lake {self.where}: cannot connect to the endpoint while trying to {what} "
                f"{key!r}: check [lake] endpoint in cartflow.toml and that the server is running") from None
        except NoCredentialsError:
            raise LakeAccessError(f"S3 lake {self.where}: no credentials: set {self.access_key_env} "
                                  f"and {self.secret_key_env}") from None
        except BotoCoreError as exc:
            raise LakeAccessError(f"S3 lake {self.where}: {what} {key!r} failed: {exc}") from None

    def _explain(self, exc: Any, what: str, key: str) -> Exception:
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        if code in _AUTH_CODES or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403:
            return LakeAccessError(
                f"S3 lake {self.where} rejected the credentials ({code or 'HTTP 403'}) while trying to "
                f"{what} {key!r}: set {self.access_key_env} and {self.secret_key_env} to a key pair "
                f"that may read and write s3://{self.bucket}/{self.prefix} (the variable names are "
                "[lake] access_key_env / secret_key_env in cartflow.toml)")
        if code == "NoSuchBucket":
            return LakeAccessError(f"S3 lake {self.where}: bucket {self.bucket!r} does not exist: "
                                   "create it, or fix [lake] root in cartflow.toml")
        return LakeAccessError(f"S3 lake {self.where}: {what} {key!r} failed: {code}: {err.get('Message', exc)}")

    def check(self) -> None:
        """Fail fast with a clear message when the bucket or credentials are wrong."""
        self._call("list", self.prefix or "/", self._client.list_objects_v2, Bucket=self.bucket,
                   Prefix=self._k(""), MaxKeys=1)

    # -- the Storage protocol -----------------------------------------------------
    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._k(key)}"

    def exists(self, key: str) -> bool:
        if self._head(key) is not None:
            return True
        found = self._call("list", key, self._client.list_objects_v2, Bucket=self.bucket,
                           Prefix=self._k(key).rstrip("/") + "/", MaxKeys=1)
        return bool(found.get("KeyCount"))

    def _head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        def head() -> dict[str, Any] | None:
            try:
                return self._client.head_object(Bucket=self.bucket, Key=self._k(key))
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code", "")) in _MISSING_CODES:
                    return None
                raise

        return self._call("read", key, head)  # an unreachable endpoint is a LakeAccessError here too

    def read_bytes(self, key: str) -> bytes:
        body = self._call("read", key, self._client.get_object, Bucket=self.bucket, Key=self._k(key))
        return body["Body"].read()

    def write_bytes(self, key: str, data: bytes) -> None:
        self._call("write", key, self._client.put_object, Bucket=self.bucket, Key=self._k(key), Body=data)

    def write_file(self, key: str, source: Path) -> None:
        """One PUT, or one multipart upload above 64 MiB: S3 shows the object only when complete."""
        self._call("write", key, self._client.upload_file, Filename=str(source), Bucket=self.bucket,
                   Key=self._k(key), Config=self._transfer_config())

    def _transfer_config(self) -> Any:
        if self._transfer is None:
            from boto3.s3.transfer import TransferConfig

            self._transfer = TransferConfig(multipart_threshold=_MULTIPART_THRESHOLD,
                                            multipart_chunksize=_MULTIPART_THRESHOLD)
        return self._transfer

    def list(self, prefix: str) -> list[str]:
        """Keys under `prefix` (or `[prefix]` when it is an object), sorted; dot-files skipped like local."""
        prefix = prefix.strip("/")
        if prefix and self._head(prefix) is not None:
            return [prefix]
        start = self._k(prefix)
        start = start + "/" if start else ""
        keys: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        pages = self._call("list", prefix, lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=start)))
        strip = len(self.prefix) + 1 if self.prefix else 0
        for page in pages:
            for obj in page.get("Contents", []):
                key = obj["Key"][strip:]
                if key.endswith("/") or key.rsplit("/", 1)[-1].startswith("."):
                    continue
                keys.append(key)
        return sorted(keys)

    def delete(self, key: str) -> None:
        """Delete an object, or every object under a prefix (as LocalStorage removes a directory)."""
        keys = self.list(key)
        for i in range(0, len(keys), 1000):
            chunk = [{"Key": self._k(k)} for k in keys[i:i + 1000]]
            self._call("delete", key, self._client.delete_objects, Bucket=self.bucket,
                       Delete={"Objects": chunk, "Quiet": True})

    def move(self, key: str, new_key: str) -> None:
        """Server-side copy, then delete: `new_key` appears whole; the old key goes after it."""
        self._call("copy", key, self._client.copy, CopySource={"Bucket": self.bucket, "Key": self._k(key)},
                   Bucket=self.bucket, Key=self._k(new_key), Config=self._transfer_config())
        self._call("delete", key, self._client.delete_object, Bucket=self.bucket, Key=self._k(key))

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise FileNotFoundError(self.uri(key))
        return int(head["ContentLength"])

    def modified(self, key: str) -> float:
        head = self._head(key)
        if head is None:
            raise FileNotFoundError(self.uri(key))
        return float(head["LastModified"].timestamp())

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """Download to a private temp file (streamed, bounded memory), removed afterwards."""
        name = key.rsplit("/", 1)[-1]
        with tempfile.TemporaryDirectory(prefix="cf-s3-") as tmp:
            path = Path(tmp) / name
            self._call("read", key, self._client.download_file, Bucket=self.bucket, Key=self._k(key),
                       Filename=str(path), Config=self._transfer_config())
            yield path

    # -- DuckDB -------------------------------------------------------------------
    def prepare_duckdb(self, con: duckdb.DuckDBPyConnection) -> None:
        """Load httpfs from its wheel (never a download) and add a secret scoped to this bucket."""
        load_httpfs(con)
        con.execute(self.duckdb_secret_sql())

    def duckdb_secret_sql(self, name: str = "cartflow_lake") -> str:
        """`CREATE SECRET` for this lake. Holds the secret key: execute it, never log it."""
        key, secret, token = self.credentials()
        parts = ["TYPE s3", f"KEY_ID {_lit(key)}", f"SECRET {_lit(secret)}", f"REGION {_lit(self.region)}",
                 f"SCOPE {_lit(f's3://{self.bucket}')}"]
        if token:
            parts.append(f"SESSION_TOKEN {_lit(token)}")
        if self.endpoint:
            ep = urlparse(self.endpoint if "://" in self.endpoint else f"https://{self.endpoint}")
            parts += [f"ENDPOINT {_lit(ep.netloc)}", "URL_STYLE 'path'",
                      f"USE_SSL {'false' if ep.scheme == 'http' else 'true'}"]
        return f"CREATE OR REPLACE SECRET {name} ({', '.join(parts)})"


def load_httpfs(con: duckdb.DuckDBPyConnection) -> None:
    """httpfs from the pinned `duckdb-extension-httpfs` wheel; DuckDB may never fetch extensions itself."""
    from duckdb_extensions import import_extension

    con.execute("SET autoinstall_known_extensions = false")
    import_extension("httpfs", con=con)
    con.execute("LOAD httpfs")


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _boto3() -> Any:
    try:
        import boto3
    except ImportError:
        raise LakeAccessError("an s3:// lake needs boto3: install cartflow with the s3 extra "
                              "(`pip install 'cartflow[s3]'`, or `uv sync --extra s3`)") from None
    return boto3
