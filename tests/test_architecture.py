"""The layering rules of ARCHITECTURE.md hold, and the contracts would catch a breach."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("accounts/leak.py", "import fastapi\n"),
        ("jobs/leak.py", "from dialogo.web import routes\n"),
        ("core/leak.py", "import typer\n"),
    ],
)
def test_a_domain_importing_an_adapter_breaks_the_contracts(
    tmp_path: Path, module: str, forbidden: str
) -> None:
    if not LINT_IMPORTS.exists():
        pytest.skip("lint-imports is not installed (pip install -e '.[dev]')")
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    clean = _lint(copy)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    (copy / "src" / "dialogo" / module).write_text(forbidden)
    broken = _lint(copy)
    assert broken.returncode != 0
    assert "BROKEN" in broken.stdout
