"""``scripts/run`` from a fresh copy of the project: it creates ``.venv``, installs Dialogo with
its runtime dependencies only (uv, bootstrapped from PyPI by pip when it is not on PATH),
upgrades the database and builds the demo. Slow (a real install from the package index, a few
minutes on a busy machine); the browser test ``tests/web/test_browser.py::
test_the_readme_run_command`` then covers serving and signing in with the installed checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.timeout(1500)
def test_scripts_run_installs_runtime_dependencies_and_builds_the_demo(tmp_path: Path) -> None:
    if shutil.which("python3") is None:
        pytest.skip("scripts/run needs python3")
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, clone / name)
    for name in ("src", "scripts"):
        shutil.copytree(ROOT / name, clone / name, ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIALOGO_", "VIRTUAL_ENV"))}
    env["PIP_CACHE_DIR"] = str(tmp_path / "pip-cache")
    env["UV_CACHE_DIR"] = str(tmp_path / "uv-cache")
    args = ["--no-serve", "--population", "300", "--end", "2026-03-02T11:00:00+00:00"]
    result = subprocess.run(
        [str(clone / "scripts" / "run"), *args],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=1400,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "Installing Dialogo into .venv" in output
    assert "uv could not install" not in output, output[-4000:]
    assert "Sign in as demo@dialogo.local / dialogo-demo " in output
    assert (clone / ".venv" / ".installed").exists()
    assert (clone / "data" / "dialogo.sqlite3").exists()
    python = clone / ".venv" / "bin" / "python"
    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util as u, dialogo.demo.service;"
            "print(u.find_spec('pytest') is None, u.find_spec('playwright') is None)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.split() == ["True", "True"]  # runtime dependencies only, no test extras
    again = subprocess.run(
        [str(clone / "scripts" / "run"), *args],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    assert "Installing Dialogo" not in again.stdout  # installed once
    assert "already there" in again.stdout
