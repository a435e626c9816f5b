"""Every command the docs show runs, and prints what they show (issue 16: the docs cannot drift).

The pages are README.md, docs/*.md and examples/*/README.md; their commands are the fenced
`bash`/`sh`/`console` blocks (tests/doc_commands.py). Each page's commands run in order in
one shell session (tests/doc_shell.py), as a reader types them, in a directory that looks
like the checkout (`.venv`, `Makefile`, `examples/`, `docs/` are links to it), with HOME
and TMPDIR inside it, at COLUMNS=80. Each command must exit as the page says (0 unless its
comment says `# exits N`), and where the page shows output, its key lines (those without
numbers: titles, headers, messages) must appear.

What cannot run as written is listed below with the reason, per page: SKIP (not run),
VARIANTS (run as another command) and `adapt` (rules for every page). An entry that
matches no command any more fails the test, so the lists cannot go stale either. Servers
(`cartflow serve`, `consume`) run in the background until the page's end, then get SIGTERM
and must stop cleanly (exit 0, or by that signal after shutting down); watchers (`watch`, `scheduler`) must say what they do at start and
stop cleanly on SIGTERM.

The pages that use a project of a reader's share one, `shop` (Online Retail at scale 0.02,
run once), made as the README makes it. The pages that make their own (README.md from
`cartflow init` on, extending.md, the examples: OWN_PROJECT) run in directories of their
own, two at a time in threads beside the shared project's pages: the module's time is
mostly SQLMesh starting in one process after another, and side by side it takes about half.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
import tomllib
import urllib.error
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from doc_commands import Command, FileBlock, blocks, commands, key_lines, shows, steps
from doc_shell import Background, Result, Shell

REPO = Path(__file__).resolve().parents[1]
PAGES = ["README.md", *sorted(f"docs/{p.name}" for p in (REPO / "docs").glob("*.md")),
         *sorted(f"examples/{p.parent.name}/README.md" for p in (REPO / "examples").glob("*/README.md"))]
SCALE = "0.02"
"""Online Retail scale of every generated data set here (10,838 lines): the docs' scale 1 takes minutes."""
LINKED = (".venv", "Makefile", "pyproject.toml", "uv.lock", "examples", "docs", "README.md")
"""What the checkout-like directory links to: what documented commands read from the checkout."""
COMMAND_TIMEOUT = 900.0

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

# -- what cannot run as written ----------------------------------------------------------------
SKIP: dict[tuple[str, str], str] = {
    ("README.md", "make test"): "the whole test suite, this test included",
    ("README.md", "make test-fast"): "the suite's fast tier (minutes of tests that have their own runs in CI)",
    ("README.md", "make lint"): "CI runs it as a step of its own before make test",
    ("docs/operations.md", 'pip install "apache-airflow==3.3.2" cartflow'):
        "installs Airflow from PyPI; the DAG factory is tested by tests/test_ops_orchestrators.py",
    ("docs/benchmarks.md", "make bench"): "the benchmarks take 45 minutes (they are not tests)",
    ("docs/benchmarks.md", "make bench-quick"): "the benchmarks at scale 1 take 10 minutes (they are not tests)",
    ("docs/benchmarks.md", 'make bench BENCH_ARGS="--runs 3"'): "three rounds of the benchmarks: over an hour",
    ("docs/benchmarks.md", "uv run python -m benchmarks --scales 10 --skip pyspark,pandas,streaming,multisource,light"):
        "the benchmarks at scale 10 take many minutes (they are not tests)",
    ("docs/benchmarks.md", "uv run python -m benchmarks --render benchmarks/results.json"):
        "rewrites docs/benchmarks.md, this page, in the checkout (the page is its output)",
}

