"""Fixtures for the S3 lake: one SeaweedFS server per test session, one fresh prefix per test."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from cartflow.config import CONFIG_FILE, Project, load_project
from s3_server import S3Server, start_seaweedfs

#: deliberately not the AWS_* names, to prove `[lake] access_key_env/secret_key_env` are honoured
KEY_ENV = "CF_TEST_S3_KEY"
SECRET_ENV = "CF_TEST_S3_SECRET"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = start_seaweedfs()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_root(s3_server: S3Server, request: pytest.FixtureRequest) -> str:
    """`s3://bucket/<test>-<uuid>`: tests share the server, never each other's objects."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40].strip("-")
    return f"s3://{s3_server.bucket}/{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = s3_server.env(KEY_ENV, SECRET_ENV)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def use_s3_lake(project_dir: Path, server: S3Server, root: str) -> Project:
    """Point a scaffolded project's `[lake]` at the S3 server (config only; credentials via env)."""
    path = project_dir / CONFIG_FILE
    text = path.read_text(encoding="utf-8")
    lake = (f'root = "{root}"\nendpoint = "{server.endpoint}"\nregion = "{server.region}"\n'
            f'access_key_env = "{KEY_ENV}"\nsecret_key_env = "{SECRET_ENV}"\n')
    new, n = re.subn(r'(?m)^root = "lake"\n', lake, text, count=1)
    assert n == 1, "the scaffolded cartflow.toml changed: update use_s3_lake"
    path.write_text(new, encoding="utf-8")
    return load_project(project_dir)


@pytest.fixture
def s3_project(project: Project, s3_server: S3Server, s3_root: str, s3_env: dict[str, str]) -> Project:
    return use_s3_lake(project.root, s3_server, s3_root)
