"""Shared fixtures: projects in temporary directories, generated data, CSV helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from cartflow.config import Project, load_project
from cartflow.scaffold import init_project

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def write_csv(path: Path, rows: list[str], header: str = HEADER, encoding: str = "latin-1") -> Path:
    """A Kaggle-style CSV (CRLF) from already formatted lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode(encoding))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Project:
    init_project(tmp_path / "shop")
    return load_project(tmp_path / "shop")


@pytest.fixture
def landing(project: Project) -> Path:
    return project.root / "landing" / "online_retail"