VARIANTS: dict[tuple[str, str], tuple[str, str]] = {
    ("docs/deploy.md", "cartflow catalog --ddl athena > marts.sql"):
        ("cartflow catalog --ddl athena --location s3://acme-lake/shop > marts.sql",
         "the page's lake is on S3, the shared project's is local: the location as the page's third command names it"),
    ("docs/deploy.md", "cartflow catalog --ddl trino --trino-catalog hive > marts-trino.sql"):
        ("cartflow catalog --ddl trino --trino-catalog hive --location s3://acme-lake/shop > marts-trino.sql",
         "the same: an S3 location for a local lake"),
    ("docs/operations.md", "cartflow runs show 20260301"):
        ("cartflow runs show {run_id}", "the page's run id is an example: this project's latest run"),
    ("docs/operations.md", "cartflow dlq show quarantine 2dd5e04a:17"):
        ("cartflow dlq show quarantine {quarantine_id}", "the page's item id is an example: one of this project's"),
    ("docs/operations.md", "cartflow dlq replay files online_retail/day2.csv@3fa2c1d0"):
        ("cartflow dlq replay files {path_file_id}", "the page's id is an example: this project's rejected path file"),
}

def adapt(text: str, ports: Ports) -> str:
    """The rules for every page, applied to one command:

    * `cartflow generate online-retail` and `cartflow demo` run at --scale 0.02, `make demo` with
      DEMO_ARGS="--scale 0.02" and its venv taken as made (-o .venv/.synced): scale 1 takes minutes;
    * `cartflow sandbox up` gets a free --port-base, and `cartflow serve` a free [api] port
      (CARTFLOW__API__PORT; 127.0.0.1:8000 in URLs follows): the machine is shared.
    """
    if re.match(r"^(\.venv/bin/)?cartflow (generate online-retail|demo)\b", text):
        text = re.sub(r"--scale\s+\S+", f"--scale {SCALE}", text) if "--scale" in text else \
            re.sub(r"^(\S*cartflow (generate online-retail|demo))", rf"\1 --scale {SCALE}", text)
    if re.match(r"^make demo\b", text) and "DEMO_ARGS" not in text:
        text = text.replace("make demo", f'make -o .venv/.synced demo DEMO_ARGS="--scale {SCALE}"', 1)
    if re.match(r"^(\.venv/bin/)?cartflow sandbox up\b", text) and "--port-base" not in text:
        text = re.sub(r"sandbox up\b", f"sandbox up --port-base {ports.sandbox}", text, count=1)
    return re.sub(r"\b(127\.0\.0\.1|localhost):8000\b", rf"\1:{ports.api}", text)


# -- what each page's session starts with ------------------------------------------------------
def given_retail_csv(work: Path) -> None:
    """streaming.md sends `data/online_retail.csv`, the Kaggle file a reader has: a small generated one."""
    from cartflow.sandbox.retail_generator import generate_online_retail

    generate_online_retail(work / "data", scale=0.01, seed=7)


def given_bad_files(work: Path) -> None:
    """operations.md's dead-letter commands name files its source rejected: `online_retail/day1.csv` in
    the lake inbox (empty: `empty_file`), `online_retail/day2.csv@…` in the source's path (a header
    without the entity's columns: `missing_column`). An hour old: settled, taken by the next run."""
    an_hour_ago = time.time() - 3600
    for folder, name, content in ((work / "shop" / "lake" / "landing" / "online_retail", "day1.csv", b""),
                                  (work / "shop" / "landing" / "online_retail", "day2.csv", b"Invoice,Total\r\n1,2\r\n")):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
        os.utime(folder / name, (an_hour_ago, an_hour_ago))


def given_extending_session(work: Path) -> None:
    """extending.md's session: "a project made by `cartflow init shop`, ten days of `cartflow generate
    online-retail --scale 0.01 --split daily` in its inbox", of its own (its models change)."""
    from cartflow.sandbox.retail_generator import generate_online_retail
    from cartflow.scaffold import init_project

    shop = work / "extending" / "shop"
    init_project(shop)
    days = generate_online_retail(work / "extending" / "days", scale=0.01, split="daily")
    for day in sorted(days.files)[:10]:
        os.replace(day, shop / "landing" / "online_retail" / Path(day).name)
        os.utime(shop / "landing" / "online_retail" / Path(day).name, (time.time() - 3600,) * 2)


GIVEN: dict[str, Callable[[Path], None]] = {
    "docs/streaming.md": given_retail_csv,
    "docs/operations.md": given_bad_files,
    "docs/extending.md": given_extending_session,
}
CWD = {"docs/operations.md": "shop", "docs/deploy.md": "shop", "docs/extending.md": "extending"}
"""Pages whose commands name no --project run inside the project, as the page assumes; extending.md
has a project of its own."""

