"""Faults in the real app with the real trainer: unwritable run store, quitting mid-epoch."""

from __future__ import annotations

import json
import time
from pathlib import Path

from mnist_tui.app import make_app
from mnist_tui.config import preset_config
from mnist_tui.runs.store import read_metrics
from mnist_tui.screens.confirm import ChoiceScreen, ConfirmScreen
from tests.ui.conftest import wait_for


async def test_unwritable_runs_dir_offers_training_without_saving(tiny_idx_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cfg = preset_config("scratch").with_changes(data_path=str(tiny_idx_dir), batch_size=8, epochs=2)
    app = make_app(cfg, runs_dir=blocker / "runs", warm=False)
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = str(app.screen.query_one("#confirm-question").render())
        assert "cannot write run directory" in question and "without saving" in question
        await pilot.press("y")
        await wait_for(pilot, lambda: app.history.finished is not None)
        assert app.history.finished.status == "done" and app.history.batches == 2 * 8
        await pilot.pause(0.2)
        status = str(app.query_one("#train-status").render())
        assert "not saved" in status and "saved to" not in status
        scratch_dir = app.session.path
        assert scratch_dir is not None and app.session.handle.temporary
    assert not scratch_dir.exists()  # the unsaved run's scratch directory is gone with the app


async def test_declining_the_unsaved_run_starts_nothing(tiny_idx_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    cfg = preset_config("scratch").with_changes(data_path=str(tiny_idx_dir), batch_size=8)
    app = make_app(cfg, runs_dir=blocker / "runs", warm=False)
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await pilot.pause(0.2)
        assert not app.running and app.history.batches == 0
        assert any("--runs-dir" in n.message for n in app._notifications)


async def test_quit_mid_epoch_exits_fast_and_keeps_the_run(real_data_dir: Path, tmp_path: Path) -> None:
    """Quit and stop mid-epoch: the trainer process ends within 2 s with every batch on disk,
    the model of the last batch saved, the run recorded as stopped, and no process left."""
    cfg = preset_config("mlp").with_changes(data_path=str(real_data_dir), epochs=3, batch_size=32)  # 625 steps
    app = make_app(cfg, runs_dir=tmp_path, warm=False)
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.history.batches > 20, timeout=90)
        assert app.history.epochs == []  # still inside epoch 1
        trainer = app.session.handle.proc
        await pilot.press("q")
        assert isinstance(app.screen, ChoiceScreen)
        t0 = time.monotonic()
        await pilot.press("s")  # stop the run and quit
        await wait_for(pilot, lambda: app.history.finished is not None, timeout=10)
        elapsed = time.monotonic() - t0
    assert elapsed < 2.0, f"took {elapsed:.2f}s to stop"
    assert app.return_code == 0
    assert trainer.wait(timeout=5) == 0  # the trainer process ended by itself
    (run_dir,) = list(tmp_path.iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "stopped" and summary["evaluated"] is False
    m = read_metrics(run_dir)
    assert m["n_batches"] == app.history.batches >= 20  # every batch made it to disk
    assert (run_dir / "model.keras").stat().st_size > 0  # the partial epoch's model, complete
    assert not list(run_dir.glob(".*"))  # no temp files left behind
    assert not _children_alive(), "a trainer process was left behind"


def _children_alive() -> list[str]:
    """Trainer processes (ours: python -m mnist_tui.runs.process) still running."""
    import subprocess

    out = subprocess.run(["pgrep", "-f", "mnist_tui.runs.process"], capture_output=True, text=True).stdout
    return [pid for pid in out.split() if pid.strip()]
