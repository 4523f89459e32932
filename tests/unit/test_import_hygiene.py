"""The engine must stay importable without Textual, and cheap modules without TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT

CHEAP = ["mnist_tui", "mnist_tui.events", "mnist_tui.config", "mnist_tui.data", "mnist_tui.training.trainer",
         "mnist_tui.training.control", "mnist_tui.training.metrics", "mnist_tui.runs.rundir", "mnist_tui.runs.recorder",
         "mnist_tui.runs.follow", "mnist_tui.runs.control", "mnist_tui.runs.process", "mnist_tui.runs.source",
         "mnist_tui.runs.store", "mnist_tui.models.spec", "mnist_tui.models.scratch", "mnist_tui.models.forward",
         "mnist_tui.cli", "mnist_tui.quiet", "mnist_tui.codegen", "mnist_tui.models.network_record"]
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


APP_RUN = """
import asyncio, json, sys
import numpy as np
from mnist_tui.app import make_app
from mnist_tui.config import preset_config

async def main():
    cfg = preset_config("mlp").with_changes(data_path=sys.argv[1], limit=640, epochs=1)
    app = make_app(cfg, runs_dir=sys.argv[2], warm=False)
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("s")
        for _ in range(1800):
            await pilot.pause(0.05)
            if app.history.finished is not None and app.draw_view.predict is not None:
                break
        x = app.history.data.x_test[:1]
        probs = app.draw_view.predict(x)
    heavy = sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras", "jax", "torch"})
    print(json.dumps({"status": app.history.finished.status, "sum": float(np.sum(probs)), "heavy": heavy}))

asyncio.run(main())
"""


def test_the_app_trains_and_classifies_without_loading_a_framework(real_data_dir, tmp_path) -> None:
    """A whole Keras run from the app, and draw-a-digit on its checkpoint: the app process
    itself never loads TensorFlow, Keras or JAX (the trainer is another process)."""
    proc = subprocess.run([sys.executable, "-c", APP_RUN, str(real_data_dir), str(tmp_path)], capture_output=True,
                          text=True, cwd=REPO_ROOT, timeout=180, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == "done" and abs(out["sum"] - 1.0) < 1e-4
    assert out["heavy"] == [], out