OWN_PROJECT = {"docs/extending.md": "ext", "README.md": "readme", "examples/multi-source/README.md": "ms",
               "examples/orders-customers-products/README.md": "ocp", "examples/shopify/README.md": "shopify"}
"""Pages that make their own project (README.md from `cartflow init` on, extending.md its own session,
the examples theirs): each runs in a checkout-like directory of its own, with its own ports, in a
thread started with the module's first test, two at a time (longest first), while the shared
project's pages run; their tests, last in the module, wait for them. Most of a page's time is
SQLMesh starting in one process after another: side by side, the module takes about half as long.
Each name's directory is short: the examples' embedded PostgreSQL puts its socket under it (at most
107 bytes for a socket's path)."""
README_STARTS_BARE = {"README.md"}
"""README.md starts where a reader does: no venv on PATH (its second block activates it)."""


# -- what a page's session did between its commands, which the page says in words ------------
def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path} no longer holds {old!r}: update the step"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def add_a_column_to_the_example_mart(project: Path) -> None:
    _edit(project / "models" / "mart_revenue_by_country.sql", "CAST(orders AS BIGINT) AS orders\n",
          "CAST(orders AS BIGINT) AS orders,\n  CAST(net_revenue / NULLIF(orders, 0) AS DECIMAL(18, 3)) AS revenue_per_order\n")


def write_a_model_reading_no_model(project: Path) -> None:
    (project / "models" / "broken.sql").write_text("MODEL (name gold.mart_broken, kind FULL);\n\nSELECT *\n"
                                                   "FROM gold.fct_orders\n", encoding="utf-8")


def remove_the_broken_model(project: Path) -> None:
    (project / "models" / "broken.sql").unlink()


def audit_and_change_the_marts(project: Path) -> None:
    _edit(project / "models" / "mart_orders_per_customer.sql", "audits (unique_values(columns := (customer_id)))",
          "audits (unique_values(columns := (customer_id)), positive_orders)")
    _edit(project / "models" / "mart_revenue_by_country.sql", "WHERE country IS NOT NULL",
          "WHERE country IS NOT NULL AND net_amount > 5")


STEPS: dict[tuple[str, str, int], tuple[Callable[[Path], None], str]] = {
    ("docs/extending.md", "cartflow plan --project shop", 2):
        (add_a_column_to_the_example_mart, "the page adds revenue_per_order to the example mart before this plan"),
    ("docs/extending.md", "cartflow run --project shop", 2):
        (write_a_model_reading_no_model, "the page's models/broken.sql reads gold.fct_orders, at line 4"),
    ("docs/extending.md", "cartflow test --project shop", 1):
        (remove_the_broken_model, "the page goes on without the broken model"),
    ("docs/extending.md", "cartflow test --project shop", 2):
        (audit_and_change_the_marts, "the page adds positive_orders to gold.mart_orders_per_customer's audits and "
                                     "makes the revenue mart leave out lines of 5 or less"),
}
"""Before the n-th time a page shows a command (1-based), what its session did, in the page's words."""


# -- the session -------------------------------------------------------------------------------
@dataclass
class Ports:
    api: int
    sandbox: int


_HANDED_OUT: set[int] = set()
_PORTS_LOCK = threading.Lock()


def free_ports(count: int) -> int:
    """The first of `count` consecutive free ports on 127.0.0.1, never one handed out before in this
    process (pages run side by side: a range handed out may not be bound yet)."""
    with _PORTS_LOCK:
        base = _first_free(count)
        _HANDED_OUT.add(base)
        return base


def _first_free(count: int) -> int:
    for base in range(21000 + os.getpid() % 997 * 7, 60000, 11):
        if base in _HANDED_OUT:
            continue
        try:
            socks = [socket.socket() for _ in range(count)]
            for i, s in enumerate(socks):
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free ports")


def new_ports() -> Ports:
    base = free_ports(4)
    return Ports(api=base, sandbox=base + 1)


