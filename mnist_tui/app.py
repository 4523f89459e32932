"""The Textual app: setup, live charts, digit viewer, confusion matrix, runs, drawing and concepts, in tabs.

The app is a client of its runs: every run trains in a process of its own (a warm trainer
the app keeps ready), and the app follows the run's directory and controls it through
that directory (``RunSession``). So a closed terminal or an SSH drop costs nothing but the
view, and ``attach`` picks the run up again. Build the app with ``make_app`` (the CLI and
the tests both do), which lets tests inject a fake run source. Importing this module does
not import TensorFlow, and the app never does: draw-a-digit runs the checkpoint in NumPy.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.driver import Driver
from textual.screen import Screen
from textual.widgets import Button, Header, Input, Select, Static, TabbedContent, TabPane, Tabs

from mnist_tui.config import TrainConfig, preset_config
from mnist_tui.errors import MnistTuiError
from mnist_tui.events import (
    DONE,
    FAILED,
    PAUSE,
    PAUSED,
    RESUME,
    STOPPED,
    Checkpointed,
    ControlApplied,
    DataReady,
    NetworkSaved,
    Predictions,
    RunFinished,
    TrainerStarted,
)
from mnist_tui.history import RunHistory
from mnist_tui.messages import ConfigChanged, EngineEvent, EventBridge, TrainingProgress
from mnist_tui.render.charset import symbols
from mnist_tui.runs.rundir import CHECKPOINT, RunStoreError, default_runs_dir
from mnist_tui.runs.source import ProcessRunSource, RunSource
from mnist_tui.screens.confirm import Choice, ChoiceScreen, ConfirmScreen
from mnist_tui.screens.draw import DrawView
from mnist_tui.screens.explore import ExploreView
from mnist_tui.screens.inspect import InspectView
from mnist_tui.screens.network import NetworkView
from mnist_tui.screens.runs import RunsView
from mnist_tui.screens.setup import SetupView
from mnist_tui.screens.train import TrainView
from mnist_tui.screens.viewer import ViewerView
from mnist_tui.session import OPEN, RunSession
from mnist_tui.textsafe import safe
from mnist_tui.training.metrics import confusion_matrix
from mnist_tui.widgets import partial_update
from mnist_tui.widgets.ascii_driver import ascii_only
from mnist_tui.widgets.cached_plot import CachedPlot
from mnist_tui.widgets.compact_driver import compacting
from mnist_tui.widgets.confusion_grid import ConfusionGrid
from mnist_tui.widgets.epoch_chart import EpochChart
from mnist_tui.widgets.hyperparams_form import HyperparamsForm
from mnist_tui.widgets.key_bar import KeyBar
from mnist_tui.widgets.metric_chart import MARKERS, BatchChart, nice_ceiling
from mnist_tui.widgets.train_status import TrainStatus

TICK_HZ = 10.0  # status line repaints: a batch reaches the screen within 0.3 s of its end
CHART_BUDGET = 0.04  # share of the UI thread's time the charts may take while training
CHART_MIN_INTERVAL = 0.5  # seconds: at most 2 redraws a second however cheap
CHART_MAX_INTERVAL = 3.0  # and at least one every 3 s however dear
CHART_GAP_SECONDS = 0.003  # between two charts of one paced redraw: a waiting key goes first
EPOCH_CHART_SECONDS = 0.3  # a new epoch reaches the epoch charts within this (or their cost / CHART_BUDGET)
RUNS_REFRESH_SECONDS = 1.0  # the Runs tab's live progress of running runs
QUIT_GRACE_SECONDS = 5.0  # a stop takes < 2 s; after this the app leaves anyway (the run is its own process)
MIN_SIZE = (80, 24)
APP_CSS = Path(__file__).with_name("app.tcss")  # the app's one stylesheet: views carry no CSS of their own
LEAVE_SECONDS = 1.5  # a hang-up or SIGTERM ends the app within this, however it is stuck
# --low-bandwidth (≤ 1 KB/s while training): the status line's numbers once a second (a phase
# change at once), the charts every LOW_BANDWIDTH_CHART_SECONDS, the Viewer's digit when a key moves it.
LOW_BANDWIDTH_STATUS_SECONDS = 1.0
LOW_BANDWIDTH_CHART_SECONDS = 5.0


def chart_span(batches: int, planned: int, low_bandwidth: bool = False) -> int | None:
    """The batch charts' x range. A range that followed every new batch slid the whole curve
    left at each repaint (every cell resent); instead it grows in round steps (1, 2, 2.5, 5
    × 10^k: the curve fills 40-100 % of the width) up to the run's plan, so between steps only
    the curve's end is new. ``low_bandwidth``: the whole plan from the start."""
    if planned <= 0:
        return None if batches <= 0 else int(nice_ceiling(batches))
    if low_bandwidth:
        return max(planned, batches)
    return max(min(int(nice_ceiling(max(batches, 1))), planned), batches)


def chart_interval(build_seconds: float, low_bandwidth: bool = False) -> float:
    """Seconds until the next chart redraw, so that plotext (pure Python) takes at most
    CHART_BUDGET of the UI thread: a redraw that cost 40 ms waits 1 s. Charts downsample
    to their width, so this cost does not grow with the run. ``low_bandwidth``: a redraw
    every LOW_BANDWIDTH_CHART_SECONDS at most, whatever it costs."""
    interval = min(CHART_MAX_INTERVAL, max(CHART_MIN_INTERVAL, build_seconds / CHART_BUDGET))
    return max(interval, LOW_BANDWIDTH_CHART_SECONDS) if low_bandwidth else interval


