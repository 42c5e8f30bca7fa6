"""The package direction of the design card, enforced by import-linter's contracts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "import-linter is a dev dependency: pip install -e '.[dev]'"
    result = subprocess.run(
        [lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_domain_is_pure_even_before_import_linter_runs() -> None:
    """A cheap second guard: no debtsale module names an I/O or adapter package."""
    forbidden = (
        "faststream",
        "nats",
        "sqlalchemy",
        "alembic",
        "paramiko",
        "psycopg",
        "connectors",
        "handlers",
        "sftp",
        "forwardflow",
        "requests",
        "quickbooks",
    )
    offenders = []
    for module in (ROOT / "debtsale").rglob("*.py"):
        for line in module.read_text().splitlines():
            words = line.strip().split()
            if len(words) > 1 and words[0] in {"import", "from"}:
                top = words[1].split(".")[0]
                if top in forbidden:
                    offenders.append(f"{module.relative_to(ROOT)}: {line.strip()}")
    assert offenders == []
