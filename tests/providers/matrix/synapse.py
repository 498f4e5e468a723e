"""A throw-away Synapse homeserver on 127.0.0.1 for the Matrix integration tests.

Synapse lives in its own virtualenv (``scripts/setup-matrix``), so none of its dependencies
mix with Dialogo's. :class:`SynapseServer` writes a minimal configuration into a temporary
directory (SQLite, one plain-HTTP client listener on a free loopback port, no federation
listener and no key servers, so it never contacts anything; registration only through the
shared-secret admin API; rate limits raised so a test never waits), starts the server as a
subprocess, polls ``/_matrix/client/versions`` until it answers and stops it afterwards.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
import os
import secrets
import socket
import subprocess
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[3]
SERVER_NAME = "dialogo.test"
START_DEADLINE = 120.0  # seconds; a cold start here takes a few seconds


def synapse_python() -> Path | None:
    """The interpreter of the Synapse virtualenv, or ``None`` when it is not installed."""
    venv = Path(os.environ.get("DIALOGO_SYNAPSE_VENV") or REPO / ".cache" / "synapse-venv")
    python = venv / "bin" / "python"
    return python if python.exists() else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unlimited(per_second: float = 1000.0, burst: int = 10_000) -> dict[str, float]:
    return {"per_second": per_second, "burst_count": burst}


def write_config(directory: Path, port: int, shared_secret: str) -> Path:
    """A homeserver.yaml for tests; JSON is valid YAML, so no YAML library is needed here."""
    seed = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    (directory / "signing.key").write_text(f"ed25519 a_test {seed}\n")
    (directory / "log.yaml").write_text(
        json.dumps(
            {
                "version": 1,
                "formatters": {
                    "plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}
                },
                "handlers": {
                    "file": {
                        "class": "logging.FileHandler",
                        "formatter": "plain",
                        "filename": str(directory / "homeserver.log"),
                    }
                },
                "root": {"level": "WARNING", "handlers": ["file"]},
                "disable_existing_loggers": False,
            }
        )
    )
    unlimited = _unlimited()
    config = {
        "server_name": SERVER_NAME,
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "pid_file": str(directory / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(directory / "homeserver.db")}},
        "log_config": str(directory / "log.yaml"),
        "media_store_path": str(directory / "media"),
        "signing_key_path": str(directory / "signing.key"),
        "report_stats": False,
        "enable_metrics": False,
        "enable_registration": False,
        "registration_shared_secret": shared_secret,
        "bcrypt_rounds": 4,  # password hashing at test strength: logins in milliseconds
        "macaroon_secret_key": secrets.token_hex(32),
        "form_secret": secrets.token_hex(32),
        # No federation: no federation listener, nobody on the allow list, no key servers.
        "federation_domain_whitelist": [],
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "url_preview_enabled": False,
        "presence": {"enabled": False},
        "include_profile_data_on_invite": False,
        "serve_server_wellknown": False,
        # Relaxed rate limits: the tests never wait for a limiter.
        "rc_message": unlimited,
        "rc_registration": unlimited,
        "rc_login": {"address": unlimited, "account": unlimited, "failed_attempts": unlimited},
        "rc_joins": {"local": unlimited, "remote": unlimited},
        "rc_joins_per_room": unlimited,
        "rc_invites": {"per_room": unlimited, "per_user": unlimited, "per_issuer": unlimited},
        "rc_room_creation": unlimited,
        "rc_media_create": unlimited,
        "rc_admin_redaction": unlimited,
        "rc_profile": unlimited,
        "rc_reports": unlimited,
    }
    path = directory / "homeserver.yaml"
    path.write_text(json.dumps(config, indent=2))
    return path


@dataclasses.dataclass(frozen=True)
class MatrixUser:
    user_id: str
    access_token: str
    device_id: str
    password: str


class SynapseServer:
    def __init__(self, python: Path, directory: Path) -> None:
        self.python = python
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.shared_secret = secrets.token_hex(16)
        self.config = write_config(directory, self.port, self.shared_secret)
        self.process: subprocess.Popen[bytes] | None = None
        self.start_seconds: float | None = None

    def start(self, deadline: float = START_DEADLINE) -> float:
        """Start Synapse and wait until it answers; return the seconds it took."""
        began = time.monotonic()
        output = (self.directory / "stdout.log").open("wb")
        self.process = subprocess.Popen(
            [str(self.python), "-m", "synapse.app.homeserver", "--config-path", str(self.config)],
            cwd=self.directory,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        output.close()
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"Synapse exited with {self.process.returncode}:\n{self.logs()}"
                    )
                try:
                    if client.get(f"{self.url}/_matrix/client/versions").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() - began > deadline:
                    self.stop()
                    raise RuntimeError(f"Synapse did not answer in {deadline:.0f}s:\n{self.logs()}")
                # Wait for the process rather than sleeping: returns early if it dies.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=0.1)
        self.start_seconds = time.monotonic() - began
        return self.start_seconds

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def logs(self, tail: int = 4000) -> str:
        parts = []
        for name in ("stdout.log", "homeserver.log"):
            path = self.directory / name
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(parts)

    def register(self, localpart: str, *, admin: bool = False) -> MatrixUser:
        """Create a user through the shared-secret admin API (``register_new_matrix_user``'s
        protocol: HMAC-SHA1 over nonce, user, password and admin flag)."""
        password = secrets.token_urlsafe(12)
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        with httpx.Client(timeout=10.0) as client:
            nonce = client.get(endpoint).raise_for_status().json()["nonce"]
            mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
            for part in (nonce, localpart, password):
                mac.update(part.encode())
                mac.update(b"\x00")
            mac.update(b"admin" if admin else b"notadmin")
            body = {
                "nonce": nonce,
                "username": localpart,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            }
            answer = client.post(endpoint, json=body).raise_for_status().json()
        return MatrixUser(
            user_id=answer["user_id"],
            access_token=answer["access_token"],
            device_id=answer["device_id"],
            password=password,
        )
