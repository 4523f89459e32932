"""The import contracts in pyproject.toml ([tool.importlinter]) hold: layers go one way,
the engine never imports Textual, the UI never imports a deep-learning framework."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_import_contracts_hold() -> None:
    contracts = (REPO_ROOT / "pyproject.toml").read_text().count("[[tool.importlinter.contracts]]")
    assert contracts >= 3  # the linter really has contracts to check
    proc = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command;"
                           " sys.exit(lint_imports_command())"], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert f"{contracts} kept, 0 broken" in proc.stdout, proc.stdout[-2000:]