def checkout_like(name: str) -> Path:
    """A directory that reads like the checkout (links), but whatever the docs write stays in it.

    Not under pytest's own temporary directory: that one is private (0700, and every pytest
    session on the machine sets it so again), while the embedded PostgreSQL, started as root,
    runs as a user of its own that must reach `.venv`'s binaries through this directory.
    """
    work = Path(tempfile.mkdtemp(prefix=f"cartflow-docs-{name}-"))
    work.chmod(0o755)
    for linked in LINKED:
        if (REPO / linked).exists():
            (work / linked).symlink_to(REPO / linked)
    for folder in ("home", "tmp"):
        (work / folder).mkdir()
    return work


def base_env(work: Path, ports: Ports, activated: bool) -> dict[str, str]:
    venv_bin = str(REPO / ".venv" / "bin")
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep)
            if p and Path(p).resolve() != Path(venv_bin).resolve()]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CARTFLOW", "PYTEST", "VIRTUAL_ENV", "MULTI_SOURCE_", "OCP_", "COV_"))}
    env.update(HOME=str(work / "home"), TMPDIR=str(work / "tmp"), COLUMNS="80", LINES="50", TERM="dumb",
               NO_COLOR="1", CARTFLOW__API__PORT=str(ports.api),
               PATH=os.pathsep.join(([str(work / ".venv" / "bin")] if activated else []) + path))
    if activated:  # what `source .venv/bin/activate` does, which README.md tells the reader
        env["VIRTUAL_ENV"] = str(REPO / ".venv")
    return env


def prepare_shop(shell: Shell) -> None:
    """The shared project, made with the README's commands."""
    for text in ("cartflow init shop", f"cartflow generate online-retail --scale {SCALE} --out shop/landing/online_retail",
                 "cartflow run --project shop"):
        result = shell.run(text, COMMAND_TIMEOUT)
        assert result.code == 0, f"preparing the shared project: {text} exited {result.code}\n{result.output}"


def remove_unless_failed(work: Path, failed: bool) -> None:
    """A failure's directory stays for its reader (its path is in the failure); others go."""
    if failed:
        print(f"\nkept for inspection: {work} (each command's output: .doc-shell/*/NNN.out)")
    else:  # a server the page stopped may still be closing its files: try until nothing is left
        deadline = time.monotonic() + 30
        while work.exists() and time.monotonic() < deadline:
            shutil.rmtree(work, ignore_errors=True)
            time.sleep(0.2)


@pytest.fixture(scope="module")
def shared(request: pytest.FixtureRequest) -> Iterator[tuple[Path, Ports]]:
    work = checkout_like("shared")
    failed_before = request.session.testsfailed
    ports = new_ports()
    prepare_shop(Shell(work, base_env(work, ports, activated=True), work / ".doc-shell" / "prepare"))
    yield work, ports
    remove_unless_failed(work, request.session.testsfailed > failed_before)


# -- facts the VARIANTS use --------------------------------------------------------------------
RUN_ID = re.compile(r"\b\d{8}T\d{6}-[0-9a-f]{6}\b")


def _json_list(shell: Shell, text: str) -> list[dict]:
    result = shell.run(text, COMMAND_TIMEOUT)
    assert result.code == 0, f"{text}: {result.output}"
    return json.loads(result.output[result.output.index("["):])


def facts(shell: Shell, name: str) -> str:
    """Ids of this project's own runs and dead letters, for the pages' example ids ("" if none)."""
    if name == "run_id":
        result = shell.run("COLUMNS=200 cartflow runs", COMMAND_TIMEOUT)  # wide: ids whole whatever the table does
        return next(iter(RUN_ID.findall(result.output)), "")
    if name == "quarantine_id":
        return next((str(i["id"]) for i in _json_list(shell, "cartflow dlq list quarantine --format json")), "")
    if name == "path_file_id":
        return next((str(i["id"]) for i in _json_list(shell, "cartflow dlq list files --format json")
                     if "@" in str(i["id"])), "")
    raise KeyError(name)


# -- running a page ----------------------------------------------------------------------------
SERVICE = re.compile(r"^(?:[A-Za-z_]\w*=\S*\s+)*(?:\.venv/bin/)?cartflow (serve|consume)\b")
WATCHER = re.compile(r"^(?:[A-Za-z_]\w*=\S*\s+)*(?:\.venv/bin/)?cartflow (watch|scheduler)\b(?!.*--(once|list|help))")


def _port_of(text: str, default: int) -> int:
    match = re.search(r"--port[ =](\d+)", text)
    return int(match.group(1)) if match else default


