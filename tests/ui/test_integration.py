"""The inspect, runs, draw and explore tabs wired into the real app."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mnist_tui.app import make_app
from mnist_tui.config import preset_config
from mnist_tui.screens.draw import DrawView
from mnist_tui.screens.inspect import InspectView
from mnist_tui.screens.runs import RunsView
from mnist_tui.screens.viewer import ViewerView
from mnist_tui.widgets.confusion_grid import ConfusionGrid
from tests.ui.conftest import wait_for
from tests.ui.fakes import FakeRunSource, FakeTrainer, fake_probabilities, sample_digits

SIZE = (110, 34)


async def test_confusion_cell_drills_down_to_exactly_those_digits() -> None:
    app = make_app(preset_config("mlp").with_changes(epochs=2), source=FakeRunSource(FakeTrainer()), seed=0)
    _x, y = sample_digits()
    pred = fake_probabilities(y, 2).argmax(1)
    conf = np.zeros((10, 10), int)
    np.add.at(conf, (y, pred), 1)
    off = [(t, p) for t in range(10) for p in range(10) if t != p and conf[t, p]]
    t_cls, p_cls = off[0]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.history.finished is not None)
        await pilot.press("i")
        grid = app.query_one(ConfusionGrid)
        assert app.focused is grid
        assert np.array_equal(grid.matrix, conf)
        assert "final" in str(app.query_one(InspectView).title)
        while grid.cursor != (t_cls, p_cls):
            row, col = grid.cursor
            await pilot.press("down" if row < t_cls else "up" if row > t_cls else "right" if col < p_cls else "left")
        await pilot.press("enter")
        assert app.tabs.active == "viewer"
        nav = app.query_one(ViewerView).nav
        visited = set()
        for _ in range(conf[t_cls, p_cls] + 1):
            assert y[nav.index] == t_cls and pred[nav.index] == p_cls
            visited.add(nav.index)
            await pilot.press("right")
        assert len(visited) == conf[t_cls, p_cls]
        assert f"predicted as {p_cls}" in str(app.query_one("#viewer-hint").render())
        await pilot.press("a")
        assert nav.class_filter is None and nav.pred_filter is None


async def test_draw_tab_uses_the_model_handed_over_at_the_end_of_a_run(real_data_dir: Path,
                                                                      tmp_path: Path) -> None:
    cfg = preset_config("scratch").with_changes(data_path=str(real_data_dir), limit=5000, epochs=2)
    app = make_app(cfg, runs_dir=tmp_path, warm=False)
    x, y = sample_digits()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        draw = app.query_one(DrawView)
        assert draw.predict is None
        await pilot.press("s")
        await wait_for(pilot, lambda: app.history.finished is not None, timeout=60)
        assert draw.predict is not None and "scratch" in draw.model_label
        await pilot.press("d")
        hits = 0
        for i in range(20):  # real test digits drawn onto the canvas are classified like the test set
            draw.canvas.set_image(x[i] / 255.0)
            await pilot.pause()
            hits += int(draw.probs is not None and int(np.argmax(draw.probs)) == y[i])
        assert hits >= 16


async def test_explore_gets_the_loaded_data_and_runs_tab_lists_the_run(real_data_dir: Path, tmp_path: Path) -> None:
    cfg = preset_config("scratch").with_changes(data_path=str(real_data_dir), limit=1000, epochs=1)
    app = make_app(cfg, runs_dir=tmp_path, warm=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.history.finished is not None, timeout=60)
        await pilot.press("l")
        explore = app.query_one("#explore-view")
        assert explore.n_train == 1000 and explore.facts is not None
        await pilot.press("u")
        runs = app.query_one(RunsView)
        assert [r.status for r in runs.runs] == ["done"]
        assert app.focused is runs.table


async def test_open_saved_model_fills_viewer_inspect_and_draw(real_data_dir: Path, tmp_path: Path) -> None:
    from tests.runs_helpers import train_run

    run = train_run(tmp_path, preset_config("scratch").with_changes(data_path=str(real_data_dir), limit=3000,
                                                                    epochs=1))
    model_path = run / "model.npz"
    trained = json.loads((run / "summary.json").read_text())
    app = make_app(preset_config("mlp").with_changes(data_path=str(real_data_dir)), runs_dir=tmp_path,
                   warm=False, open_model=model_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.history.finished is not None, timeout=60)
        assert app.history.finished.test_accuracy == trained["test_accuracy"]
        assert app.session.handle.proc is not None  # evaluated in a trainer process, not in the app
        await pilot.press("i")  # the matrix is painted when its tab opens
        await wait_for(pilot, lambda: app.query_one(ConfusionGrid).matrix is not None)
        assert app.query_one(ConfusionGrid).matrix.sum() == 10_000
        await wait_for(pilot, lambda: app.query_one(DrawView).predict is not None)
        await pilot.press("v", "m")
        nav = app.query_one(ViewerView).nav
        probs = app.history.predictions.probabilities
        assert probs[nav.index].argmax() != app.history.data.y_test[nav.index]


async def test_a_hidden_draw_tab_reads_the_checkpoint_when_it_opens_not_at_every_epoch_end(
        real_data_dir: Path, tmp_path: Path) -> None:
    """The app's own CPU while a run trains: with Draw hidden an epoch end reads no checkpoint
    (short mlp epochs would read one several times a second); opening the tab reads the latest,
    and the run's end reads it once more."""
    cfg = preset_config("scratch").with_changes(data_path=str(real_data_dir), limit=2000, epochs=200)
    app = make_app(cfg, runs_dir=tmp_path, warm=False)
    reads: list[str] = []
    real = app._read_checkpoint

    def spy(path: Path, run: str) -> None:
        reads.append(app.tabs.active)
        real(path, run)

    app._read_checkpoint = spy  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.history.checkpoint_epoch >= 3, timeout=60)
        assert reads == [] and app.history.finished is None  # three epoch ends, nothing read
        await pilot.press("d")
        await wait_for(pilot, lambda: app.query_one(DrawView).predict is not None)
        assert reads[0] == "draw"
        await pilot.press("t")
        on_draw = len(reads)
        epoch = app.history.checkpoint_epoch
        await wait_for(pilot, lambda: app.history.checkpoint_epoch >= epoch + 2, timeout=60)
        assert len(reads) == on_draw  # hidden again: no reads
        await pilot.press("x")
        await wait_for(pilot, lambda: app.history.finished is not None, timeout=60)
        await wait_for(pilot, lambda: len(reads) == on_draw + 1)
        assert reads[-1] == "train"  # the run's end: the final model, read once
        await pilot.press("d")
        await pilot.pause(0.2)
        assert len(reads) == on_draw + 1  # already the latest
        assert app.query_one(DrawView).predict is not None
