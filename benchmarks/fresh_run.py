"""The README's run command from a fresh clone, timed (issue #5): install, demo build, first
signed-in page with data, peak memory.

    git clone /path/to/dialogo /tmp/fresh-demo      # committed files only: copy changes in
    python3 benchmarks/fresh_run.py /tmp/fresh-demo --port 18431

Runs ``/usr/bin/time -v ./scripts/run --port PORT`` in CLONE with empty pip and uv caches and
without DIALOGO_* variables; polls ``/login`` until the demo serves, signs in with the login the
script printed, reads the listening, inbox and analytics pages of the demo workspace, then
stops the server (SIGTERM to the run's own process only) and prints a table: seconds from the
start until the install finished ("Building the demo" printed), the demo was built ("Sign in
as" printed), the login page answered and the home page answered signed in; CPU seconds and
peak RSS from ``time -v`` (the largest process: the server once the demo is built). The
baseline to compare with is the same script on the commit before the change, run side by side
(the machine's load average is printed: wall-clock times on a shared machine follow it).
Standard library only: the clone has no virtualenv yet.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

PAGES = ("listening", "inbox", "analytics")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clone", type=Path, help="a fresh clone (no .venv, no data)")
    parser.add_argument("--port", type=int, default=18431)
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args()
    clone: Path = args.clone.resolve()
    if (clone / ".venv").exists() or (clone / "data").exists():
        sys.exit(f"{clone} is not fresh: remove .venv and data first")
    base = f"http://127.0.0.1:{args.port}"
    log = clone.parent / f"{clone.name}-run.log"
    timing = clone.parent / f"{clone.name}-time.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIALOGO_", "VIRTUAL_ENV"))}
    env["PIP_CACHE_DIR"] = tempfile.mkdtemp(prefix="pip-cache-")
    env["UV_CACHE_DIR"] = tempfile.mkdtemp(prefix="uv-cache-")
    load_before = os.getloadavg()
    started = time.monotonic()
    marks: dict[str, float] = {}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["/usr/bin/time", "-v", "-o", str(timing), "./scripts/run", "--port", str(args.port)],
            cwd=clone,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            opener = _sign_in(proc, log, base, started, marks, args.timeout)
            sizes = {}
            for page in PAGES:
                with opener.open(f"{base}/w/1/{page}", timeout=120) as answer:
                    sizes[page] = len(answer.read())
        finally:
            _stop(proc)
    load_after = os.getloadavg()
    report = timing.read_text()
    cpu = float(_field(report, r"User time \(seconds\): ([\d.]+)")) + float(
        _field(report, r"System time \(seconds\): ([\d.]+)")
    )
    rss = int(_field(report, r"Maximum resident set size \(kbytes\): (\d+)")) / 1024
    print(f"scripts/run from a fresh clone ({clone}), empty pip and uv caches")
    print(f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} (1 min)")
    print("| step | seconds from start |")
    print("|---|---|")
    print(f"| installed ('Building the demo') | {marks.get('installed', 0.0):.1f} |")
    print(f"| demo built ('Sign in as') | {marks['built']:.1f} |")
    print(f"| login page answers | {marks['login']:.1f} |")
    print(f"| signed in, home page | {marks['signed_in']:.1f} |")
    print(f"CPU {cpu:.1f} s (user + system), peak RSS {rss:.0f} MB")
    print("pages (bytes): " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
    return 0


def _field(report: str, pattern: str) -> str:
    found = re.search(pattern, report)
    if found is None:
        raise SystemExit(f"no {pattern!r} in the time report:\n{report}")
    return found.group(1)


def _sign_in(
    proc: subprocess.Popen[bytes],
    log: Path,
    base: str,
    started: float,
    marks: dict[str, float],
    timeout: float,
) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    while time.monotonic() < started + timeout:
        if proc.poll() is not None:
            raise SystemExit(f"scripts/run exited {proc.returncode}:\n{log.read_text()[-4000:]}")
        text = log.read_text(errors="replace")
        if "installed" not in marks and "Building the demo" in text:
            marks["installed"] = time.monotonic() - started
        printed = re.search(r"Sign in as (\S+) / (\S+) ", text)
        if printed:
            marks.setdefault("built", time.monotonic() - started)
            try:
                with opener.open(f"{base}/login", timeout=5) as answer:
                    form = answer.read().decode()
            except OSError:
                time.sleep(0.2)  # the server is still starting
                continue
            marks["login"] = time.monotonic() - started
            token = re.search(r'name="login_token" value="([^"]+)"', form)
            if token is None:
                raise SystemExit("no login_token in the login form")
            data = urllib.parse.urlencode(
                {
                    "email": printed.group(1),
                    "password": printed.group(2),
                    "login_token": token.group(1),
                    "next": "/",
                }
            ).encode()
            request = urllib.request.Request(f"{base}/login", data=data, headers={"Origin": base})
            with opener.open(request, timeout=120) as answer:
                home = answer.read().decode()
                if answer.status != 200 or "Caff" not in home:
                    raise SystemExit(f"signing in failed: {answer.status} {home[:500]}")
            marks["signed_in"] = time.monotonic() - started
            return opener
        time.sleep(0.2)  # polling the run's output
    raise SystemExit(f"no signed-in page within {timeout} s:\n{log.read_text()[-4000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the run's own process (``time``'s child), so ``time`` reports and exits."""
    if proc.poll() is not None:
        return
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    pids = children.read_text().split() if children.exists() else []
    for pid in pids:
        os.kill(int(pid), signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


if __name__ == "__main__":
    raise SystemExit(main())
