"""Every config flag's bad values, through the real CLI: exit 2 (usage) or 1 (data), one line, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mnist_tui.data import load_dataset
from mnist_tui.errors import DatasetError

BAD = [
    ("--epochs", ""), ("--epochs", "-1"), ("--epochs", "0"), ("--epochs", "x"), ("--epochs", "nan"),
    ("--epochs", "1e12"), ("--batch-size", "0"), ("--batch-size", "-5"), ("--batch-size", "inf"),
    ("--batch-size", "10000000"), ("--lr", ""), ("--lr", "0"), ("--lr", "-1"), ("--lr", "nan"), ("--lr", "inf"),
    ("--lr", "1e300"), ("--lr", "fast"), ("--momentum", "-0.5"), ("--momentum", "1"), ("--hidden-units", "0"),
    ("--hidden-units", "1e9"), ("--hidden-units", "ten"), ("--dropout", "1"), ("--dropout", "-0.1"),
    ("--dropout", "nan"), ("--limit", "0"), ("--limit", "-3"), ("--val-split", "1"), ("--val-split", "-0.2"),
    ("--seed", "-1"), ("--seed", "abc"), ("--model", "resnet"), ("--optimizer", "adagrad"),
    ("--activation", "gelu"), ("--loss", "hinge"), ("--dataset", "cifar10"), ("--jit", "maybe"),
]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mnist_tui", "train", *args, "--no-save"], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, env=env)


@pytest.mark.parametrize(("flag", "value"), BAD)
def test_bad_flag_value_is_a_one_line_usage_error(flag: str, value: str) -> None:
    proc = run(f"{flag}={value}")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnist-tui: error: ") and "Traceback" not in proc.stderr
    assert flag in lines[0] or "argument" in lines[0]


@pytest.mark.parametrize(("args", "code", "needle"), [
    (("--limit", "25000"), 1, "exceeds the 20000"),
    (("--batch-size", "20001"), 2, "larger than the 20,000"),
    (("--model", "scratch", "--limit", "100", "--batch-size", "101"), 2, "larger than the 100"),
])
def test_sizes_checked_against_the_real_data(real_data_dir: Path, args: tuple[str, ...], code: int,
                                             needle: str) -> None:
    proc = run(*args, "--epochs", "1", env={**os.environ, "MNIST_TUI_DATA": str(real_data_dir)})
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in proc.stderr


def test_unreadable_data_file_is_a_clear_error(tiny_idx_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Root ignores chmod 000, so the permission error is injected where the file is opened."""
    real_open = os.open

    def guarded_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if os.fspath(path).endswith("train-labels-idx1-ubyte.gz"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    with pytest.raises(DatasetError) as info:
        load_dataset(path=tiny_idx_dir)
    text = str(info.value)
    assert "train-labels-idx1-ubyte.gz" in text and "permission denied" in text.lower() and "\n" not in text