def _serving(port: int) -> Callable[[Background], bool]:
    def ready(job: Background) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=5):
                return True
        except urllib.error.HTTPError:
            return True  # it answers (a 503 health is still a server)
        except OSError:
            return False
    return ready


def stopped_cleanly(result: Result) -> bool:
    """Exit 0, or by the SIGTERM it was sent after a graceful shutdown (uvicorn re-raises the signal),
    as a service manager expects; never with a traceback."""
    return result.code in (0, -signal.SIGTERM, 128 + signal.SIGTERM) and "Traceback" not in result.output


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def check_output(command: Command, result: Result) -> str | None:
    missing = [line for line in key_lines(command.output) if not shows(result.output, line)]
    if missing:
        return f"{command}\n  the page shows these lines, the command did not print them: {missing}\n" \
               f"  it printed:\n{_tail(result.output)}"
    return None


def _project_of(step: Command | None, shell: Shell) -> Path:
    match = re.search(r"--project[ =](\S+)", step.bare) if step else None
    return shell.cwd / match.group(1) if match else shell.cwd


def run_page(page: str, shell: Shell, ports: Ports) -> list[str]:
    """Run every command of `page` (and write the files it shows); returns what went wrong, in order."""
    problems: list[str] = []
    used: set[tuple] = set()
    seen: dict[str, int] = {}
    page_steps = steps(REPO / page, page)
    for i, command in enumerate(page_steps):
        if isinstance(command, FileBlock):
            upcoming = next((s for s in page_steps[i + 1:] if isinstance(s, Command)), None)
            target = _project_of(upcoming, shell) / command.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(command.content, encoding="utf-8")
            continue
        seen[command.bare] = seen.get(command.bare, 0) + 1
        step_key = (page, command.bare, seen[command.bare])
        if step_key in STEPS:
            used.add(step_key)
            STEPS[step_key][0](_project_of(command, shell))
        key = (page, command.bare)
        if key in SKIP:
            used.add(key)
            continue
        if key in VARIANTS:
            used.add(key)
            template = VARIANTS[key][0]
            values = {n: facts(shell, n) for n in re.findall(r"\{(\w+)\}", template)}
            if not all(values.values()):
                problems.append(f"{command}\n  its variant needs {values} from the project, and some is missing")
                continue
            text = template.format(**values)
        else:
            text = adapt(command.text, ports)
        if SERVICE.match(text):
            job = shell.start(text, _serving(_port_of(text, ports.api)), timeout=120)
            if job.process.poll() is not None:
                problems.append(f"{command}\n  exited {job.process.returncode} instead of serving:\n"
                                f"{_tail(job.output())}")
            continue
        if WATCHER.match(text):
            job = shell.start(text, lambda j: bool(j.output().strip()), timeout=120)
            said = job.output().strip()
            result = shell.stop(job)
            if not said:
                problems.append(f"{command}\n  printed nothing at start: it should say what it watches or schedules")
            if not stopped_cleanly(result):
                problems.append(f"{command}\n  exited {result.code} on SIGTERM:\n{_tail(result.output)}")
            continue
        result = shell.run(text, COMMAND_TIMEOUT)
        if result.code != command.expected_exit:
            problems.append(f"{command}\n  ran as: {text}\n  exited {result.code} (expected {command.expected_exit}):"
                            f"\n{_tail(result.output)}")
            continue
        problem = check_output(command, result)
        if problem:
            problems.append(problem)
    for job, result in shell.stop_all():
        if not stopped_cleanly(result):
            problems.append(f"{page}: {job.text}\n  exited {result.code} on SIGTERM:\n"
                            f"{_tail(result.output)}")
    stale = [k for k in (*SKIP, *VARIANTS, *STEPS) if k[0] == page and k not in used]
    problems += [f"{page}: the allow-list names `{k[1]}`, which the page no longer shows: remove the entry"
                 for k in stale]
    return problems


def _pages_with_commands() -> list[str]:
    return [p for p in PAGES if commands(REPO / p, p)]


def test_every_page_of_the_allow_lists_exists() -> None:
    missing = sorted({key[0] for key in (*SKIP, *VARIANTS, *STEPS, *((p,) for p in GIVEN))} - set(PAGES))
    assert not missing, f"allow-list entries for pages that do not exist: {missing}"


