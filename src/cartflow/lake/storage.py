"""One storage interface for the lake, so no other module assumes a local path.

Keys are POSIX paths relative to the lake root (`raw/online_retail/...`). Every write
is atomic: a reader sees the old object or the new one, never half of either.
"""

from __future__ import annotations

import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, ContextManager, Iterator, Protocol

if TYPE_CHECKING:
    import duckdb

    from cartflow.config import Project


class Storage(Protocol):
    root: str

    def uri(self, key: str) -> str:
        """A URI DuckDB (and Spark) can read the key from."""

    def exists(self, key: str) -> bool: ...

    def read_bytes(self, key: str) -> bytes: ...

    def write_bytes(self, key: str, data: bytes) -> None: ...

    def write_file(self, key: str, source: Path) -> None:
        """Upload/copy a finished local file to `key`, atomically."""

    def list(self, prefix: str) -> list[str]:
        """Keys under `prefix`, sorted."""

    def delete(self, key: str) -> None: ...

    def move(self, key: str, new_key: str) -> None: ...

    def size(self, key: str) -> int: ...

    def modified(self, key: str) -> float:
        """Last modification time (epoch seconds): a files source takes a drop once it settled."""

    def local_copy(self, key: str) -> ContextManager[Path]:
        """A local file with the key's bytes, for readers that need a path (CSV parsers)."""

    def prepare_duckdb(self, con: duckdb.DuckDBPyConnection) -> None:
        """Make `con` able to read `uri(...)` of this lake (S3: httpfs and a secret; local: nothing)."""


class LocalStorage:
    """The embedded default: a directory on this machine."""

    def __init__(self, root: str | Path) -> None:
        self.path = Path(root).resolve()
        self.root = str(self.path)

    def _p(self, key: str) -> Path:
        return self.path / key

    def uri(self, key: str) -> str:
        return str(self._p(key))

    def exists(self, key: str) -> bool:
        return self._p(key).exists()

    def read_bytes(self, key: str) -> bytes:
        return self._p(key).read_bytes()

    def write_bytes(self, key: str, data: bytes) -> None:
        with self.staging(key) as tmp:
            tmp.write_bytes(data)

    def write_file(self, key: str, source: Path) -> None:
        target = self._p(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        shutil.copyfile(source, tmp)
        _fsync(tmp)
        os.replace(tmp, target)

    def staging(self, key: str) -> _Staging:
        """A temporary path beside `key` that becomes `key` atomically on success."""
        return _Staging(self._p(key))

    def list(self, prefix: str) -> list[str]:
        base = self._p(prefix)
        if base.is_file():
            return [prefix]
        if not base.is_dir():
            return []
        keys = [
            str(p.relative_to(self.path).as_posix())
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        ]
        return sorted(keys)

    def delete(self, key: str) -> None:
        p = self._p(key)
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)

    def move(self, key: str, new_key: str) -> None:
        target = self._p(new_key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._p(key), target)

    def size(self, key: str) -> int:
        return self._p(key).stat().st_size

    def modified(self, key: str) -> float:
        return self._p(key).stat().st_mtime

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        yield self._p(key)

    def prepare_duckdb(self, con: duckdb.DuckDBPyConnection) -> None:
        """Nothing to do: DuckDB reads local paths as they are."""


class _Staging:
    def __init__(self, target: Path) -> None:
        self.target = target
        self.tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        return self.tmp

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is None:
            _fsync(self.tmp)
            os.replace(self.tmp, self.target)
        else:
            self.tmp.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_storage(root: str, **options: str | None) -> Storage:
    """Pick the backend from the URI scheme."""
    if root.startswith("s3://"):
        from cartflow.lake.s3 import S3Storage  # imported lazily: only S3 projects need it

        return S3Storage(root, **options)
    if "://" in root and not root.startswith("file://"):
        raise ValueError(f"lake root {root!r}: unsupported scheme (allowed: a local path, file://, s3://)")
    return LocalStorage(root.removeprefix("file://"))



def open_lake(project: Project) -> Storage:
    """The lake a project's `[lake]` section selects: a local directory or an S3 prefix."""
    lake = project.config.lake
    if project.lake_is_local:
        return open_storage(project.lake_uri)
    return open_storage(project.lake_uri, endpoint=lake.endpoint, region=lake.region,
                        access_key_env=lake.access_key_env, secret_key_env=lake.secret_key_env)
