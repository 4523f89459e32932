"""The real app with the real trainer on a small slice of the real data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mnist_tui.app import make_app
from mnist_tui.config import preset_config
from mnist_tui.runs.store import read_metrics
from mnist_tui.screens.viewer import ViewerView
from mnist_tui.widgets.metric_chart import BatchChart
from mnist_tui.widgets.prob_histogram import ProbHistogram
from tests.ui.conftest import wait_for


async def test_real_mlp_run_fills_charts_and_viewer_and_saves_the_run(real_data_dir: Path, tmp_path: Path) -> None:
    cfg = preset_config("mlp").with_changes(data_path=str(real_data_dir), limit=3000, epochs=2)
    app = make_app(cfg, runs_dir=tmp_path, warm=False)
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.history.finished is not None, timeout=120)
        fin = app.history.finished
        assert fin.status == "done" and fin.epochs_completed == 2
        assert fin.test_accuracy > 0.85  # 3k images, 2 epochs of the real recipe
        assert app.history.batches == 2 * 24  # ceil(3000 / 128) per epoch
        await pilot.pause(0.4)
        for chart in app.query(BatchChart):
            assert chart.points_plotted > 0
        await pilot.press("v", "m")
        viewer = app.query_one(ViewerView)
        probs = app.history.predictions.probabilities
        assert probs.shape == (10_000, 10)
        i = viewer.nav.index
        y = app.history.data.y_test
        assert probs[i].argmax() != y[i], "m lands on a misclassified digit"
        hist = app.query_one(ProbHistogram)
        assert np.allclose(hist.probs, probs[i]) and hist.true_label == y[i]
        assert f"true {y[i]}" in str(app.query_one("#viewer-info").render())
    run_dir = Path(fin.run_dir)
    assert run_dir.parent == tmp_path
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "done" and abs(summary["test_accuracy"] - fin.test_accuracy) < 1e-9
    m = read_metrics(run_dir)
    assert (m["n_batches"], m["n_epochs"]) == (48, 2)
    assert (run_dir / "model.keras").stat().st_size > 0
