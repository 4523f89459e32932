"""Faults in the real app with the real trainer: unwritable run store, quitting mid-epoch."""

from __future__ import annotations

import json
import time
from pathlib import Path

from mnist_tui.app import make_app
from mnist_tui.config import preset_config
from mnist_tui.screens.confirm import ConfirmScreen
from tests.ui.conftest import wait_for


async def test_unwritable_runs_dir_offers_training_without_saving(tiny_idx_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cfg = preset_config("scratch").with_changes(data_path=str(tiny_idx_dir), batch_size=8, epochs=2)
    app = make_app(cfg, runs_dir=blocker / "runs", preload_tf=False)
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = str(app.screen.query_one("#confirm-question").render())
        assert "cannot write run directory" in question and "without saving" in question
        await pilot.press("y")
        await wait_for(pilot, lambda: app.history.finished is not None)
        assert app.history.finished.status == "done" and app.history.finished.run_dir is None
        assert app.history.batches == 2 * 8


async def test_declining_the_unsaved_run_starts_nothing(tiny_idx_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    cfg = preset_config("scratch").with_changes(data_path=str(tiny_idx_dir), batch_size=8)
    app = make_app(cfg, runs_dir=blocker / "runs", preload_tf=False)
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await pilot.pause(0.2)
        assert not app.running and app.history.batches == 0
        assert any("--runs-dir" in n.message for n in app._notifications)


async def test_quit_mid_epoch_exits_fast_and_keeps_the_run(real_data_dir: Path, tmp_path: Path) -> None:
    """The issue's promise: quit mid-epoch → out within 2 s, worker gone, run saved as stopped."""
    cfg = preset_config("mlp").with_changes(data_path=str(real_data_dir), epochs=3, batch_size=32)  # 625 steps
    app = make_app(cfg, runs_dir=tmp_path, preload_tf=False)
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.history.batches > 20, timeout=60)
        assert app.history.epochs == []  # still inside epoch 1
        worker = app.worker
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        t0 = time.monotonic()
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.running, timeout=10)
        elapsed = time.monotonic() - t0
    assert elapsed < 2.0, f"took {elapsed:.2f}s to stop"
    assert app.return_code == 0
    assert worker is not None and worker.is_finished and worker.state.name == "SUCCESS"
    (run_dir,) = list(tmp_path.iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "stopped"
    rows = (run_dir / "metrics.csv").read_text().splitlines()[1:]
    assert len(rows) == summary["epochs_completed"] + app.history.batches  # every batch made it to disk
    assert (run_dir / "model.keras").stat().st_size > 0  # the partial epoch's model, complete
    assert not list(run_dir.glob(".*"))  # no temp files left behind
