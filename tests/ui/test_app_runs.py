"""The app as a client of trainer processes: the warm trainer, a trainer that dies, epochs
of a recorded run, attaching to a finished run."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np

from mnist_tui.app import make_app
from mnist_tui.config import preset_config
from mnist_tui.runs.source import ProcessRunSource
from mnist_tui.widgets.confusion_grid import ConfusionGrid
from mnist_tui.widgets.prob_histogram import ProbHistogram
from tests.runs_helpers import train_run
from tests.ui.conftest import wait_for
from tests.ui.fakes import FakeRunSource, FakeTrainer, fake_probabilities

SIZE = (110, 34)


def trainer_pids() -> set[int]:
    out = subprocess.run(["pgrep", "-f", "mnist_tui.runs.process"], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


async def test_warm_trainer_is_ready_before_s_and_the_next_one_after(real_data_dir: Path, tmp_path: Path) -> None:
    cfg = preset_config("scratch").with_changes(data_path=str(real_data_dir), limit=1000, epochs=1)
    before = trainer_pids()
    app = make_app(cfg, runs_dir=tmp_path, warm=True)
    async with app.run_test(size=SIZE) as pilot:
        source = app.source
        assert isinstance(source, ProcessRunSource)
        await wait_for(pilot, lambda: source._warm is not None and source._warm.ready.is_set(), timeout=30)
        assert "Trainer ready (NumPy)" in source.status()
        await wait_for(pilot, lambda: "Trainer ready (NumPy)" in str(app.query_one("#train-status").render()))
        warm_pid = source._warm.pid
        # the app told it the form's run: the data is loaded before s (a NumPy trainer builds no model)
        await wait_for(pilot, source._warm.hinted.is_set, timeout=30)
        assert source._warm.readied == {"data"}
        await pilot.press("s")
        await wait_for(pilot, lambda: app.history.finished is not None, timeout=60)
        assert app.session.handle.proc.pid == warm_pid  # the run went to the process that was ready
        await wait_for(pilot, lambda: source._warm is not None and source._warm.pid != warm_pid, timeout=10)
        assert app.history.finished.status == "done"
    deadline = time.monotonic() + 10
    while trainer_pids() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not trainer_pids() - before, "a trainer process outlived the app"


async def test_a_trainer_that_dies_is_reported_within_a_second_and_the_app_goes_on(real_data_dir: Path,
                                                                                    tmp_path: Path) -> None:
    cfg = preset_config("scratch").with_changes(data_path=str(real_data_dir), limit=5000, epochs=300)
    app = make_app(cfg, runs_dir=tmp_path, warm=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.history.batches > 30, timeout=60)
        proc = app.session.handle.proc
        os.kill(proc.pid, signal.SIGKILL)
        t0 = time.monotonic()
        await wait_for(pilot, lambda: app.history.finished is not None, timeout=5)
        assert time.monotonic() - t0 < 1.0
        fin = app.history.finished
        assert fin.status == "failed" and "killed by SIGKILL" in fin.reason
        assert any("killed by SIGKILL" in str(n.message) for n in app._notifications)
        assert not app.session.live
        # Still usable: browse, then start another run, which trains.
        await pilot.press("v", "right", "i", "u")
        await pilot.pause(0.2)
        run_ids = [r.status for r in app.runs_view.runs]
        assert run_ids == ["incomplete"]
        app.form.fill(cfg.with_changes(epochs=1, limit=1000))
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.history.finished is not None and app.history.finished.status == "done",
                       timeout=60)


async def test_brackets_step_viewer_and_inspect_through_the_epochs(make) -> None:
    app = make(preset_config("mlp").with_changes(epochs=3), FakeTrainer(steps=20))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.history.finished is not None)
        assert app.history.prediction_epochs() == [1, 2, 3]
        await pilot.press("v", "m")  # a digit the last epoch gets wrong
        viewer = app.viewer
        i = viewer.nav.index
        hist = app.query_one(ProbHistogram)
        y = app.history.data.y_test
        assert np.allclose(hist.probs, fake_probabilities(y, 3)[i])
        await pilot.press("left_square_bracket")
        assert app.view_epoch == 2 and np.allclose(hist.probs, fake_probabilities(y, 2)[i])
        assert "model after epoch 2 of 3" in str(app.query_one("#viewer-info").render())
        await pilot.press("left_square_bracket", "left_square_bracket")  # stops at the first epoch
        assert app.view_epoch == 1 and np.allclose(hist.probs, fake_probabilities(y, 1)[i])
        await pilot.press("i")
        grid = app.query_one(ConfusionGrid)
        await wait_for(pilot, lambda: grid.matrix is not None)
        expected = np.zeros((10, 10), int)
        np.add.at(expected, (y, fake_probabilities(y, 1).argmax(1)), 1)
        assert np.array_equal(grid.matrix, expected)  # the matrix of epoch 1
        assert "after epoch 1" in app.inspect_view.title
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert app.view_epoch is None  # back to following the latest
        assert "final" in app.inspect_view.title


async def test_opening_a_finished_run_shows_its_charts_viewer_and_inspect(real_data_dir: Path,
                                                                          tmp_path: Path) -> None:
    run = train_run(tmp_path, preset_config("scratch").with_changes(data_path=str(real_data_dir), limit=1000,
                                                                    epochs=2))
    app = make_app(runs_dir=tmp_path, source=FakeRunSource(), attach=run)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.history.finished is not None, timeout=10)
        assert app.history.batches == 2 * 32 and len(app.history.epochs) == 2
        assert app.history.prediction_epochs() == [1, 2]
        assert app.tabs.active == "train"
        await pilot.pause(0.3)
        assert app.loss_chart.points_plotted > 0
        assert not app.session.live  # nothing to control: the run is over
        await pilot.press("p")
        assert any("Nothing is training" in str(n.message) for n in app._notifications)
        await pilot.press("i")
        await wait_for(pilot, lambda: app.query_one(ConfusionGrid).matrix is not None)
        assert app.query_one(ConfusionGrid).matrix.sum() == 10_000
        await pilot.press("d")
        await wait_for(pilot, lambda: app.draw_view.predict is not None)  # from the run's checkpoint, in NumPy


async def test_draw_classifies_with_the_latest_checkpoint_while_training(real_data_dir: Path,
                                                                         tmp_path: Path) -> None:
    cfg = preset_config("scratch").with_changes(data_path=str(real_data_dir), limit=5000, epochs=300)
    app = make_app(cfg, runs_dir=tmp_path, warm=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s", "d")  # on the Draw tab: each epoch end brings its checkpoint
        await wait_for(pilot, lambda: "after epoch 1" in app.draw_view.model_label, timeout=60)
        assert app.session.live  # still training
        first = app.draw_view.predict
        await wait_for(pilot, lambda: "after epoch 3" in app.draw_view.model_label, timeout=60)
        assert app.draw_view.predict is not first  # a newer checkpoint, loaded off the UI thread
        x = app.history.data.x_test[:50]
        y = app.history.data.y_test[:50]
        assert (app.draw_view.predict(x).argmax(1) == y).mean() > 0.7
        await pilot.press("x")
        await wait_for(pilot, lambda: app.history.finished is not None, timeout=10)


async def test_r_in_runs_resumes_a_stopped_run_and_follows_it_live(real_data_dir: Path, tmp_path: Path) -> None:
    from mnist_tui.events import EpochEnd
    from mnist_tui.runs.process import run_job
    from mnist_tui.runs.rundir import create_run_dir
    from mnist_tui.training.control import TrainControl

    cfg = preset_config("scratch").with_changes(data_path=str(real_data_dir), limit=1000, epochs=4)
    run = create_run_dir(tmp_path, cfg)
    control = TrainControl()
    run_job(run, control=control, emit=lambda e: control.stop() if isinstance(e, EpochEnd) and e.epoch == 2 else None)
    app = make_app(cfg, runs_dir=tmp_path, warm=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "u")
        await wait_for(pilot, lambda: not app.runs_view.loading and app.runs_view.cursor_run is not None)
        assert app.runs_view.cursor_run.status == "stopped"
        await pilot.press("R")
        await wait_for(pilot, lambda: app.history.finished is not None and app.history.finished.status == "done",
                       timeout=60)
        assert app.history.started is not None and app.history.started.from_epoch == 2  # from its checkpoint
        assert [e.epoch for e in app.history.epochs] == [1, 2, 3, 4]  # each epoch once, in the same directory
        assert app.session.path == run
