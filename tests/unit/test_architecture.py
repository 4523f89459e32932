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


def test_no_script_names_a_path_of_this_machine() -> None:
    """Benchmarks and scripts run on other machines too: data defaults are found relative to
    the repository (``../shared``) or given, never spelled as this box's absolute paths."""
    import re

    machine_path = re.compile(r"""["'](/work/|/root/|/home/|/Users/)""")
    offenders = [f"{path.relative_to(REPO_ROOT)}:{n}" for folder in ("benchmarks", "scripts", "mnist_tui")
                 for path in sorted((REPO_ROOT / folder).rglob("*.py"))
                 for n, line in enumerate(path.read_text().splitlines(), 1) if machine_path.search(line)]
    assert offenders == []
