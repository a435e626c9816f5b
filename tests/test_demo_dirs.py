"""Where the demo and the examples write, and the sandbox's secrets for a shell (issue 16)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cartflow.sandbox.server import DSN_ENV, KEY_ENV, STATE_FILE
from cartflow.sandbox.workdir import NotOurs, replace_project_dir
from cartflow.scaffold import init_project

CLI = [sys.executable, "-m", "cartflow.cli"]
REPO = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize("content", ["someone's notes", None])
def test_a_directory_the_demo_did_not_make_is_refused_and_kept(tmp_path: Path, content: str | None) -> None:
    target = tmp_path / "demo"
    if content is None:
        init_project(target, name="shop")  # a real project of the user's
    else:
        target.mkdir()
        (target / "notes.txt").write_text(content)
    before = sorted(p.relative_to(target) for p in target.rglob("*"))
    with pytest.raises(NotOurs, match="pass another --dir"):
        replace_project_dir(target, "cartflow-demo")
    assert sorted(p.relative_to(target) for p in target.rglob("*")) == before


def test_an_empty_or_earlier_demo_directory_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    replace_project_dir(tmp_path / "empty", "cartflow-demo")
    init_project(tmp_path / "demo", name="cartflow-demo")
    replace_project_dir(tmp_path / "demo", "cartflow-demo")
    replace_project_dir(tmp_path / "absent", "cartflow-demo")
    assert not (tmp_path / "empty").exists() and not (tmp_path / "demo").exists()


def test_cartflow_demo_refuses_a_project_of_the_users(tmp_path: Path) -> None:
    init_project(tmp_path / "shop", name="shop")
    result = cli("demo", "--dir", str(tmp_path / "shop"), "--scale", "0.01")
    assert result.returncode == 1 and "is not a previous cartflow-demo project" in " ".join(result.stderr.split())
    assert (tmp_path / "shop" / "cartflow.toml").read_text().count('name = "shop"') == 1


@pytest.mark.parametrize("script", ["multi-source", "orders-customers-products"])
def test_the_examples_refuse_a_directory_they_did_not_make(tmp_path: Path, script: str) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("mine")
    result = subprocess.run([sys.executable, str(REPO / "examples" / script / "run.py"), "--dir",
                             str(tmp_path / "mine")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "pass another --dir" in " ".join(result.stdout.split())
    assert (tmp_path / "mine" / "keep.txt").read_text() == "mine"


def test_sandbox_env_prints_exports_a_shell_can_eval(tmp_path: Path) -> None:
    """`eval "$(cartflow sandbox env)"` sets exactly what the example's cartflow.toml reads, quoting intact."""
    dsn = "postgresql://postgres:p'w d$x@/postgres?host=/tmp/a b/pgdata"
    state = {"customers_url": "http://127.0.0.1:1/customers", "fx_url": "http://127.0.0.1:2",
             "products_url": "http://127.0.0.1:3/products", "postgres_dsn": dsn, "pg_schema": "public",
             "api_key": "k;ey", "pid": 1, "ports": {"customers": 1, "fx": 2, "products": 3}}
    (tmp_path / "sbx").mkdir()
    (tmp_path / "sbx" / STATE_FILE).write_text(json.dumps(state))
    shell = f'eval "$({sys.executable} -m cartflow.cli sandbox env --dir {tmp_path / "sbx"})" && ' \
            f'printf "%s\\n%s\\n" "${KEY_ENV}" "${DSN_ENV}"'
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["k;ey", dsn]


def test_sandbox_env_without_a_sandbox_says_how_to_start_one(tmp_path: Path) -> None:
    result = cli("sandbox", "env", "--dir", str(tmp_path / "none"))
    assert result.returncode == 1 and "cartflow sandbox up" in " ".join(result.stderr.split()) and not result.stdout
