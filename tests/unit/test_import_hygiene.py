"""The engine must stay importable without Textual, and cheap modules without TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT

CHEAP = ["mnist_tui", "mnist_tui.config", "mnist_tui.data", "mnist_tui.training.trainer",
         "mnist_tui.training.control", "mnist_tui.training.events", "mnist_tui.runs.rundir",
         "mnist_tui.models.spec", "mnist_tui.models.scratch", "mnist_tui.cli", "mnist_tui.quiet"]
KERAS_SIDE = ["mnist_tui.models.keras_models", "mnist_tui.training.callbacks"]


def loaded_after(modules: list[str]) -> set[str]:
    """Top-level packages in sys.modules after importing ``modules`` in a fresh interpreter."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT,
                          env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"},
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_cheap_engine_modules_import_neither_tf_nor_textual() -> None:
    top = loaded_after(CHEAP)
    assert "mnist_tui" in top and "numpy" in top  # the probe really imported the engine
    assert not top & {"tensorflow", "keras", "textual", "tf_keras", "jax", "torch"}, top


def test_keras_side_never_imports_textual() -> None:
    top = loaded_after(CHEAP + KERAS_SIDE)
    assert {"tensorflow", "keras"} <= top  # the probe did load the heavy side
    assert "textual" not in top, top  # (Keras itself pulls in rich, so only textual is checked)


def test_app_does_not_import_tensorflow() -> None:
    top = loaded_after(["mnist_tui.app"])
    assert "textual" in top
    assert not top & {"tensorflow", "keras"}, top