@pytest.mark.parametrize("page", [p for p in _pages_with_commands() if p not in OWN_PROJECT])
def test_page_commands_run_as_written(page: str, shared: tuple[Path, Ports]) -> None:
    work, ports = shared
    if page in GIVEN:
        GIVEN[page](work)
    shell = Shell(work / CWD.get(page, ""), base_env(work, ports, activated=True), work / ".doc-shell" / page)
    problems = run_page(page, shell, ports)
    if page.startswith("examples/"):
        problems += toml_snippets_differ(page, work)
    assert not problems, "\n\n".join(problems) + f"\n(kept: {work})"


def toml_snippets_differ(page: str, work: Path) -> list[str]:
    """An example page's `toml` blocks say what its project's cartflow.toml holds: the one the
    example wrote (under ~/cartflow-examples/), or the one beside the page."""
    name = Path(page).parent.name
    for candidate in (work / "home" / "cartflow-examples" / name / "cartflow.toml", REPO / "examples" / name /
                      "cartflow.toml"):
        if candidate.exists():
            actual = tomllib.loads(candidate.read_text(encoding="utf-8"))
            break
    else:
        return []
    problems = []
    for first, info, body in blocks((REPO / page).read_text(encoding="utf-8")):
        if info.split()[:1] == ["toml"]:
            shown = tomllib.loads("\n".join(body))
            problems += [f"{page}:{first}: {p} (in {candidate})" for p in _differences(shown, actual, "")]
    return problems


def _differences(shown: object, actual: object, where: str) -> list[str]:
    if isinstance(shown, dict):
        if not isinstance(actual, dict):
            return [f"{where} is not a table"]
        return [d for k, v in shown.items() for d in
                (_differences(v, actual[k], f"{where}.{k}".lstrip(".")) if k in actual else [f"no {where}.{k}"])]
    port = re.compile(r"(127\.0\.0\.1|localhost):\d+")  # the examples' sandboxes take free ports
    same = port.sub(r"\1:PORT", str(shown)) == port.sub(r"\1:PORT", str(actual)) if isinstance(shown, str) \
        else shown == actual
    return [] if same else [f"{where} = {shown!r}, the project has {actual!r}"]


# -- links and the API example's requests ------------------------------------------------------
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE_PATH = re.compile(r"`((?:\.\.?/)+[\w./-]+|(?:src|docs|examples|tests|benchmarks|scripts)/[\w./-]+|cartflow/[\w/]+\.py)`")
"""A path in a code span that names a file of the repository: relative to the page (`../`), the
checkout (`src/…`, `docs/…`) or the package (`cartflow/…`)."""


def _repo_path(page: str, target: str) -> Path:
    if target.startswith("."):
        return (REPO / page).parent / target
    return REPO / "src" / target if target.startswith("cartflow/") else REPO / target


def test_every_path_the_pages_name_exists() -> None:
    """A link, or a path in code, from a page into the repository resolves to something in it."""
    broken = []
    for page in PAGES:
        text = (REPO / page).read_text(encoding="utf-8")
        links = [(REPO / page).parent / t.split("#")[0] for t in LINK.findall(text) if not re.match(r"^[a-z]+:|^#", t)]
        written = {s.path for s in steps(REPO / page, page) if isinstance(s, FileBlock)}  # the page's project files
        code = [(t, _repo_path(page, t)) for t in CODE_PATH.findall(text) if t not in written]
        for target, path in [(str(p), p) for p in links] + code:
            path = path.resolve()
            if not path.is_relative_to(REPO) or not path.exists():
                broken.append(f"{page}: {target}")
    assert not broken, f"paths to nothing in the repository: {broken}"


@dataclass
class HttpRequest:
    title: str
    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def expected(self) -> int | None:
        """The status the title names (`→ 401`), or None: any 2xx."""
        match = re.search(r"→\s*(\d{3})\b", self.title)
        return int(match.group(1)) if match else None