def one_line(err: BaseException) -> str:
    """A user-facing one-line message for any error."""
    if isinstance(err, MnistTuiError):
        return str(err)
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


class MnistApp(App[int]):
    CSS_PATH = APP_CSS
    TITLE = "mnist-tui"
    SUB_TITLE = "watch a digit classifier learn"

    BINDINGS = [
        # The viewer's keys live here, active only while its tab shows (check_action), so the
        # tab needs no focus: a focus change restyles and repaints whole subtrees, which was
        # half the cost of switching tabs.
        Binding("right", "viewer('step', 1)", "Next", id="viewer.next"),
        Binding("left", "viewer('step', -1)", "Prev", id="viewer.prev"),
        Binding("m", "viewer('misclassified', 1)", "Next wrong", id="viewer.next_wrong"),
        Binding("M", "viewer('misclassified', -1)", "Prev wrong", id="viewer.prev_wrong", show=False),
        Binding("r", "viewer('random')", "Random", id="viewer.random"),
        Binding("a", "viewer('filter', -1)", "All classes", id="viewer.all"),
        *[Binding(str(d), f"viewer('filter', {d})", f"Only {d}s", id=f"viewer.only_{d}", show=False)
          for d in range(10)],
        Binding("left_square_bracket", "epoch(-1)", "Epoch -1", id="epochs.prev", show=False),
        Binding("right_square_bracket", "epoch(1)", "Epoch +1", id="epochs.next", show=False),
        Binding("s", "start", "Start", id="run.start"),
        Binding("p", "pause", "Pause", id="run.pause"),
        Binding("x", "stop", "Stop", id="run.stop"),
        Binding("k", "checkpoint", "Checkpoint", id="run.checkpoint", show=False),
        Binding("e", "show_tab('setup')", "Setup", id="view.setup"),
        Binding("t", "show_tab('train')", "Charts", id="view.train"),
        Binding("v", "show_tab('viewer')", "Viewer", id="view.viewer"),
        Binding("i", "show_tab('inspect')", "Inspect", id="view.inspect"),
        Binding("u", "show_tab('runs')", "Runs", id="view.runs"),
        Binding("d", "show_tab('draw')", "Draw", id="view.draw"),
        Binding("l", "show_tab('explore')", "Explore", id="view.explore"),
        Binding("w", "show_tab('network')", "Network", id="view.network"),
        Binding("g", "show_code", "Code", id="view.code", show=False),
        Binding("c", "cycle_marker", "Marker", id="chart.marker"),
        Binding("q", "request_quit", "Quit", id="app.quit"),
        Binding("ctrl+q", "request_quit", "Quit", id="app.quit_anywhere", show=False, priority=True),
        Binding("question_mark", "toggle_help", "Help", id="app.help"),
        Binding("escape", "leave_field", "Leave field", id="form.leave", show=False),
    ]

    def __init__(self, config: TrainConfig, *, source: RunSource, runs_dir: str | os.PathLike[str] | None,
                 warm: bool, seed: int = 0, open_model: str | os.PathLike[str] | None = None,
                 attach: str | os.PathLike[str] | None = None, low_bandwidth: bool = False,
                 freeze_gc: bool = False) -> None:
        self.low_bandwidth = low_bandwidth  # set first: the driver is chosen in App.__init__
        self.freeze_gc = freeze_gc
        super().__init__()
        if "TEXTUAL_ANIMATIONS" not in os.environ:
            # The tab underline's 0.3 s slide repaints the screen at 60 Hz: frames that cost
            # bandwidth over SSH. Opt back in with TEXTUAL_ANIMATIONS.
            self.animation_level = "none"
        self.open_model = open_model
        self.attach_to = Path(attach) if attach is not None else None
        self.initial_config = config
        self.config: TrainConfig | None = config
        self.config_errors: dict[str, str] = {}
        self.runs_dir = Path(runs_dir) if runs_dir is not None else None
        self.warm = warm
        self.history = RunHistory()
        self.source = source
        self.session = RunSession(source, self.history, EventBridge(self.post_message))
        self.seed = seed
        self.sym = symbols()
        self.view_epoch: int | None = None  # the epoch Viewer and Inspect show; None: the latest
        self.predictor_label = ""
        self.announced: RunFinished | None = None
        self._quitting = False
        self._drawn_batches = -1
        self._drawn_epochs = -1
        self._marker = 0
        self._status_dirty = False
        self._next_charts = 0.0  # time.monotonic() of the next paced chart redraw
        self._epochs_drawn_at = 0.0
        self._epoch_chart_gap = LOW_BANDWIDTH_CHART_SECONDS if low_bandwidth else EPOCH_CHART_SECONDS
        self._next_runs_refresh = 0.0
        self._predictor_of: tuple[int, bool] | None = None
        self._next_status = 0.0  # --low-bandwidth: when the status line's numbers may change next
        self._phase_shown = ""

    # -- layout
    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="setup", id="tabs"):
            with TabPane("Setup", id="setup"):
                yield SetupView(self.initial_config, id="setup-view")
            with TabPane("Training", id="train"):
                yield TrainView(id="train-view")
            with TabPane("Viewer", id="viewer"):
                yield ViewerView(self.history, seed=self.seed, id="viewer-view")
            with TabPane("Inspect", id="inspect"):
                yield InspectView(id="inspect-view")
            with TabPane("Network", id="network"):
                yield NetworkView(self.history, run_path=lambda: self.session.path, id="network-view")
            with TabPane("Runs", id="runs"):
                yield RunsView(self.runs_dir or default_runs_dir(), id="runs-view")
            with TabPane("Draw", id="draw"):
                yield DrawView(id="draw-view")
            with TabPane("Explore", id="explore"):
                yield ExploreView(id="explore-view", history=self.history, run_path=lambda: self.session.path)
        yield KeyBar()
        yield Static("", id="too-small")

    def on_mount(self) -> None:
        # Keep references: cheaper than a query per tick, and safe whichever screen is on top.
        self.tabs = self.query_one(TabbedContent)
        self.loss_chart = self.query_one("#chart-loss", BatchChart)
        self.acc_chart = self.query_one("#chart-acc", BatchChart)
        self.epoch_charts = list(self.query(EpochChart))
        self.status_line = self.query_one(TrainStatus)
        self.viewer = self.query_one(ViewerView)
        self.form = self.query_one(HyperparamsForm)
        self.runs_view = self.query_one(RunsView)
        self.inspect_view = self.query_one(InspectView)
        self.draw_view = self.query_one(DrawView)
        self.explore_view = self.query_one(ExploreView)
        self.inspect_view.clear("No predictions yet: they arrive at the end of each epoch, or open a saved model.")
        self._reset_views()
        if self.open_model is None and self.attach_to is None:
            # A newcomer's first move: pick a model. (Not when the app opens on a run: focusing
            # a Setup field would switch the tabs back to Setup.)
            self.query_one("#field-preset", Select).focus()
        self.set_interval(1 / TICK_HZ, self._tick)
        if self.freeze_gc:
            self.call_after_refresh(self._freeze_startup_objects)
        self._refresh_status()
        if self.open_model is not None:
            self.call_after_refresh(self._start_open, Path(self.open_model))
        elif self.attach_to is not None:
            self.call_after_refresh(self.attach_run, self.attach_to)
        if self.warm:
            # A moment after the first frame: the first paint must reach the terminal first.
            self.set_timer(0.3, self._prepare_trainer)
        self._install_signal_handlers()
        self._check_size(self.size.width, self.size.height)

    def get_driver_class(self) -> type[Driver]:
        """The platform's driver, writing each frame's colour codes as changes only (over SSH
        they were half the bytes: ``render.sgr``); in ASCII mode it also writes ASCII only
        (Textual's own chrome included: ``widgets.ascii_driver``)."""
        driver = super().get_driver_class()
        partial_update.install()  # partial repaints from the change on, not the widget's edge
        return compacting(ascii_only(driver) if symbols().ascii else driver)

    def notify(self, message: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Every notification in the charset the terminal can show (``…``, ``×`` in ASCII)."""
        super().notify(self.sym.text(message), *args, **kwargs)

    def on_resize(self, event: events.Resize) -> None:
        self._check_size(event.size.width, event.size.height)

    def _check_size(self, width: int, height: int) -> None:
        small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        notice = self.query_one("#too-small", Static)
        notice.display = small
        if small:
            notice.update(self.sym.text(f"Terminal too small: {width}×{height}.\nmnist-tui needs at least "
                                        f"{MIN_SIZE[0]}×{MIN_SIZE[1]}.\nEnlarge the window; training carries on"
                                        " meanwhile.\n\nq quits"))

    def _install_signal_handlers(self) -> None:
        """SIGHUP (a closed terminal, an SSH drop) and SIGTERM (kill, textual-serve closing a
        tab) end the app at once; the run is a process of its own and keeps training."""
        import asyncio
        import signal

        try:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, self._leave_now, "hang-up")
            loop.add_signal_handler(signal.SIGTERM, self._leave_now, "terminated")
        except (NotImplementedError, RuntimeError, ValueError, AttributeError):
            pass  # not the main thread, or no signals here

    def _leave_now(self, reason: str) -> None:
        """Leave within LEAVE_SECONDS whatever state the app is in: a watchdog ends the
        process if the orderly exit stalls (the run is a process of its own, and nothing the
        app holds is unsaved)."""
        import threading

        watchdog = threading.Timer(LEAVE_SECONDS, os._exit, args=(0,))
        watchdog.daemon = True
        watchdog.start()
        self.session.shutdown(reason, wait=False)
        self.exit(0)

    def _freeze_startup_objects(self) -> None:
        """After the first frame: what the imports and the widgets made lives as long as the
        app, so the cyclic GC need not scan it again. Its full passes over them took 50–60 ms
        of the UI thread each, a stalled key or frame. One app per process only (the CLI's):
        frozen objects are never collected, so a test process making hundreds of apps must not."""
        import gc

        gc.collect()
        gc.freeze()

    def _ready_next_trainer(self, *, idle: bool) -> None:
        """Once a run is under way (its first epoch is saved: its compile is over), ready the
        trainer for the next ``s``; once it has ended, let that one warm up fully too."""
        if self.warm and self.config is not None and not self._quitting:
            with contextlib.suppress(OSError):
                self.source.prepare(self.config, idle=idle)

    def _prepare_trainer(self) -> None:
        """Start a warm trainer for the form's backend, so that ``s`` does not wait for Keras."""
        if self.config is None or self._quitting:
            return
        try:
            self.source.prepare(self.config)
        except OSError as err:
            self.notify(f"Cannot start a trainer process: {err}", severity="error")
        self._refresh_status()

    # -- runs: start, follow, control
    @property
    def running(self) -> bool:
        return self.session.active

    def _reset_views(self) -> None:
        self._drawn_batches = self._drawn_epochs = -1
        self.view_epoch = None
        self.announced = None
        self.loss_chart.set_series(self.history.batch_loss)
        self.acc_chart.set_series(self.history.batch_accuracy)
        for chart in self.epoch_charts:
            chart.set_epochs([])

    def _follow(self, start: Callable[[], Any], tab: str = "train") -> bool:
        """Switch every view to a new run, started or attached by ``start``."""
        try:
            start()
        except RunStoreError as err:
            self.history.phase, self.history.phase_detail = FAILED, one_line(err)
            if self.session.kind == "train" and not self._quitting:
                self._offer_unsaved_run(one_line(err))
            else:
                self.notify(one_line(err), severity="error", timeout=8)
            self._refresh_status()
            return False
        except OSError as err:
            self.notify(f"Cannot start a trainer process: {err}", severity="error", timeout=8)
            return False
        self._reset_views()
        if not self.history.phase and self.history.version == 0:  # nothing from the run yet: say what happens
            self.history.phase, self.history.phase_detail = (
                ("starting", "handing the run to its trainer process…") if self.session.kind == "train"
                else ("opening", "reading the run's record…"))
        self.viewer.sync()
        self.inspect_view.clear("No predictions yet: the matrix fills at the end of the first epoch.")
        self.draw_view.set_predictor(None)
        self._predictor_of = None
        self.action_show_tab(tab)
        self._refresh_status()
        return True

    def attach_run(self, path: Path) -> None:
        """Follow a run directory: its history at once, then live while it trains."""
        if self.session.live:
            self.notify("A run is in progress here: stop it (x) or let it finish first.", severity="warning")
            return
        self._follow(lambda: self.session.attach(path))

    def _start_open(self, path: Path) -> None:
        if self.config is None:
            self.notify("Cannot evaluate the model: the form has errors.", severity="error")
            return
        cfg = self.config
        self._follow(lambda: self.session.open_model(path, cfg))

    @on(ConfigChanged)
    def _config_changed(self, message: ConfigChanged) -> None:
        self.config = message.config
        self.config_errors = message.errors
        if message.config is not None and self.warm and not self.session.live and self.is_mounted:
            self.source.prepare(message.config)  # another backend, or NumPy: warm the right trainer

    @on(Button.Pressed, "#start-button")
    def _start_pressed(self) -> None:
        self.action_start()

    def action_start(self, save: bool = True) -> None:
        if self.session.live:
            self.notify("A run is already in progress: stop it (x) first.", severity="warning")
            return
        if self.config is None:
            errors = self.config_errors or {"form": "invalid"}
            what = "; ".join(f"{field.replace('_', ' ')} {reason}" for field, reason in errors.items())
            self.notify(f"Cannot start, fix {len(errors)} field{'s' * (len(errors) > 1)}: {what}",
                        severity="error", timeout=8)
            self.action_show_tab("setup")
            return
        cfg = self.config
        self.session.kind = "train"
        self._follow(lambda: self.session.start(cfg, save=save))

    def _control_target(self) -> bool:
        """Whether there is a run to control; tells the user why not when there is none."""
        if self.session.active and self.session.kind == OPEN:
            self.notify("Evaluating a saved model: it takes a few seconds.", timeout=2)
        elif not self.session.live:
            self.notify("Nothing is training.", severity="warning", timeout=2)
        else:
            return True
        return False

    def _send(self, what: Callable[[], Any], message: str) -> None:
        try:
            what()
        except RunStoreError as err:
            self.notify(one_line(err), severity="error")
            return
        self.notify(message, timeout=2)

    def action_pause(self) -> None:
        if self._control_target():
            command = RESUME if self.history.phase == PAUSED else PAUSE
            self._send(self.session.toggle_pause, "Pausing after this batch…" if command == PAUSE else "Resuming…")

    def action_stop(self) -> None:
        if self._control_target():
            self._send(lambda: self.session.stop(quick=True), "Stopping after this batch; the run so far is kept.")

    def action_checkpoint(self) -> None:
        if self._control_target():
            self._send(self.session.checkpoint, "Saving the model after this batch…")

    def action_epoch(self, step: int) -> None:
        """[ / ]: Viewer and Inspect show the predictions of an earlier or later epoch."""
        epochs = self.history.prediction_epochs()
        if not epochs:
            self.notify("No epoch has ended yet.", severity="warning", timeout=2)
            return
        current = self.view_epoch if self.view_epoch in epochs else epochs[-1]
        index = max(0, min(len(epochs) - 1, epochs.index(current) + step))
        self.view_epoch = None if index == len(epochs) - 1 else epochs[index]
        self.viewer.show_epoch(self.view_epoch)
        self._show_inspect()

    def action_show_tab(self, tab: str) -> None:
        self.tabs.active = tab
        self._focus_for(tab)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        tabs = getattr(self, "tabs", None)  # bindings are checked before on_mount too
        if action == "viewer":  # hidden and inert outside the viewer tab
            return tabs is not None and tabs.active == "viewer"
        if action == "epoch":
            return tabs is not None and tabs.active in ("viewer", "inspect")
        return True

    def action_viewer(self, name: str, *args: int) -> None:
        getattr(self.viewer, f"action_{name}")(*args)

    def _focus_for(self, tab: str) -> None:
        if tab in ("viewer", "train"):
            self.set_focus(None)  # app keys only; the viewer's are app bindings (see BINDINGS)
        elif tab == "runs":
            self.runs_view.refresh_runs()
            table = self.runs_view.table
            (table if table.display else self.runs_view).focus()  # the view itself while the store is empty
        elif tab in ("inspect", "draw", "explore"):
            {"inspect": self.inspect_view, "draw": self.draw_view, "explore": self.explore_view}[tab].focus()
        elif tab == "setup" and not isinstance(self.focused, (Input, Select)):
            self.query_one("#field-preset", Select).focus()

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "train":
            # The tab appears at once with the charts' last pictures; what changed while it
            # was hidden is redrawn right after that frame (plotext: ~15 ms a chart).
            self.call_after_refresh(self._redraw_charts_stepwise)
        elif event.pane.id == "viewer":
            self.viewer.sync()
            if isinstance(self.focused, Tabs):  # a click on the tab: ← → must step, not switch tabs
                self.set_focus(None)
        elif event.pane.id == "inspect":
            self.inspect_view.sync()  # it skips repainting while hidden
        elif event.pane.id == "network":
            self.query_one(NetworkView).activated()
        elif event.pane.id == "draw":
            self._load_predictor()  # the checkpoint of the epoch that ended while it was hidden
        self.refresh_bindings()  # the viewer's keys come and go with its tab

    def action_show_code(self) -> None:
        """g: the plain script behind the cursor run (Runs) or the form (Setup, toggled)."""
        if self.tabs.active == "runs":
            self.runs_view.action_code()
            return
        setup = self.query_one(SetupView)
        on_setup = self.tabs.active == "setup"
        self.action_show_tab("setup")
        setup.toggle_code(None if on_setup else True)

    def action_leave_field(self) -> None:
        if isinstance(self.focused, (Input, Select)):
            self.query_one("#tabs Tabs").focus()

    def action_cycle_marker(self) -> None:
        self._marker = (self._marker + 1) % len(MARKERS)
        marker = MARKERS[self._marker]
        for chart in (self.loss_chart, self.acc_chart):
            chart.marker = marker
        for chart in self.epoch_charts:
            chart.marker = marker
        self._redraw_charts(force=True)
        self.notify(f"Chart marker: {marker}", timeout=2)

    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    # -- leaving
    def action_request_quit(self) -> None:
        if not self.session.live:
            self.exit(0)
            return
        if isinstance(self.screen, ChoiceScreen):
            return

        def answer(choice: str | None) -> None:
            if choice == "stop":
                self._quit_after_stop()
            elif choice == "detach":
                path = self.session.path
                self.session.shutdown("left by the user")
                self.exit(0, message=f"The run keeps training in the background: mnist-tui attach "
                                     f"{path.name if path else ''}")

        self.push_screen(ChoiceScreen(
            "A run is training. Stop it (the run so far is saved), keep it training in the background "
            "(attach again with `mnist-tui attach`), or cancel?",
            [Choice("s", "Stop and quit", "stop", "error"), Choice("b", "Keep training", "detach", "primary"),
             Choice("c", "Cancel", "cancel")]), answer)

    def exit(self, *args: Any, **kwargs: Any) -> None:
        """However the app ends, it stops following (the run itself goes on unless stopped)
        and lets go of its idle warm trainer."""
        self.session.shutdown("app closed")
        super().exit(*args, **kwargs)

    def on_unmount(self) -> None:
        """However the app is torn down (a test's run_test too): stop following, release the
        warm trainer, remove an unsaved run's scratch directory."""
        self.session.shutdown("app closed")

    def _quit_after_stop(self) -> None:
        if self._quitting:
            return
        self._quitting = True
        if self.session.live:
            self.session.stop(quick=True)
            self.notify("Stopping and saving the run…", timeout=QUIT_GRACE_SECONDS)
            self.set_timer(QUIT_GRACE_SECONDS, lambda: self.exit(0))
        else:
            self.exit(0)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Start training", "Train the model set up in the form (s)", self.action_start)
        yield SystemCommand("Pause / resume training", "Pause after the current batch (p)", self.action_pause)
        yield SystemCommand("Stop training", "Stop after the current batch and keep the run (x)", self.action_stop)
        yield SystemCommand("Checkpoint now", "Save the model as it is after this batch (k)",
                            self.action_checkpoint)
        yield SystemCommand("Show setup", "Model and hyperparameters (e)", lambda: self.action_show_tab("setup"))
        yield SystemCommand("Show training charts", "Live loss and accuracy (t)",
                            lambda: self.action_show_tab("train"))
        yield SystemCommand("Show digit viewer", "Test digits and predictions (v)",
                            lambda: self.action_show_tab("viewer"))
        yield SystemCommand("Show confusion matrix", "Per-class accuracy; Enter opens those digits (i)",
                            lambda: self.action_show_tab("inspect"))
        yield SystemCommand("Previous epoch", "Viewer and Inspect show the epoch before ([)",
                            lambda: self.action_epoch(-1))
        yield SystemCommand("Next epoch", "Viewer and Inspect show the epoch after (])",
                            lambda: self.action_epoch(1))
        yield SystemCommand("Look inside the network", "What the layers learned, epoch by epoch, and one digit "
                            "through them (w)", lambda: self.action_show_tab("network"))
        yield SystemCommand("Show the code", "The plain Keras script of the form, or of the cursor run in Runs (g)",
                            self.action_show_code)
        yield SystemCommand("Draw a digit", "Classify your own drawing with the current model (d)",
                            lambda: self.action_show_tab("draw"))
        yield SystemCommand("Explore the concepts", "Dataset, activations, batches (l)",
                            lambda: self.action_show_tab("explore"))
        yield SystemCommand("Show runs", "Every saved run: attach, compare, resume, export, delete (u)",
                            lambda: self.action_show_tab("runs"))
        yield SystemCommand("Cycle chart marker", "braille / hd / dot (c)", self.action_cycle_marker)
        yield SystemCommand("Sweeps: leaderboards", "Every sweep with its live leaderboard (W in Runs)",
                            self.runs_view.action_sweeps)
        yield SystemCommand("New sweep", "A grid of configs × seeds: any field takes a list (n in Sweeps)",
                            lambda: self.runs_view.action_sweeps(new=True))
        yield SystemCommand("Diff two runs", "What changed between the two selected runs (D in Runs)",
                            self.runs_view.action_diff)
        for name in ("mlp", "mlp-small", "cnn", "scratch"):
            yield SystemCommand(f"Preset: {name}", f"Fill the form with the {name} recipe",
                                lambda n=name: self._pick_preset(n))

    @on(ConfusionGrid.CellSelected)
    def _drill_down(self, message: ConfusionGrid.CellSelected) -> None:
        """Enter on a matrix cell: the viewer, showing exactly those test digits."""
        nav = self.viewer.nav
        if nav is None or not nav.filter_pair(message.true_cls, message.pred_cls):
            self.notify(f"No test digits with true {message.true_cls} predicted as {message.pred_cls}.",
                        severity="warning", timeout=3)
            return
        self.action_show_tab("viewer")
        self.viewer.redraw()

    @on(RunsView.LoadModel)
    def _load_model_from_runs(self, message: RunsView.LoadModel) -> None:
        if self.session.live:
            self.notify("Stop the current run (x) before loading a model.", severity="warning")
            return
        self._start_open(message.path)

    @on(RunsView.OpenRun)
    def _open_run(self, message: RunsView.OpenRun) -> None:
        if self.session.path is not None and self.session.path.resolve() == message.path.resolve():
            self.action_show_tab("train")
            return
        self.attach_run(message.path)

    @on(RunsView.ResumeRun)
    def _resume_run(self, message: RunsView.ResumeRun) -> None:
        from mnist_tui.runs.launch import start_detached

        if self.session.live:
            self.notify("A run is in progress here: stop it (x) first.", severity="warning")
            return
        try:
            start_detached(message.path, "resume")
        except OSError as err:
            self.notify(f"Cannot start a trainer process: {err}", severity="error")
            return
        self.notify(f"Resuming {message.path.name}…", timeout=3)
        self.attach_run(message.path)  # run.json already names the new trainer: followed live

    @on(RunsView.EvaluateRun)
    def _evaluate_run(self, message: RunsView.EvaluateRun) -> None:
        try:
            proc = self.source.evaluate(message.path)
        except OSError as err:
            self.notify(f"Cannot start a trainer process: {err}", severity="error")
            return
        self.notify(f"Evaluating {message.path.name} on the test set…", timeout=4)
        if proc is not None:
            self._await_evaluation(proc, message.path.name)

    @work(thread=True, group="evaluate", exit_on_error=False)
    def _await_evaluation(self, proc: Any, name: str) -> None:
        code = proc.wait()
        self.call_from_thread(self._evaluated, name, code)

    def _evaluated(self, name: str, code: int) -> None:
        if code == 0:
            self.notify(f"Evaluated {name}: see its test accuracy in Runs.", timeout=5)
        else:
            self.notify(f"Evaluating {name} failed: see trainer.log in its directory.", severity="error")
        self.runs_view.refresh_runs()

    def _pick_preset(self, name: str) -> None:
        self.form.fill(preset_config(name))
        self.action_show_tab("setup")

    # -- the followed run's events
    def on_training_progress(self, message: TrainingProgress) -> None:
        self._status_dirty = True  # painted by the next tick, with the charts, in one frame

    def _tick(self) -> None:
        """The UI's heartbeat: status at TICK_HZ, charts at the pace their cost allows."""
        if not self._ui_alive:
            return
        now = time.monotonic()
        if self._status_dirty and (not self.low_bandwidth or self._phase_shown != self.history.phase
                                   or now >= self._next_status):
            self._status_dirty = False
            self._phase_shown = self.history.phase
            self._next_status = now + LOW_BANDWIDTH_STATUS_SECONDS
            self._refresh_status()
        if now >= self._next_charts:
            if self._chart_jobs_due():
                self._next_charts = float("inf")  # until the stepwise redraw says when next
                self._redraw_charts_stepwise()
        elif (self.tabs.active == "train" and len(self.history.epochs) != self._drawn_epochs
              and now - self._epochs_drawn_at >= self._epoch_chart_gap):
            # A new epoch need not wait for the batch charts' turn; but a picture costs the same
            # 15-25 ms however few its points, so it spends the one chart budget: the batch
            # charts wait that much longer (a 1 s/epoch mlp gave 3.5 % of a core to these alone).
            cost = sum(chart.build_seconds for chart in self._redrawn_epoch_charts())
            self._epoch_chart_gap = (LOW_BANDWIDTH_CHART_SECONDS if self.low_bandwidth
                                     else max(EPOCH_CHART_SECONDS, min(cost / CHART_BUDGET, CHART_MAX_INTERVAL)))
            self._next_charts = max(self._next_charts, now + chart_interval(cost, self.low_bandwidth))
        if self.tabs.active == "runs" and now >= self._next_runs_refresh:
            self._next_runs_refresh = now + RUNS_REFRESH_SECONDS
            self.runs_view.refresh_live()
        elif not self.session.active and self.warm and not self._quitting and now >= self._next_runs_refresh:
            self._next_runs_refresh = now + RUNS_REFRESH_SECONDS
            self._refresh_status()  # the warm trainer's state ("warming up" → "ready")

    @property
    def _ui_alive(self) -> bool:
        """False while the app shuts down: late events must not touch widgets already gone
        (Textual clears ``_running`` before it prunes the screens, child by child)."""
        return self._running and self.viewer.is_attached and not self._closing

    def on_engine_event(self, message: EngineEvent) -> None:
        if not self._ui_alive:
            return
        event = message.event
        if isinstance(event, DataReady) and event.x_test is not None and event.y_test is not None:
            x_train = event.x_train if event.x_train is not None else event.x_test
            y_train = event.y_train if event.y_train is not None else event.y_test
            self.explore_view.set_data(x_train, y_train, event.x_test, event.y_test, event.class_names,
                                       n_train=event.n_train or None)
        elif isinstance(event, Predictions):
            if self.view_epoch is None:
                self._show_inspect()
        elif isinstance(event, (Checkpointed, TrainerStarted)):
            self._load_predictor()
            if isinstance(event, Checkpointed) and event.epoch >= 1 and self.session.kind == "train":
                self._ready_next_trainer(idle=False)
        elif isinstance(event, ControlApplied):
            self._acknowledge(event)
        if isinstance(event, DataReady):
            self._name_the_data(event.class_names)
        if isinstance(event, (DataReady, TrainerStarted)) or (isinstance(event, Predictions)
                                                             and not self.low_bandwidth):
            self.viewer.sync()  # --low-bandwidth: a new epoch's digit when a key moves the Viewer
        elif isinstance(event, RunFinished):
            self._redraw_charts(force=True)
            self.viewer.sync()
            self.runs_view.refresh_runs()
            self._show_inspect()
            self._load_predictor()
            self._announce(event)
            self._ready_next_trainer(idle=True)
            if self._quitting:
                self.exit(0)
        if isinstance(event, (NetworkSaved, Checkpointed, DataReady, TrainerStarted, RunFinished)):
            self.query_one(NetworkView).sync()  # paints only while its tab shows
        self._status_dirty = True

    def _name_the_data(self, class_names: tuple[str, ...]) -> None:
        """The header says what this run classifies: digits, or Fashion-MNIST's clothes."""
        digits = all(name == str(k) for k, name in enumerate(class_names))
        self.sub_title = "watch a digit classifier learn" if digits else "watch a clothing classifier learn"

    def _acknowledge(self, ack: ControlApplied) -> None:
        text = {"pause": "Paused.", "resume": "Resumed.", "stop": "Stop acknowledged: saving the run…",
                "checkpoint": "Checkpoint requested: the model is saved after this batch."}.get(ack.command)
        if ack.command == "refused":
            self.notify(f"The trainer refused a request: {ack.detail}", severity="warning")
        elif text and not self._quitting:
            self.notify(text, timeout=2)

    def _show_inspect(self) -> None:
        """The confusion matrix of the epoch being viewed (or the final evaluation)."""
        data, fin = self.history.data, self.history.finished
        if data is None or data.y_test is None:
            return
        names = data.class_names
        if self.view_epoch is None and fin is not None and fin.confusion and sum(map(sum, fin.confusion)):
            title = f"test set, final ({fin.status}, {fin.epochs_completed} epochs)"
            if not fin.evaluated:
                title = f"test set after epoch {fin.epochs_completed} ({fin.status}; final evaluation skipped)"
            if fin.epochs_completed == 0 and fin.status == DONE:
                title = "loaded model, test set"
            self.inspect_view.show(np.array(fin.confusion), names, title)
            return
        preds = self.history.predictions_by_epoch.get(self.view_epoch) if self.view_epoch is not None \
            else self.history.predictions
        if preds is None or preds.probabilities is None:
            return
        matrix = confusion_matrix(data.y_test.astype(np.int64), preds.probabilities.argmax(axis=1))
        live = " (training continues)" if self.session.live else ""
        what = f"after epoch {preds.epoch}{live}" if preds.epoch else "loaded model, test set"
        epochs = self.history.prediction_epochs()
        if len(epochs) > 1:
            what += f" · [ ] epochs {epochs[0]}–{epochs[-1]}"
        self.inspect_view.show(matrix, names, what)

    def _load_predictor(self) -> None:
        """Draw-a-digit classifies with the run's latest checkpoint, run in NumPy off the UI thread.

        Read when the Draw tab shows, and once when the run ends: while the tab is hidden, an
        epoch end costs no read (a 0.3 s mlp epoch would read the checkpoint three times a second).
        """
        path = self.session.path
        of = (self.history.checkpoint_epoch, self.history.finished is not None)
        if path is None or of == self._predictor_of:
            return
        if not of[1] and self.tabs.active != "draw":
            return  # read when the tab opens
        self._predictor_of = of
        self._read_checkpoint(path / CHECKPOINT, path.name)

    @work(thread=True, exclusive=True, group="predictor", exit_on_error=False)
    def _read_checkpoint(self, path: Path, run: str) -> None:
        from mnist_tui.models.forward import load_checkpoint

        try:
            model = load_checkpoint(path)
        except MnistTuiError:
            return  # none yet (before the first epoch end), or not runnable in NumPy
        names = self.history.data.class_names if self.history.data else tuple(str(i) for i in range(10))
        label = f"{run}, after epoch {model.epoch}" if model.epoch else run
        with contextlib.suppress(RuntimeError):  # the app closed meanwhile
            self.call_from_thread(self.draw_view.set_predictor, model.predict, names, label)

    def _announce(self, fin: RunFinished) -> None:
        if self.announced is fin or self._quitting:
            return
        self.announced = fin
        if self.session.kind == OPEN:
            if fin.status == FAILED:
                self.notify(fin.reason, title="Cannot open the model", severity="error", timeout=10)
            return
        if fin.status == DONE:
            self.notify(f"Done: test accuracy {fin.test_accuracy:.2%}.", title="Training finished", timeout=6)
        elif fin.status == STOPPED:
            self.notify("Stopped; the run so far is saved.", timeout=4)
        elif fin.status == FAILED:
            self.notify(fin.reason, title="Training failed", severity="error", timeout=10)

    def _offer_unsaved_run(self, reason: str) -> None:
        """The run directory cannot be written (read-only, disk full): train anyway if the user agrees."""
        cfg = self.config

        def answer(yes: bool | None) -> None:
            if yes and cfg is not None and not self.session.live:
                self.action_start(save=False)
            else:
                self.notify("Not started. Choose another runs directory with --runs-dir.", timeout=6)

        self.push_screen(ConfirmScreen(f"{reason}\n\nTrain this run without saving it?"), answer)

    # -- drawing
    def _refresh_status(self) -> None:
        if not self._ui_alive:
            return
        hint = self.source.status() if self.warm else ""
        handle = self.session.handle
        shown = handle is not None and handle.path is not None and self.session.kind != OPEN
        self.status_line.show(self.history, idle_hint=f"Press s to start. {hint}".strip(),
                              run=safe(handle.path.name) if shown and handle and handle.path else "",
                              saved=not getattr(handle, "temporary", False))

    def _redraw_charts(self, force: bool = False) -> float | None:
        """Only when visible and only what changed (epoch ends too wait for the paced tick).
        Returns what the charts' last pictures cost to build, or None when nothing was drawn."""
        jobs = self._chart_jobs(force)
        charts = [chart for job in jobs for chart in job()]
        return sum(chart.build_seconds for chart in charts) if jobs else None

    def _chart_jobs(self, force: bool) -> list[Callable[[], list[CachedPlot]]]:
        """The redraws due now, one per batch chart and one for the epoch charts (a few
        points each); each returns the charts it drew."""
        if self.tabs.active != "train":
            return []
        jobs: list[Callable[[], list[CachedPlot]]] = []
        n = self.history.batches
        if force or n != self._drawn_batches:
            self._drawn_batches = n
            self.loss_chart.span = self.acc_chart.span = chart_span(n, self.history.total_steps(), self.low_bandwidth)
            jobs += [partial(_redrawn, self.loss_chart), partial(_redrawn, self.acc_chart)]
        if force or len(self.history.epochs) != self._drawn_epochs:
            jobs.append(self._redrawn_epoch_charts)
        return jobs

    def _redrawn_epoch_charts(self) -> list[CachedPlot]:
        self._redraw_epoch_charts()
        return list(self.epoch_charts)

    def _chart_jobs_due(self) -> bool:
        return self.tabs.active == "train" and (self.history.batches != self._drawn_batches
                                                or len(self.history.epochs) != self._drawn_epochs)

    @work(group="charts", exclusive=True, exit_on_error=False)
    async def _redraw_charts_stepwise(self) -> None:
        """The paced redraw, one chart at a time: a chart's picture is 15–30 ms of pure Python,
        and a key that arrives meanwhile is handled between two charts, not after all four
        (the tab switch while a cnn trains: p95 67 ms when they were drawn in one go)."""
        cost = 0.0
        drawn = False
        try:
            for i, job in enumerate(self._chart_jobs(False)):
                if i:
                    await asyncio.sleep(CHART_GAP_SECONDS)
                    if not self._ui_alive or self.tabs.active != "train":
                        self._drawn_batches = self._drawn_epochs = -1  # the rest: all of it, next time
                        break
                cost += sum(chart.build_seconds for chart in job())
                drawn = True
        finally:
            self._next_charts = time.monotonic() + (chart_interval(cost, self.low_bandwidth) if drawn else 0.0)

    def _redraw_epoch_charts(self) -> None:
        self._drawn_epochs = len(self.history.epochs)
        self._epochs_drawn_at = time.monotonic()
        epochs = self.history.epochs
        planned = self.history.data.epochs if self.history.data is not None else 0
        span = chart_span(epochs[-1].epoch if epochs else 0, planned, self.low_bandwidth)
        for chart in self.epoch_charts:
            chart.span = span
            chart.set_epochs(epochs)


def _redrawn(chart: BatchChart) -> list[CachedPlot]:
    chart.redraw()
    return [chart]


def make_app(
    config: TrainConfig | None = None,
    *,
    source: RunSource | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
    warm: bool | None = None,
    seed: int = 0,
    open_model: str | os.PathLike[str] | None = None,
    attach: str | os.PathLike[str] | None = None,
    low_bandwidth: bool = False,
    freeze_gc: bool = False,
) -> MnistApp:
    """The one way to build the app: the CLI gets trainer processes, tests pass a fake source."""
    runs = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    return MnistApp(
        config or preset_config("mlp"),
        source=source or ProcessRunSource(runs),
        runs_dir=runs,
        warm=source is None if warm is None else warm,
        seed=seed,
        open_model=open_model,
        attach=attach,
        low_bandwidth=low_bandwidth,
        freeze_gc=freeze_gc,
    )
