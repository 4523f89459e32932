"""The JAX multi-step loop's scenarios, run in a process of their own (one pytest process holds
one Keras backend, and the suite's is TensorFlow): ``python -m tests.unit.fastloop_child DATA TMP``
prints one JSON line that ``test_fastloop.py`` checks."""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # the child only: test_fastloop imports CAP, and must not switch the suite to JAX
    os.environ["KERAS_BACKEND"] = "jax"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("MNIST_TUI_JAX_CACHE", "off")

import numpy as np

from mnist_tui.config import preset_config
from mnist_tui.data import load_dataset, take_subset
from mnist_tui.events import PAUSED, BatchEnd, EpochEnd, Event, PhaseChanged, TrainerStarted
from mnist_tui.training.control import TrainControl
from mnist_tui.training.trainer import train

CAP = 8  # MNIST_TUI_STEPS: at most this many steps a call, so the tests know the group size's bound


def batches(events: list[Event]) -> list[BatchEnd]:
    return [e for e in events if isinstance(e, BatchEnd)]


def own_values(ds: Any) -> dict[str, Any]:
    """Every streamed batch against an oracle: Keras itself, on the same batches in the same order,
    from the same initial weights (pre-update loss by a forward pass, then Keras's train_on_batch)."""
    import keras

    from mnist_tui.data import one_hot, shape_for
    from mnist_tui.models.keras_models import build_model
    from mnist_tui.training.fastloop import FastKerasLoop

    cfg = preset_config("mlp").with_changes(epochs=1, batch_size=16, limit=200, backend="jax")
    events: list[Event] = []
    keras.utils.set_random_seed(cfg.seed)
    oracle = build_model(cfg)  # the same seed: the trainer's model starts from these weights
    result = train(cfg, events.append, dataset=ds)
    x = shape_for(take_subset(ds, 200).x_train, "flat")
    y = one_hot(ds.y_train[:200])
    order = np.random.default_rng([cfg.seed, 1]).permutation(200)  # the loop's plan for epoch 1
    expected = []
    for start in range(0, 200, 16):
        rows = order[start:start + 16]
        probs = np.asarray(oracle(x[rows], training=False))
        loss = float(np.mean(keras.losses.categorical_crossentropy(y[rows], probs)))
        expected.append((loss, float((probs.argmax(1) == y[rows].argmax(1)).mean()), len(rows)))
        oracle.train_on_batch(x[rows], y[rows])
    got = batches(events)
    return {"status": result.status, "loop": FastKerasLoop.__name__,
            "got": [(b.step, b.steps, b.seen, b.batch_loss, b.batch_accuracy, b.loss, b.accuracy, b.elapsed)
                    for b in got],
            "expected": expected}


def cnn_predictions(ds: Any) -> dict[str, Any]:
    """The loop's own forward (im2col convolutions, reshape pooling) against Keras's predict."""
    import keras

    from mnist_tui.training import fastloop

    cfg = preset_config("cnn").with_changes(epochs=1, limit=64, backend="jax")
    seen: dict[str, Any] = {}
    real = fastloop.FastKerasLoop.train_model

    def spy(self: Any, callback: Any) -> tuple[int, str]:
        out = real(self, callback)
        ours = self.predict(self.data.x_test[:500])
        keras_probs = np.asarray(self.model.predict(self.data.x_test[:500], verbose=0))
        seen["diff"] = float(np.abs(ours - keras_probs).max())
        return out

    fastloop.FastKerasLoop.train_model = spy  # type: ignore[method-assign]
    try:
        result = train(cfg, lambda e: None, dataset=ds)
    finally:
        fastloop.FastKerasLoop.train_model = real  # type: ignore[method-assign]
    keras.backend.clear_session()
    return {"status": result.status, "max_abs_diff": seen.get("diff", math.nan)}