def http_requests(path: Path, variables: dict[str, str]) -> list[HttpRequest]:
    """The requests of a `.http` file (REST Client format): `@var = value`, `### title`, request, headers, body."""
    text = path.read_text(encoding="utf-8")
    for name, value in re.findall(r"^@(\w+)\s*=\s*(.*)$", text, re.M):
        variables.setdefault(name, value.strip())
    requests = []
    for chunk in re.split(r"^###", text, flags=re.M)[1:]:
        title, _, rest = chunk.partition("\n")
        lines = [line for line in rest.splitlines() if not line.startswith("#")]
        while lines and not lines[0].strip():
            lines.pop(0)
        method, url = lines[0].split()[:2]
        headers, i = {}, 1
        while i < len(lines) and lines[i].strip():
            name, _, value = lines[i].partition(":")
            headers[name.strip()] = value.strip()
            i += 1
        body = "\n".join(lines[i:]).strip()
        fill = lambda s: re.sub(r"\{\{(\w+)\}\}", lambda m: variables[m.group(1)], s)  # noqa: E731
        requests.append(HttpRequest(title.strip(), method, fill(url), {k: fill(v) for k, v in headers.items()},
                                    fill(body).encode()))
    return requests


def test_every_request_of_examples_api_cartflow_http_answers_as_titled(shared: tuple[Path, Ports]) -> None:
    """examples/api/cartflow.http against `cartflow serve`, started as its first line says."""
    work, ports = shared
    shell = Shell(work, base_env(work, ports, activated=True), work / ".doc-shell" / "cartflow.http")
    first = (REPO / "examples" / "api" / "cartflow.http").read_text(encoding="utf-8")
    start = re.search(r"Start the server first:\s*(.+)", first)
    assert start, "cartflow.http says how to start the server"
    job = shell.start(start.group(1).strip(), _serving(ports.api), timeout=120)
    try:
        assert job.process.poll() is None, f"the server did not start:\n{job.output()}"
        wrong = []
        for request in http_requests(REPO / "examples" / "api" / "cartflow.http",
                                     {"base": f"http://127.0.0.1:{ports.api}"}):
            expected = request.expected
            ok = (lambda s: s == expected) if expected else (lambda s: 200 <= s < 300)  # noqa: B023 (used in this loop)
            deadline = time.monotonic() + 30  # a line just sent is readable once the serving consumer wrote it
            while True:
                status, body = _send(request)
                if ok(status) or request.method != "GET" or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            if not ok(status):
                wrong.append(f"### {request.title}: {request.method} {request.url} answered {status}: {body[:300]!r}")
        assert not wrong, "\n".join(wrong)
    finally:
        result = shell.stop(job)
    assert stopped_cleanly(result), f"the server exited {result.code} on SIGTERM:\n{result.output}"


def _send(request: HttpRequest) -> tuple[int, bytes]:
    req = urllib.request.Request(request.url, data=request.body or None, method=request.method,
                                 headers=request.headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# -- pages with a project of their own, two at a time beside the others ------------------------


def run_own_page(page: str) -> tuple[list[str], Path]:
    """Run `page` in a directory of its own; its problems, and the directory (removed unless it failed)."""
    work = checkout_like(OWN_PROJECT[page])
    ports = new_ports()
    if page in GIVEN:
        GIVEN[page](work)
    shell = Shell(work / CWD.get(page, ""), base_env(work, ports, activated=page not in README_STARTS_BARE),
                  work / ".doc-shell" / page)
    problems = run_page(page, shell, ports)
    if page.startswith("examples/"):
        problems += toml_snippets_differ(page, work)
    remove_unless_failed(work, bool(problems))
    return problems, work


@pytest.fixture(scope="module", autouse=True)
def own_pages(request: pytest.FixtureRequest) -> Iterator[dict[str, Future]]:
    """Start the selected own-project pages at once (only those this session runs)."""
    selected = {item.callspec.params["page"] for item in request.session.items
                if item.module is request.module and getattr(item, "originalname", "") ==
                "test_pages_with_a_project_of_their_own_run_as_written"}
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="doc-page")
    futures = {page: pool.submit(run_own_page, page) for page in OWN_PROJECT if page in selected}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("page", list(OWN_PROJECT))
def test_pages_with_a_project_of_their_own_run_as_written(page: str, own_pages: dict[str, Future]) -> None:
    problems, work = own_pages[page].result()
    assert not problems, "\n\n".join(problems) + f"\n(kept: {work})"
