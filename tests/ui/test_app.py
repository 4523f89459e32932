"""Pilot tests of the real app with a fake trainer: keys, form validation, viewer, quit."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from textual.widgets import Input, Label, Select, TabbedContent

from mnist_tui.errors import DatasetError
from mnist_tui.events import DONE, FAILED, PAUSED, STOPPED, TRAINING
from mnist_tui.screens.confirm import ChoiceScreen, ConfirmScreen
from mnist_tui.screens.viewer import ViewerView
from mnist_tui.widgets.cached_plot import CachedPlot
from mnist_tui.widgets.metric_chart import BatchChart
from mnist_tui.widgets.prob_histogram import ProbHistogram
from tests.ui.conftest import wait_for
from tests.ui.fakes import FakeRunSource, FakeTrainer, fake_probabilities, sample_digits

SIZE = (110, 34)


def active_tab(app) -> str:
    return app.query_one(TabbedContent).active


async def test_start_runs_and_finishes(make, fake: FakeTrainer) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.history.finished is not None)
        assert active_tab(app) == "train"
        assert len(fake.calls) == 1 and fake.calls[0].preset == "mlp"
        assert app.history.batches == fake.steps * 2
        assert app.history.phase == DONE
        assert len(app.history.epochs) == 2
        await pilot.pause(0.3)
        chart = app.query_one("#chart-loss", BatchChart)
        assert chart.points_plotted > 0
        status = str(app.query_one("#train-status").render())
        assert "DONE" in status and "test accuracy" in status


async def test_pause_resume_stop(make) -> None:
    gate = threading.Event()
    fake = FakeTrainer(gate=gate, batch_delay=0.02)
    app = make(trainer=fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: len(fake.controls) == 1)
        control = fake.controls[0]
        gate.set()
        await wait_for(pilot, lambda: app.history.batches >= 3)
        await pilot.press("p")
        assert control.paused
        await wait_for(pilot, lambda: app.history.phase == PAUSED)
        paused_at = app.history.batches
        await pilot.pause(0.2)
        assert app.history.batches == paused_at, "batches must not advance while paused"
        await pilot.press("p")
        await wait_for(pilot, lambda: app.history.phase == TRAINING or app.history.batches > paused_at)
        gate.clear()  # hold it mid-epoch so stop lands inside an epoch
        await pilot.press("x")
        gate.set()
        await wait_for(pilot, lambda: app.history.finished is not None)
        assert app.history.finished.status == STOPPED
        assert app.history.phase == STOPPED
        assert app.history.batches < fake.steps * 2
        assert not app.running


async def test_start_while_running_is_refused(make) -> None:
    gate = threading.Event()
    fake = FakeTrainer(gate=gate)
    app = make(trainer=fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.running and len(fake.calls) == 1)
        await pilot.press("s")
        await pilot.pause(0.1)
        assert len(fake.calls) == 1
        assert any("already in progress" in n.message for n in app._notifications)
        fake.controls[0].stop()
        gate.set()
        await wait_for(pilot, lambda: not app.running)


BAD_VALUES = [
    ("epochs", "0", "at least 1"),
    ("epochs", "-3", "at least 1"),
    ("epochs", "abc", "whole number"),
    ("epochs", "2.5", "whole number"),
    ("epochs", "", "empty"),
    ("epochs", "99999999", "too large (max 10,000)"),
    ("batch_size", "0", "at least 1"),
    ("batch_size", "nan", "finite"),
    ("learning_rate", "0", "must be in"),
    ("learning_rate", "-0.1", "must be in"),
    ("learning_rate", "inf", "finite"),
    ("learning_rate", "fast", "number"),
    ("hidden_units", "0", "at least 1"),
    ("dropout", "1", "too large (must be below 1)"),
    ("dropout", "-0.2", "must be in"),
    ("momentum", "1.5", "too large (must be below 1)"),
    ("val_split", "1", "too large (must be below 1)"),
    ("limit", "0", "at least 1"),
    ("seed", "-1", "at least 0"),
]


async def test_form_rejects_bad_value_inline_and_refuses_start(make, fake: FakeTrainer) -> None:
    """Each bad value in turn, in one app (19 app starts cost a minute of the suite): its
    message inline, the row marked, Start refused; fixing it clears the error again."""
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        for field, value, message in BAD_VALUES:
            case = (field, value)
            app.clear_notifications()
            widget = app.query_one(f"#field-{field}", Input)
            widget.focus()
            widget.value = ""
            await pilot.press(*value) if value else None
            await pilot.pause()
            error = app.query_one(f"#error-{field}", Label)
            assert error.has_class("-visible"), case
            assert message in str(error.render()), (case, str(error.render()))
            assert app.query_one(f"#row-{field}").has_class("-invalid"), case
            assert app.config is None, case
            await pilot.press("escape", "s")
            await pilot.pause()
            assert fake.calls == [], case
            assert any("Cannot start" in n.message for n in app._notifications), case
            # Fixing the value clears the error again.
            widget.value = {"limit": "", "val_split": "0", "dropout": "0", "momentum": "0"}.get(field, "1")
            await pilot.pause()
            assert not error.has_class("-visible"), case
            assert app.config is not None, case


async def test_preset_picker_fills_form_and_keyboard_edits_reach_trainer(make, fake: FakeTrainer) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        select = app.query_one("#field-preset", Select)
        select.focus()
        await pilot.press("enter")  # open the list
        await pilot.press("down", "down", "enter")  # mlp → mlp-small → cnn
        await pilot.pause()
        assert select.value == "cnn"
        assert app.query_one("#field-epochs", Input).value == "5"
        assert app.query_one("#field-batch_size", Input).value == "32"
        assert app.query_one("#field-hidden_units", Input).value == "1000"
        assert app.query_one("#field-loss", Select).value == "sparse"
        assert app.query_one("#model-summary").total_params == 3_156_098
        batch = app.query_one("#field-batch_size", Input)
        # As a user would: Tab from the model picker to the batch size (Tab selects the old value).
        await pilot.press(*["tab"] * 7)
        assert app.focused is batch
        await pilot.press("6", "4")
        await pilot.pause()
        assert batch.value == "64"
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.history.finished is not None)
        cfg = fake.calls[0]
        assert (cfg.preset, cfg.batch_size, cfg.epochs, cfg.optimizer) == ("cnn", 64, 5, "adam")


async def test_viewer_navigation_and_filters(make, fake: FakeTrainer) -> None:
    app = make()
    _x, y = sample_digits()
    probs = fake_probabilities(y, 2)
    wrong = np.flatnonzero(probs.argmax(1) != y)
    assert len(wrong) > 2
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.history.finished is not None)
        await pilot.press("v")
        assert active_tab(app) == "viewer"
        viewer = app.query_one(ViewerView)
        nav = viewer.nav
        assert nav is not None and nav.index == 0
        await pilot.press("right", "right")
        assert nav.index == 2
        await pilot.press("left")
        assert nav.index == 1
        await pilot.press("m")
        assert nav.index == wrong[wrong > 1][0]
        await pilot.press("m")
        assert nav.index == wrong[wrong > 1][1]
        await pilot.press("M")
        assert nav.index == wrong[wrong > 1][0]
        await pilot.press("7")
        assert y[nav.index] == 7
        await pilot.press("right")
        assert y[nav.index] == 7
        await pilot.press("r")
        assert y[nav.index] == 7
        await pilot.press("a")
        assert nav.class_filter is None
        info = str(app.query_one("#viewer-info").render())
        assert f"#{nav.index}" in info and f"true {y[nav.index]}" in info
        hist = app.query_one(ProbHistogram)
        assert hist.probs is not None and np.allclose(hist.probs, probs[nav.index])
        assert "◂ predicted" in str(hist.render()) and "true▸" in str(hist.render())


async def test_viewer_keys_only_act_on_the_viewer_tab(make) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.history.finished is not None)
        nav = app.query_one(ViewerView).nav
        assert nav is not None
        await pilot.press("t", "right", "right", "7")  # on the charts: nothing happens to the viewer
        assert (nav.index, nav.class_filter) == (0, None)
        await pilot.click("#tabs Tab#--content-tab-viewer")  # by mouse: the arrows still step digits
        await pilot.pause()
        assert active_tab(app) == "viewer"
        await pilot.press("right")
        assert nav.index == 1


async def test_viewer_before_any_run_says_so(make) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "v", "right", "m", "3")
        assert "No test data yet" in str(app.query_one("#viewer-info").render())


async def test_quit_asks_while_training_and_stops_cleanly(make) -> None:
    gate = threading.Event()
    fake = FakeTrainer(gate=gate)
    app = make(trainer=fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.running and len(fake.controls) == 1)
        await pilot.press("q")
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("c")  # cancel
        assert not isinstance(app.screen, ChoiceScreen)
        assert app.running
        await pilot.press("q")
        await pilot.press("s")  # stop the run, then quit
        await wait_for(pilot, lambda: fake.finished.is_set(), timeout=5)
        control = fake.controls[0]
        assert control.stop_requested and control.quick
    assert app.return_code == 0
    assert fake.finished.is_set()


async def test_quit_can_leave_the_run_training(make) -> None:
    gate = threading.Event()
    fake = FakeTrainer(gate=gate)
    app = make(trainer=fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.running and len(fake.controls) == 1)
        await pilot.press("q", "b")  # keep it training in the background
        await pilot.pause()
    assert app.return_code == 0
    assert not fake.controls[0].stop_requested  # the run was not told to stop
    assert app.source.shut_down  # and the idle warm trainer was let go
    fake.controls[0].stop()
    gate.set()


async def test_quit_when_idle_exits_at_once(make) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "q")
        await pilot.pause()
    assert app.return_code == 0


async def test_trainer_failure_becomes_notification_not_crash(make) -> None:
    fake = FakeTrainer(fail=DatasetError("/nope: no such file or directory"))
    app = make(trainer=fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: not app.running and len(fake.calls) == 1)
        await pilot.pause(0.1)
        assert app.history.phase == FAILED
        messages = [n.message for n in app._notifications]
        assert any("/nope: no such file or directory" in m for m in messages)
        assert "FAILED" in str(app.query_one("#train-status").render())
        # The app is still alive and can start again.
        fake.fail = None
        await pilot.press("s")
        await wait_for(pilot, lambda: app.history.finished is not None)
        assert app.history.phase == DONE


async def test_nan_loss_ends_run_as_failed_with_reason(make) -> None:
    fake = FakeTrainer(nan_at=5)
    app = make(trainer=fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.history.finished is not None)
        assert app.history.finished.status == FAILED
        assert "loss became nan" in app.history.finished.reason
        assert app.history.batches == 5
        assert any("loss became nan" in n.message for n in app._notifications)


async def test_resize_down_to_80x24_and_back(make) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.history.finished is not None)
        for size in [(80, 24), (200, 60), (90, 30), (80, 24)]:
            await pilot.resize_terminal(*size)
            for tab in ("t", "v", "e"):
                await pilot.press(tab)
                await pilot.pause()
            assert app.size == size
        await pilot.press("t")
        await pilot.pause(0.3)
        for chart in app.query(BatchChart):
            assert chart.size.width > 10 and chart.size.height >= 5
        await pilot.press("v")
        hist = app.query_one(ProbHistogram)
        assert hist.size.height >= 11  # title + ten bars


async def test_marker_cycles_and_help_toggles(make) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "c")
        assert {c.marker for c in app.query(BatchChart)} == {"hd"}
        await pilot.press("c", "c")
        assert {c.marker for c in app.query(BatchChart)} == {"braille"}
        await pilot.press("question_mark")
        assert app.screen.query("HelpPanel")
        await pilot.press("question_mark")
        assert not app.screen.query("HelpPanel")


async def test_every_binding_has_id_and_description() -> None:
    from mnist_tui.app import MnistApp
    from mnist_tui.screens.explore import ExploreView
    from mnist_tui.screens.runs import RunsView
    from mnist_tui.widgets.confusion_grid import ConfusionGrid
    from mnist_tui.widgets.draw_canvas import DrawCanvas

    for cls in (MnistApp, ViewerView, ConfirmScreen, ChoiceScreen, RunsView, ExploreView, ConfusionGrid, DrawCanvas):
        for binding in cls.BINDINGS:
            assert binding.id, f"{cls.__name__}: {binding.key} has no id"
            assert binding.description, f"{cls.__name__}: {binding.key} has no description"


async def test_actions_are_in_the_command_palette(make) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        titles = {cmd.title for cmd in app.get_system_commands(app.screen)}
        for title in ("Start training", "Pause / resume training", "Stop training", "Show digit viewer",
                      "Show training charts", "Show setup", "Preset: cnn"):
            assert title in titles


async def test_steps_per_epoch_shown_next_to_batch_size(tiny_idx_dir) -> None:
    fake = FakeTrainer()
    from mnist_tui.app import make_app
    from mnist_tui.config import preset_config

    app = make_app(preset_config("mlp").with_changes(data_path=str(tiny_idx_dir), batch_size=10),
                   source=FakeRunSource(fake))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        hint = app.query_one("#hint-steps", Label)
        assert "7 steps/epoch = ⌈64 / 10⌉" in str(hint.render())  # the tiny dataset has 64 images
        app.query_one("#field-batch_size", Input).value = "64"
        await pilot.pause()
        assert "1 steps/epoch = ⌈64 / 64⌉" in str(hint.render())
        app.query_one("#field-limit", Input).value = "50"
        app.query_one("#field-batch_size", Input).value = "8"
        await pilot.pause()
        assert "7 steps/epoch = ⌈50 / 8⌉" in str(hint.render())


async def test_too_small_terminal_says_so_and_recovers(make) -> None:
    from textual.widgets import Static

    app = make()
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        notice = app.query_one("#too-small", Static)
        assert notice.display and "Terminal too small: 60×20" in str(notice.render())
        assert "80×24" in str(notice.render())
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not notice.display
        await pilot.resize_terminal(79, 30)
        await pilot.pause()
        assert notice.display


async def test_resize_storm_while_training_keeps_everything_consistent(make) -> None:
    fake = FakeTrainer(steps=150, batch_delay=0.002)
    app = make(trainer=fake)
    sizes = [(80, 24), (200, 60), (81, 25), (120, 40), (60, 15), (300, 90), (100, 30), (80, 24), (133, 37)]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.history.batches > 5)
        for size in sizes:
            await pilot.resize_terminal(*size)
            await pilot.pause(0.01)
            await pilot.press("v" if size[0] % 2 else "t")
        await wait_for(pilot, lambda: app.history.finished is not None, timeout=30)
        assert app.history.finished.status == "done"
        assert app.history.batches == 150 * 2
        await pilot.resize_terminal(110, 34)
        await pilot.press("t")
        await pilot.pause(0.3)
        for chart in app.query(BatchChart):
            assert chart.points_plotted > 0 and chart.size.width > 10


async def test_animations_off_unless_asked_for(make, monkeypatch) -> None:
    """The tab underline's slide repaints at 60 Hz: off by default, TEXTUAL_ANIMATIONS opts back in."""
    monkeypatch.delenv("TEXTUAL_ANIMATIONS", raising=False)
    assert make().animation_level == "none"
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "full")
    assert make().animation_level == "full"


