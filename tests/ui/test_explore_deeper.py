"""Explore, deeper: the softmax drawn for logits you change and a temperature, and the loss
along the line from a real run's initial weights to its trained ones."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from mnist_tui.app import make_app
from mnist_tui.config import preset_config
from mnist_tui.models.forward import load_checkpoint
from mnist_tui.models.landscape import ALPHAS, loss_line
from mnist_tui.render.explore import softmax_with_temperature
from mnist_tui.screens.explore import START_LOGITS, ExploreView, LandscapeChart
from tests.runs_helpers import train_run
from tests.ui.conftest import wait_for
from tests.ui.fakes import FakeRunSource
from tests.ui.test_explore_view import Host, text_of


async def test_the_softmax_follows_the_logits_and_the_temperature() -> None:
    app = Host()
    async with app.run_test(size=(110, 34)) as pilot:
        view = app.query_one(ExploreView)
        await pilot.press("4")
        assert view.section == "explore-softmax-play"
        start = softmax_with_temperature(np.array(START_LOGITS), 1.0)
        assert f"{start.max():.3f}" in text_of(app, "#explore-play")
        await pilot.press("down", "right", "right", "right", "right")  # logit 4: -1.0 → +1.0
        assert view.logit == 4 and view.logits[4] == 1.0
        await pilot.press("minus", "minus")  # colder: T 1.0 → 0.5
        assert view.temperature == 0.5
        probs = softmax_with_temperature(view.logits, 0.5)
        shown = text_of(app, "#explore-play")
        assert "T = 0.5" in shown and f"{probs[4]:.3f}" in shown and f"{probs.max():.3f}" in shown
        for _ in range(12):
            await pilot.press("plus")
        assert view.temperature == 10.0 and "T = 10" in text_of(app, "#explore-play")
        hot = softmax_with_temperature(view.logits, 10.0)
        assert hot.max() - hot.min() < 0.1  # near uniform
        await pilot.press("0")
        assert view.temperature == 1.0 and list(view.logits) == list(START_LOGITS)
        await pilot.press("2")  # the naive-overflow demo is still on Activations
        assert "[nan nan nan]" in text_of(app, "#explore-softmax")
        await pilot.press("right")  # arrows mean nothing there
        assert list(view.logits) == list(START_LOGITS)


async def test_the_loss_landscape_of_a_real_run(real_data_dir: Path, tmp_path: Path) -> None:
    run = train_run(tmp_path, preset_config("scratch").with_changes(data_path=str(real_data_dir), limit=2000,
                                                                    epochs=2))
    app = make_app(runs_dir=tmp_path, source=FakeRunSource(), attach=run)
    async with app.run_test(size=(110, 34)) as pilot:
        await wait_for(pilot, lambda: app.history.finished is not None)
        await pilot.press("l", "5")
        chart = app.query_one(LandscapeChart)
        await wait_for(pilot, lambda: chart.line is not None, timeout=20)
        line = chart.line
        start, end = load_checkpoint(run / "checkpoint-initial.npz"), load_checkpoint(run / "checkpoint.npz")
        x, y = app.history.data.x_test[:1000], app.history.data.y_test[:1000]
        expected = loss_line(start, end, x, y)
        assert np.allclose(line.losses, expected.losses) and line.images == 1000 and line.epoch == 2
        at0, at1 = list(ALPHAS).index(0.0), list(ALPHAS).index(1.0)
        assert abs(line.losses[at0] - math.log(10)) < 0.5  # a random net: about ln 10
        assert line.losses[at1] < 0.7 and line.accuracies[at1] > 0.8  # trained
        assert (np.diff(line.losses[at0:at1 + 1]) < 0).all()  # the classic picture: down all the way
        info = text_of(app, "#explore-landscape-info")
        assert f"loss {line.losses[at1]:.3f}" in info and "falls all the way" in info
        rising = "rises again" if line.losses[-1] > line.losses[at1] else "keeps falling"  # 2 epochs: not yet
        assert rising in info
