"""The code behind a run: the generated script is valid Python that imports only Keras or
NumPy, says what the config says, and, run as a plain process of its own, reaches the test
accuracy ``mnist-tui train`` reaches with the same config and seed."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.cli import main
from mnist_tui.codegen import command_line, script_for, suggested_name
from mnist_tui.config import TrainConfig, preset_config
from mnist_tui.data import load_dataset
from tests.runs_helpers import train_run

VARIANTS = [
    preset_config("mlp"),
    preset_config("mlp-small").with_changes(loss="sparse", val_split=0.2, limit=500),
    preset_config("cnn").with_changes(dropout=0.0, optimizer="sgd", momentum=0.9, jit=True, backend="tensorflow"),
    preset_config("cnn").with_changes(dataset="fashion-mnist", data_path="/data/fashion.npz"),
    preset_config("scratch"),
    preset_config("scratch").with_changes(activation="relu", momentum=0.5, val_split=0.1, data_path="/d"),
]


def imported(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0])
    return names


@pytest.mark.parametrize("cfg", VARIANTS, ids=lambda c: f"{c.preset}-{c.loss}-{c.val_split}-{c.dataset}")
def test_the_script_is_python_that_needs_only_keras_or_numpy(cfg: TrainConfig) -> None:
    text = script_for(cfg)
    compile(text, suggested_name(cfg), "exec")
    allowed = {"gzip", "os", "numpy"} | (set() if cfg.preset == "scratch" else {"keras"})
    assert imported(text) <= allowed and "mnist_tui" not in imported(text)
    assert command_line(cfg) in text  # the docstring names the equivalent mnist-tui command
    if cfg.preset == "scratch":
        assert f"default_rng({cfg.seed})" in text and f"range({cfg.epochs})" in text
        assert ("np.maximum(z1, 0)" in text) == (cfg.activation == "relu")
        assert ("velocity[k] = momentum" in text) == bool(cfg.momentum)
        return
    assert f"keras.utils.set_random_seed({cfg.seed})" in text
    assert f"epochs={cfg.epochs}, batch_size={cfg.batch_size}" in text
    assert f"learning_rate={cfg.learning_rate!r}" in text
    loss = "sparse_categorical_crossentropy" if cfg.loss == "sparse" else "categorical_crossentropy"
    assert f'loss="{loss}"' in text and ("to_categorical" in text) == (cfg.loss == "categorical")
    assert ("validation_data=(x_val, y_val)" in text) == (cfg.val_split > 0)
    assert ("Dropout" in text) == (cfg.dropout > 0) and ("jit_compile=True" in text) == cfg.jit
    if cfg.data_path:
        assert f"DATA = {cfg.data_path!r}" in text
    if cfg.dataset == "fashion-mnist":
        assert "fashion" in suggested_name(cfg)


def test_the_cli_prints_it_and_writes_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["code", "--model", "cnn", "--epochs", "2", "--backend", "tensorflow"]) == 0
    out = capsys.readouterr().out
    assert out == script_for(preset_config("cnn").with_changes(epochs=2, backend="tensorflow"))
    target = tmp_path / "mnist_scratch.py"
    assert main(["--epochs", "1", "code", "--model", "scratch", "-o", str(target)]) == 0
    assert main(["code", "--model", "scratch", "--epochs", "1"]) == 0
    assert target.read_text() == capsys.readouterr().out and "range(1)" in target.read_text()
    assert main(["code", "--lr", "-1"]) == 2  # a bad flag is a usage error, as for train


# ----------------------------------------------------------------------------- the truth
@pytest.fixture(scope="module")
def small_npz(real_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 training and 2,000 test images of the real data as a Keras-style .npz: the Keras
    runs stay affordable, and the .npz reader is the one tried."""
    ds = load_dataset("mnist", real_data_dir)
    path = tmp_path_factory.mktemp("npz") / "mnist-small.npz"
    np.savez(path, x_train=ds.x_train[:3000], y_train=ds.y_train[:3000], x_test=ds.x_test[:2000],
             y_test=ds.y_test[:2000])
    return path


def script_accuracies(cfgs: list[TrainConfig], tmp_path: Path) -> list[float]:
    """Run the scripts of ``cfgs`` in one plain Python process (no mnist_tui on its path), each
    as ``__main__`` in turn: one TensorFlow import (10 s here) instead of one per script."""
    scripts = []
    for i, cfg in enumerate(cfgs):
        script = tmp_path / f"{i}_{suggested_name(cfg)}"
        script.write_text(script_for(cfg))
        scripts.append(str(script))
    runner = "import runpy, sys\nfor path in sys.argv[1:]:\n    runpy.run_path(path, run_name='__main__')\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")} | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", runner, *scripts], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = re.findall(r"^(?:test loss \S+ )?test accuracy (\d\.\d+)$", proc.stdout, flags=re.MULTILINE)
    assert len(found) == len(cfgs), proc.stdout[-2000:]
    return [float(a) for a in found]


def train_accuracy(cfg: TrainConfig, tmp_path: Path) -> float:
    run = train_run(tmp_path / "runs", cfg)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "done"
    return float(summary["test_accuracy"])


def test_the_keras_scripts_reach_the_accuracy_of_mnist_tui_train(small_npz: Path, tmp_path: Path) -> None:
    base: dict[str, object] = {"data_path": str(small_npz), "epochs": 1, "backend": "tensorflow"}
    cfgs = [preset_config("mlp").with_changes(**base),
            preset_config("mlp-small").with_changes(**base, loss="sparse", val_split=0.1),  # the other labels, a split
            preset_config("cnn").with_changes(**base, limit=1000)]
    ours = [train_accuracy(cfg, tmp_path) for cfg in cfgs]
    theirs = script_accuracies(cfgs, tmp_path)
    for cfg, a, b in zip(cfgs, ours, theirs, strict=True):
        assert abs(a - b) <= 0.005, (cfg.preset, a, b)
        assert a > 0.5, (cfg.preset, a)  # both really learned


def test_the_numpy_script_reaches_the_accuracy_of_mnist_tui_train(real_data_dir: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNIST_TUI_DATA", str(real_data_dir))  # no --data: both read $MNIST_TUI_DATA's IDX files
    cfg = preset_config("scratch").with_changes(limit=3000, epochs=2, momentum=0.5)
    ours, (theirs,) = train_accuracy(cfg, tmp_path), script_accuracies([cfg], tmp_path)
    assert abs(ours - theirs) <= 0.005, (ours, theirs)
    assert ours > 0.8