def test_chart_pace_follows_what_a_picture_costs() -> None:
    """Charts take at most CHART_BUDGET of the UI thread: dearer pictures, rarer redraws."""
    from mnist_tui.app import CHART_BUDGET, CHART_MAX_INTERVAL, CHART_MIN_INTERVAL, chart_interval

    assert chart_interval(0.0) == CHART_MIN_INTERVAL  # cheap: the 2 Hz ceiling
    assert chart_interval(0.040) == pytest.approx(0.040 / CHART_BUDGET)  # 40 ms a redraw: once a second
    assert chart_interval(10.0) == CHART_MAX_INTERVAL  # never stalls for long


async def test_charts_time_their_pictures_and_catch_up_at_the_end(make) -> None:
    """Each new chart picture records its build cost (the pace's input), and the run's end
    redraws whatever the paced ticks had not shown yet."""
    fake = FakeTrainer(batch_delay=0.002)
    app = make(trainer=fake)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.history.finished is not None)
        await pilot.pause(0.3)
        charts = app.query(BatchChart)
        assert all(chart.build_seconds > 0 for chart in charts)  # built at least once, and timed
        assert app._drawn_epochs == len(app.history.epochs)  # the final redraw caught up


async def test_setup_says_which_data_a_run_will_use_before_s(make, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """A first-time user sees where the images come from, and how many, before pressing s."""
    from mnist_tui.data import sources
    from tests.network_helpers import FixedNetwork

    monkeypatch.delenv("MNIST_TUI_DATA", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras"))
    monkeypatch.setattr(sources, "_NETWORK", FixedNetwork(online=False))
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "bundled 20k subset (offline)" in str(app.query_one("#hint-data").render()))
        assert "MNIST, bundled" in str(app.query_one("#hint-data").render())  # right under the data path
        assert "20,000" in str(app.query_one("#hint-steps").render())  # the steps/epoch hint counts them


async def test_showing_the_training_tab_again_rebuilds_no_chart(make) -> None:
    """Textual sends each chart a Resize every time its tab is shown again, at the size it
    had: that must not rebuild the picture (four plotext builds before the tab's frame)."""
    app = make(trainer=FakeTrainer(steps=60))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.history.finished is not None)
        await pilot.pause(0.3)
        charts = list(app.query(CachedPlot))
        versions = [chart._version for chart in charts]
        for key in ("v", "t", "v", "t"):
            await pilot.press(key)
            await pilot.pause(0.1)
        assert [chart._version for chart in charts] == versions
        await pilot.resize_terminal(SIZE[0] + 10, SIZE[1])  # a real new size does redraw
        await wait_for(pilot, lambda: all(c._version > v for c, v in zip(charts[:2], versions[:2], strict=True)))


