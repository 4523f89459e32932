"""The JAX multi-step loop (``mnist_tui.training.fastloop``): every batch streamed with its own
values, pause/stop within a call, resume from its checkpoint, accuracy as Keras's fit.

The scenarios run in one child process on JAX (``fastloop_child``); each test checks a part.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mnist_tui.events import TRAINING, BatchEnd, EpochEnd, PhaseChanged, decode
from mnist_tui.history import RunHistory
from mnist_tui.widgets.train_status import status_lines
from tests.conftest import REPO_ROOT
from tests.unit.fastloop_child import CAP

pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")

_RESULT: dict[str, Any] = {}
# The child takes ~40 s of a core: the tests that read it share one worker, so it runs once.
ONE_CHILD = pytest.mark.xdist_group("fastloop-child")


@pytest.fixture
def child(real_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not _RESULT:
        env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO_ROOT), "MNIST_TUI_JAX_CACHE": "off"}
        proc = subprocess.run([sys.executable, "-m", "tests.unit.fastloop_child", str(real_data_dir),
                               str(tmp_path_factory.mktemp("fastloop"))], capture_output=True, text=True,
                              cwd=REPO_ROOT, env=env, timeout=600, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stderr[-4000:]
        _RESULT.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    return _RESULT


@ONE_CHILD
def test_one_batch_event_per_step_with_that_steps_own_loss_and_accuracy(child: dict[str, Any]) -> None:
    own = child["own"]
    assert own["status"] == "done" and own["loop"] == "FastKerasLoop"
    got, expected = own["got"], own["expected"]
    assert len(got) == len(expected) == 13  # 200 images in batches of 16: 12 full, one of 8
    seen = 0
    for (step, steps, b_seen, b_loss, b_acc, *_), (e_loss, e_acc, n) in zip(got, expected, strict=True):
        seen += n
        assert (step, steps, b_seen) == (len(got[:step]), 13, seen)
        # Keras's own forward pass and train_on_batch on the same batches: the loop's numbers
        # are each batch's own, before its update, and its updates are Keras's.
        assert b_loss == pytest.approx(e_loss, rel=1e-4, abs=1e-5), step
        assert b_acc == pytest.approx(e_acc, abs=1e-6), step
    # running means are the seen-weighted means of the batches' own values, as in Keras's logs
    weights = [n for *_, n in expected]
    mean = sum(g[3] * w for g, w in zip(got, weights, strict=True)) / sum(weights)
    assert got[-1][5] == pytest.approx(mean, rel=1e-9)
    elapsed = [g[7] for g in got]
    assert elapsed == sorted(elapsed) and len(set(elapsed)) == len(elapsed)  # spread over each call


@ONE_CHILD
def test_the_loops_forward_pass_is_keras_s(child: dict[str, Any]) -> None:
    """im2col convolutions and reshape pooling give Keras's cnn outputs."""
    assert child["cnn"]["status"] == "done"
    assert child["cnn"]["max_abs_diff"] < 1e-5


@ONE_CHILD
def test_pause_takes_effect_at_the_end_of_the_call_it_arrives_in(child: dict[str, Any]) -> None:
    pause = child["pause"]
    assert pause["status"] == "done" and pause["epochs"] == [1, 2]
    kinds = pause["kinds"]
    asked = next(i for i, (e, s) in enumerate(pause["steps"]) if (e, s) == (1, 3))
    batch_positions = [i for i, k in enumerate(kinds) if k == "batch"]
    paused_at = kinds.index("paused")
    batches_before_pause = sum(1 for i in batch_positions if i < paused_at)
    assert asked + 1 <= batches_before_pause <= asked + CAP  # the rest of that call's batches, no more
    steps = pause["steps"]
    assert steps == [[1, s] for s in range(1, 64)] + [[2, s] for s in range(1, 64)]  # every batch, once


@ONE_CHILD
def test_stop_takes_effect_within_a_call_and_ends_the_run_quickly(child: dict[str, Any]) -> None:
    stop = child["stop"]
    assert stop["status"] == "stopped" and stop["epochs"] == []
    steps = [s for _, s in stop["steps"]]
    assert steps == list(range(1, len(steps) + 1))  # every trained batch is in the stream
    assert 5 <= len(steps) <= 5 + CAP - 1  # the call the stop arrived in, then no more


@ONE_CHILD
def test_resume_from_a_fast_loop_checkpoint(child: dict[str, Any]) -> None:
    res = child["resume"]
    assert res["first"][:2] == ["done", 1] and res["second"][:2] == ["done", 2]
    assert res["from_epoch"] == 1 and res["epochs"] == [2]
    # the checkpoint holds the optimizer state the loop reached: one iteration per step
    assert res["iterations"] == [res["steps_per_epoch"]]
    assert res["iterations2"] == [2 * res["steps_per_epoch"]]
    assert res["moved"] > 0 and res["second"][2] >= res["first"][2] - 0.01


@ONE_CHILD
def test_accuracy_holds_against_keras_fit(child: dict[str, Any]) -> None:
    """At least Keras's fit on the same recipe and seeds, less half a point (higher is fine:
    the two shuffle differently, and on 2 epochs a shuffle moves the test accuracy by ~1 pp)."""
    acc = child["accuracy"]
    steps, fit = sum(acc["steps"]) / len(acc["steps"]), sum(acc["fit"]) / len(acc["fit"])
    assert steps >= fit - 0.005, acc
    assert min(acc["steps"]) > 0.93


def test_headless_run_records_every_batch_and_says_they_arrive_in_groups(real_data_dir: Path, tmp_path: Path) -> None:
    """The run directory (the record the charts, Runs and exports read) holds one row per
    step although steps come several per call, and the status line is told the group size."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "MNIST_TUI_JAX_CACHE": "off", "PYTHONPATH": str(REPO_ROOT)}
    env.pop("MNIST_TUI_STEPS", None)
    proc = subprocess.run([sys.executable, "-m", "mnist_tui", "train", "--model", "mlp", "--backend", "jax",
                           "--data", str(real_data_dir), "--limit", "2000", "--batch-size", "16", "--epochs", "1",
                           "--out", str(tmp_path)], capture_output=True, text=True, cwd=REPO_ROOT, env=env,
                          timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (log,) = tmp_path.glob("*/events.jsonl")
    events = [decode(line) for line in log.read_text().splitlines()]
    steps = [e.step for e in events if isinstance(e, BatchEnd)]
    assert steps == list(range(1, 126))  # 2,000 images in batches of 16: every one, once, in order
    notes = [e.detail for e in events if isinstance(e, PhaseChanged) and e.phase == TRAINING]
    assert any(note.startswith("batches arrive in groups of ") for note in notes), notes
    history = RunHistory()
    for event in events[:next(i for i, e in enumerate(events) if isinstance(e, EpochEnd))]:
        history.record(event)
    third = status_lines(history, run=log.parent.name)[2].plain
    assert "batches arrive in groups of " in third, third
