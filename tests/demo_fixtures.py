"""The published demo lake, built once per test session (a pytest plugin, see conftest).

The dashboard, browser and notebook tests all read the same generated project: `published_demo`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cartflow.config import Project, load_project
from cartflow.demo import prepare_demo
from cartflow.pipeline.run import run_pipeline

SCALE = 0.03


def build_published_demo(root: Path) -> Project:
    """Generated Online Retail data, run through the whole pipeline and published."""
    prepare_demo(root / "shop", scale=SCALE, seed=7)
    project = load_project(root / "shop")
    result = run_pipeline(project, trigger="test")
    assert result.status == "succeeded", result.error
    return project


@pytest.fixture(scope="session")
def published_demo(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """One published demo lake per session, whichever test module asks first."""
    return build_published_demo(tmp_path_factory.mktemp("dashboard-demo"))