async def test_the_paced_redraw_draws_one_chart_at_a_time_and_catches_up_after_a_switch(
        make, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between two charts of a paced redraw the app handles what is waiting (a key); a switch
    away mid-way leaves the rest for the next showing, which redraws all of it."""
    import mnist_tui.app as app_module

    monkeypatch.setattr(app_module, "CHART_GAP_SECONDS", 0.5)  # a gap long enough to act in
    gate = threading.Event()
    app = make(trainer=FakeTrainer(steps=200, gate=gate, hold_after=(120,)))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "s")
        gate.set()
        await wait_for(pilot, lambda: app.history.batches == 120)
        await pilot.pause(0.3)
        loss, acc = app.loss_chart._version, app.acc_chart._version
        app._drawn_batches = -1  # as if new batches had come
        worker = app._redraw_charts_stepwise()
        await wait_for(pilot, lambda: app.loss_chart._version > loss)
        assert app.acc_chart._version == acc  # one chart, then the gap
        await pilot.press("v")  # handled in the gap
        assert active_tab(app) == "viewer"
        await worker.wait()
        assert app.acc_chart._version == acc and app._drawn_batches == -1  # not drawn while hidden
        await pilot.press("t")
        await wait_for(pilot, lambda: app.acc_chart._version > acc and app._drawn_batches == 120, timeout=5)


async def test_the_cli_app_freezes_its_startup_objects_out_of_the_gcs_scans(make) -> None:
    """One app per process (the CLI's): after the first frame, what exists is frozen, so full
    GC passes no longer stall the UI. Test processes, with many apps, do not freeze."""
    import gc

    from mnist_tui.app import make_app

    before = gc.get_freeze_count()
    async with make().run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        assert gc.get_freeze_count() == before
    app = make_app(source=FakeRunSource(FakeTrainer()), freeze_gc=True)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: gc.get_freeze_count() > before)
    finally:
        gc.unfreeze()


async def test_an_epoch_chart_redraw_spends_the_one_chart_budget(make, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new epoch is drawn without waiting for the batch charts' turn, and the batch charts
    then wait as long as that picture's cost asks (one budget for all charts)."""
    import time

    import mnist_tui.app as app_module

    monkeypatch.setattr(app_module, "CHART_MIN_INTERVAL", 2.0)  # any picture: wait 2 s
    gate = threading.Event()
    app = make(trainer=FakeTrainer(steps=40, gate=gate, hold_after=(39, 40)))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "s")
        gate.set()
        await wait_for(pilot, lambda: app.history.batches == 39)
        await wait_for(pilot, lambda: app._drawn_batches == 39, timeout=5)
        app._next_charts = time.monotonic() + 1.0  # the batch charts' turn is in 1 s
        gate.set()  # batch 40, then the epoch's end
        await wait_for(pilot, lambda: app._drawn_epochs == 1, timeout=0.95)
        assert app._drawn_batches == 39  # drawn on its own, not with the batch charts
        assert app._next_charts >= app._epochs_drawn_at + 1.95  # their turn moved back (from the tick's start)
