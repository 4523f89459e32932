"""benchmarks/gpu_check.py: one line and exit 0 without a GPU; its device check reads the
device the framework really trains on (here the CPU, which it must not call a GPU)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "benchmarks" / "gpu_check.py"
NO_GPU = {"CUDA_VISIBLE_DEVICES": "", "HIP_VISIBLE_DEVICES": "", "ROCR_VISIBLE_DEVICES": ""}


def test_without_a_gpu_it_says_so_in_one_line_and_exits_0() -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **NO_GPU}, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1 and "no GPU" in proc.stdout, proc.stdout
    assert proc.stderr == ""


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_the_plain_run_reports_the_device_its_variables_live_on(backend: str, real_data_dir: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    for name, value in NO_GPU.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    import gpu_check

    rate, device = gpu_check.plain_run("mlp-small", str(real_data_dir), 500, backend)
    assert rate > 0
    assert "cpu" in device.lower() and not gpu_check.gpu_named(device), device