def control_run(ds: Any, what: str) -> dict[str, Any]:
    """Pause at step 3 (resumed 0.3 s later) or stop at step 5: when does the loop act?"""
    control = TrainControl()
    stamped: list[tuple[float, Event]] = []
    asked: dict[str, float] = {}

    def emit(event: Event) -> None:
        stamped.append((time.perf_counter(), event))
        if isinstance(event, BatchEnd) and event.epoch == 1 and event.step == (3 if what == "pause" else 5) \
                and not asked:
            asked["at"] = time.perf_counter()
            if what == "pause":
                control.pause()
                threading.Timer(0.3, control.resume).start()
            else:
                control.stop(quick=True)

    cfg = preset_config("mlp").with_changes(epochs=2, batch_size=32, limit=2000, backend="jax")
    result = train(cfg, emit, control, dataset=ds)
    ended = time.perf_counter()
    events = [e for _, e in stamped]
    kinds = ["paused" if e == PhaseChanged(PAUSED) else "batch" if isinstance(e, BatchEnd) else "other"
             for e in events]
    return {"status": result.status, "steps": [(b.epoch, b.step) for b in batches(events)], "kinds": kinds,
            "stop_to_end": ended - asked.get("at", ended), "epochs": [e.epoch for e in events
                                                                     if isinstance(e, EpochEnd)]}


def resume_run(data_dir: str, tmp: Path) -> dict[str, Any]:
    """A fast-loop run's checkpoint (weights and optimizer state at its epoch end) resumes it."""
    from mnist_tui.runs.process import run_job
    from mnist_tui.runs.rundir import CONFIG, atomic_write_json, create_run_dir

    cfg = preset_config("mlp").with_changes(epochs=1, limit=2000, data_path=data_dir, backend="jax")
    run_dir = create_run_dir(tmp, cfg)
    first = run_job(run_dir)
    with np.load(run_dir / "checkpoint.npz") as npz:
        meta = json.loads(str(npz["meta"]))
        names = meta["optimizer"]
        iterations = [int(npz[f"o{i:03d}"]) for i, name in enumerate(names) if name.endswith("iteration")]
        w0 = npz["w000"].copy()
    atomic_write_json(run_dir / CONFIG, cfg.with_changes(epochs=2).to_dict())
    events: list[Event] = []
    second = run_job(run_dir, "resume", emit=events.append)
    started = next(e for e in events if isinstance(e, TrainerStarted))
    with np.load(run_dir / "checkpoint.npz") as npz:
        meta2 = json.loads(str(npz["meta"]))
        iterations2 = [int(npz[f"o{i:03d}"]) for i, name in enumerate(meta2["optimizer"])
                       if name.endswith("iteration")]
        moved = float(np.abs(npz["w000"] - w0).max())
    return {"first": [first.status, first.epochs_completed, first.test_accuracy],
            "second": [second.status, second.epochs_completed, second.test_accuracy],
            "from_epoch": started.from_epoch, "iterations": iterations, "iterations2": iterations2,
            "epochs": [e.epoch for e in events if isinstance(e, EpochEnd)], "moved": moved,
            "steps_per_epoch": math.ceil(2000 / cfg.batch_size)}


def accuracy_vs_fit(ds: Any) -> dict[str, Any]:
    """Test accuracy of the fast loop and of Keras's fit (both on JAX), the same recipe and seeds."""
    out: dict[str, list[float]] = {"steps": [], "fit": []}
    for seed in (0, 1):
        cfg = preset_config("mlp").with_changes(epochs=2, seed=seed, backend="jax")
        for mode in ("steps", "fit"):
            os.environ["MNIST_TUI_STEPS"] = str(CAP) if mode == "steps" else "fit"
            out[mode].append(train(cfg, lambda e: None, dataset=ds).test_accuracy)
    os.environ["MNIST_TUI_STEPS"] = str(CAP)
    return out


def main() -> int:
    data_dir, tmp = sys.argv[1], Path(sys.argv[2])
    os.environ["MNIST_TUI_STEPS"] = str(CAP)
    ds = load_dataset("mnist", data_dir)
    out: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    scenarios: dict[str, Callable[[], Any]] = {
        "own": lambda: own_values(ds), "pause": lambda: control_run(ds, "pause"),
        "stop": lambda: control_run(ds, "stop"), "resume": lambda: resume_run(data_dir, tmp),
        "cnn": lambda: cnn_predictions(ds), "accuracy": lambda: accuracy_vs_fit(ds)}
    for name, scenario in scenarios.items():
        t0 = time.perf_counter()
        out[name] = scenario()
        seconds[name] = round(time.perf_counter() - t0, 2)
    out["seconds"] = seconds  # where the suite's time goes
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
