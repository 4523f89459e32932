"""The Network tab: first-layer units or filters, dead units, histograms and update sizes per
epoch with [ and ], one digit through the latest checkpoint (in NumPy, off the UI thread),
for a fake run, a real recorded run and a model opened with ``mnist-tui open``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mnist_tui.app import make_app
from mnist_tui.config import preset_config
from mnist_tui.models.forward import load_checkpoint
from mnist_tui.screens.network import NO_RECORD, NetworkView, UnitGrid
from tests.runs_helpers import train_run, write_run
from tests.ui.conftest import wait_for
from tests.ui.fakes import FakeRunSource, FakeTrainer, fake_network, sample_digits
from tests.ui.screen_text import widget_lines

SIZE = (110, 34)


def text(app, selector: str) -> str:
    return str(app.query_one(selector).render())


def screen(app) -> str:
    return "\n".join(widget_lines(app.screen))


async def test_units_dead_units_and_epochs_of_a_fake_run(make) -> None:
    app = make(preset_config("mlp").with_changes(epochs=3), FakeTrainer(steps=10))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.history.finished is not None)
        assert app.history.network_epochs() == [0, 1, 2, 3]
        await pilot.press("w")
        await pilot.pause()
        view = app.query_one(NetworkView)
        assert app.tabs.active == "network" and app.focused is view
        assert "mlp: after epoch 3" in text(app, "#network-title") and "dead units 3 of 512" in text(app,
                                                                                                   "#network-title")
        grid = app.query_one(UnitGrid)
        assert grid.images is not None and grid.images.shape == (128, 14, 14)  # the first 128 units, 2× smaller
        assert "#0" in screen(app) and "#5" in screen(app)
        assert "unit 0 of 512" in text(app, "#network-unit-info") and "dead" in text(app, "#network-unit-info")
        await pilot.press("right", "right", "right", "right", "right")
        assert view.selected == 5 and "alive" in text(app, "#network-unit-info")
        await pilot.press("down")
        assert view.selected == 5 + grid.per_row
        await pilot.press("left_square_bracket")
        assert view.epoch == 2 and "after epoch 2" in text(app, "#network-title")
        await pilot.press("left_square_bracket", "left_square_bracket", "left_square_bracket")
        assert view.epoch == 0 and "initial weights (epoch 0)" in text(app, "#network-title")
        assert "dead units 0 of 512" in text(app, "#network-title")
        await pilot.press("2")
        hist = text(app, "#network-histograms")
        assert "dense 512 relu" in hist and "dense 10 softmax" in hist and "784×512 kernel" in hist
        assert all(f"e{e}" in hist for e in range(4))
        moves = text(app, "#network-updates")
        assert "epoch 0: —" in moves  # the initial weights: no update yet
        await pilot.press("right_square_bracket", "right_square_bracket")
        expected = fake_network(app.config, 2, sample_digits()[0]).record["updates"]
        assert f"epoch 2: {expected[0]:.3f}" in text(app, "#network-updates")
        await pilot.press("3")
        await pilot.pause()
        assert "once the first epoch has ended" in text(app, "#network-digit-text")  # a fake run has no checkpoint


async def test_the_cnn_shows_its_32_filters(make) -> None:
    app = make(preset_config("cnn").with_changes(epochs=1), FakeTrainer(steps=5))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.history.finished is not None)
        await pilot.press("w")
        await pilot.pause()
        grid = app.query_one(UnitGrid)
        assert grid.images is not None and grid.images.shape == (32, 10, 10)  # 5×5, twice as large
        assert "filter 0 of 32" in text(app, "#network-unit-info") and "5×5 weights" in text(app, "#network-unit-info")
        assert "dead units" not in text(app, "#network-title")
        await pilot.press("2")
        hist = text(app, "#network-histograms")
        assert "conv 32@5×5 relu" in hist and "conv 64@2×2 relu" in hist and "dense 1000 relu" in hist


async def test_a_run_without_records_says_so(tmp_path: Path) -> None:
    run = write_run(tmp_path, "20260102-120000-mlp")  # written from events: no network records
    app = make_app(runs_dir=tmp_path, source=FakeRunSource(), attach=run)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.history.finished is not None)
        await pilot.press("w")
        await pilot.pause()
        assert "no record yet" in text(app, "#network-title")
        assert NO_RECORD[:40] in screen(app).replace("\n", " ") or "No network record" in screen(app)
        await pilot.press("left_square_bracket")
        assert any("No network record" in str(n.message) for n in app._notifications)


async def test_one_digit_goes_through_the_latest_checkpoint_of_a_real_run(real_data_dir: Path, tmp_path: Path) -> None:
    run = train_run(tmp_path, preset_config("scratch").with_changes(data_path=str(real_data_dir), limit=1000,
                                                                    epochs=2))
    app = make_app(runs_dir=tmp_path, source=FakeRunSource(), attach=run)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.history.finished is not None)
        assert app.history.network_epochs() == [0, 1, 2]
        await pilot.press("v", "right", "right", "w", "3")  # the Viewer's digit #2
        view = app.query_one(NetworkView)
        await wait_for(pilot, lambda: view.activations is not None)
        assert view.digit_index == 2
        model = load_checkpoint(run / "checkpoint.npz")
        x = app.history.data.x_test[2]
        probs = model.predict(x[None])[0]
        assert np.allclose(view.activations[-1][0], probs, atol=1e-6)
        assert np.allclose(probs, app.history.predictions.probabilities[2], atol=2e-3)  # the trainer's own
        shown = text(app, "#network-digit-text")
        true = int(app.history.data.y_test[2])
        assert f"test digit #2, true {true}" in shown and "dense 100 sigmoid" in shown
        assert "dense 10 softmax" in shown and f"{probs.max():.3f}" in shown
        await pilot.press("1")
        assert "scratch: after epoch 2" in text(app, "#network-title")


async def test_ascii_mode_draws_the_tab_in_ascii(make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNIST_TUI_ASCII", "1")
    app = make(preset_config("mlp-small").with_changes(epochs=1), FakeTrainer(steps=5))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.history.finished is not None)
        await pilot.press("w")
        await pilot.pause()
        lines = widget_lines(app.query_one("#network-title")) + widget_lines(app.query_one("#network-weights-body"))
        assert all(line.isascii() for line in lines), [line for line in lines if not line.isascii()][:3]
        body = "\n".join(lines)
        assert "@" in body and "#" in body  # the signed ramp: both signs drawn
        assert "negative #=-'" in body
        await pilot.press("2")
        await pilot.pause()
        for selector in ("#network-histograms", "#network-updates"):  # (the tab strip is Textual's own)
            assert all(line.isascii() for line in widget_lines(app.query_one(selector)))


async def test_a_model_opened_with_mnist_tui_open_shows_its_network(real_data_dir: Path, tmp_path: Path) -> None:
    cfg = preset_config("scratch").with_changes(data_path=str(real_data_dir), limit=1000, epochs=1)
    run = train_run(tmp_path / "runs", cfg)
    app = make_app(cfg, runs_dir=tmp_path / "store", warm=False, open_model=run / "model.npz")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.history.finished is not None, timeout=60)
        assert app.history.network_epochs() == [0]
        await pilot.press("w")
        await pilot.pause()
        assert text(app, "#network-title").startswith("loaded model")  # a model file names no preset
        await pilot.press("3")
        view = app.query_one(NetworkView)
        await wait_for(pilot, lambda: view.activations is not None)
        assert "the loaded model" in text(app, "#network-digit-text")
