"""The Textual app: setup, live charts, digit viewer, confusion matrix, runs, drawing and concepts, in tabs.

Build it with ``make_app`` (the CLI and the tests both do), which lets tests inject a fast
fake trainer. Importing this module does not import TensorFlow: the real trainer imports
it inside the training thread, and the app warms it up in the background after the first
frame has painted.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Button, Header, Input, Select, Static, TabbedContent, TabPane, Tabs
from textual.worker import Worker, WorkerState

from mnist_tui.config import TrainConfig, check_backend, preset_config, resolve_backend
from mnist_tui.errors import MnistTuiError
from mnist_tui.messages import ConfigChanged, EngineEvent, EventBridge, TrainingProgress
from mnist_tui.runs.rundir import RunStoreError, default_runs_dir
from mnist_tui.screens.confirm import ConfirmScreen
from mnist_tui.screens.draw import DrawView
from mnist_tui.screens.explore import ExploreView
from mnist_tui.screens.inspect import InspectView
from mnist_tui.screens.runs import RunsView
from mnist_tui.screens.setup import SetupView
from mnist_tui.screens.train import TrainView
from mnist_tui.screens.viewer import ViewerView
from mnist_tui.training.control import TrainControl
from mnist_tui.training.events import (
    DONE,
    FAILED,
    STOPPED,
    DataReady,
    ModelReady,
    PhaseChanged,
    Predictions,
    RunFinished,
)
from mnist_tui.training.history import RunHistory
from mnist_tui.training.trainer import confusion_matrix, freeze_import_garbage
from mnist_tui.widgets.cached_plot import CachedPlot
from mnist_tui.widgets.confusion_grid import ConfusionGrid
from mnist_tui.widgets.epoch_chart import EpochChart
from mnist_tui.widgets.hyperparams_form import HyperparamsForm
from mnist_tui.widgets.key_bar import KeyBar
from mnist_tui.widgets.metric_chart import MARKERS, BatchChart
from mnist_tui.widgets.model_summary import ModelSummary
from mnist_tui.widgets.train_status import TrainStatus

Trainer = Callable[..., RunFinished]
TICK_HZ = 4.0  # status line repaints; every frame is Python holding the GIL the training thread needs
CHART_BUDGET = 0.04  # share of the UI thread's time the charts may take while training
CHART_MIN_INTERVAL = 0.5  # seconds: at most 2 redraws a second however cheap
CHART_MAX_INTERVAL = 3.0  # and at least one every 3 s however dear
QUIT_GRACE_SECONDS = 15.0
MIN_SIZE = (80, 24)
SWITCH_INTERVAL = 0.001  # below this the layout cannot work: say so instead of drawing it broken


def chart_interval(build_seconds: float) -> float:
    """Seconds until the next chart redraw, so that plotext (pure Python, holding the GIL the
    training thread needs) takes at most CHART_BUDGET of the time: a redraw that cost 40 ms
    waits 1 s. Charts downsample to their width, so this cost does not grow with the run."""
    return min(CHART_MAX_INTERVAL, max(CHART_MIN_INTERVAL, build_seconds / CHART_BUDGET))


def _default_trainer(*args: Any, **kwargs: Any) -> RunFinished:
    from mnist_tui.training.trainer import train

    return train(*args, **kwargs)


def one_line(err: BaseException) -> str:
    """A user-facing one-line message for any error."""
    if isinstance(err, MnistTuiError):
        return str(err)
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


class MnistApp(App[int]):
    CSS_PATH = "app.tcss"
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
        Binding("s", "start", "Start", id="run.start"),
        Binding("p", "pause", "Pause/Resume", id="run.pause"),
        Binding("x", "stop", "Stop", id="run.stop"),
        Binding("e", "show_tab('setup')", "Setup", id="view.setup"),
        Binding("t", "show_tab('train')", "Charts", id="view.train"),
        Binding("v", "show_tab('viewer')", "Viewer", id="view.viewer"),
        Binding("i", "show_tab('inspect')", "Inspect", id="view.inspect"),
        Binding("u", "show_tab('runs')", "Runs", id="view.runs"),
        Binding("d", "show_tab('draw')", "Draw", id="view.draw"),
        Binding("l", "show_tab('explore')", "Explore", id="view.explore"),
        Binding("c", "cycle_marker", "Marker", id="chart.marker"),
        Binding("q", "request_quit", "Quit", id="app.quit"),
        Binding("question_mark", "toggle_help", "Help", id="app.help"),
        Binding("escape", "leave_field", "Leave field", id="form.leave", show=False),
    ]

    def __init__(self, config: TrainConfig, *, trainer: Trainer, runs_dir: str | os.PathLike[str] | None,
                 preload_tf: bool, seed: int = 0, open_model: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        if "TEXTUAL_ANIMATIONS" not in os.environ:
            # The tab underline's 0.3 s slide repaints the screen at 60 Hz: frames that cost
            # bandwidth over SSH and the GIL while training. Opt back in with TEXTUAL_ANIMATIONS.
            self.animation_level = "none"
        self.open_model = open_model
        self.predictor: ModelReady | None = None
        self.initial_config = config
        self.config: TrainConfig | None = config
        self.config_errors: dict[str, str] = {}
        self.trainer = trainer
        self.runs_dir = Path(runs_dir) if runs_dir is not None else None
        self.preload_tf = preload_tf
        self.history = RunHistory()
        self.control: TrainControl | None = None
        self.worker: Worker[RunFinished] | None = None
        self.tf_state = "not loaded"
        self.keras_backend = "auto"
        self.seed = seed
        self._quitting = False
        self._drawn_batches = -1
        self._drawn_epochs = -1
        self._marker = 0
        self._status_dirty = False
        self._next_charts = 0.0  # time.monotonic() of the next paced chart redraw

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
            with TabPane("Runs", id="runs"):
                yield RunsView(self.runs_dir or default_runs_dir(), id="runs-view")
            with TabPane("Draw", id="draw"):
                yield DrawView(id="draw-view")
            with TabPane("Explore", id="explore"):
                yield ExploreView(id="explore-view")
        yield KeyBar()
        yield Static("", id="too-small")

    def on_mount(self) -> None:
        # The training thread holds the GIL between TensorFlow ops; a shorter switch interval
        # hands it to the UI sooner after a key press (Python's default is 5 ms).
        sys.setswitchinterval(SWITCH_INTERVAL)
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
        self.loss_chart.set_series(self.history.batch_loss)
        self.acc_chart.set_series(self.history.batch_accuracy)
        self.query_one("#field-preset", Select).focus()  # a newcomer's first move: pick a model
        self.set_interval(1 / TICK_HZ, self._tick)
        self._refresh_status()
        if self.open_model is not None:
            self.call_after_refresh(self._start_open, self.open_model)
        elif self.preload_tf:
            # A moment after the first frame: the import holds the GIL for seconds, and the
            # first paint must reach the terminal before it starts.
            self.set_timer(0.3, self._preload_tensorflow)
        self._install_signal_handlers()
        self._check_size(self.size.width, self.size.height)

    def on_resize(self, event: events.Resize) -> None:
        self._check_size(event.size.width, event.size.height)

    def _check_size(self, width: int, height: int) -> None:
        small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        notice = self.query_one("#too-small", Static)
        notice.display = small
        if small:
            notice.update(f"Terminal too small: {width}×{height}.\nmnist-tui needs at least "
                          f"{MIN_SIZE[0]}×{MIN_SIZE[1]}.\nEnlarge the window; training carries on meanwhile."
                          "\n\nq quits")

    def _install_signal_handlers(self) -> None:
        """SIGTERM/SIGHUP (a closed terminal, or textual-serve closing the tab) end the run as
        'stopped', saved, instead of killing it mid-write."""
        import asyncio
        import signal

        try:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, self._quit_after_stop)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or no signals here: quitting still stops training

    def _start_open(self, path: str | os.PathLike[str]) -> None:
        if self.config is None:
            self.notify("Cannot evaluate the model: the form has errors.", severity="error")
            return
        self.history.reset()
        self.control = None  # evaluation has nothing to pause or stop
        self.loss_chart.set_series(self.history.batch_loss)
        self.acc_chart.set_series(self.history.batch_accuracy)
        self.action_show_tab("train")
        self.worker = self._open(path, self.config, EventBridge(self.history, self.post_message))

    @work(thread=True, exclusive=True, exit_on_error=False, group="train", name="open model")
    def _open(self, path: str | os.PathLike[str], cfg: TrainConfig, bridge: EventBridge) -> RunFinished:
        from mnist_tui.training.evaluate_saved import evaluate_saved

        return evaluate_saved(path, cfg, bridge)

    # -- TensorFlow warm-up
    def _preload_tensorflow(self) -> None:
        """Import Keras while the user fills the form, so Start is quick.

        A plain daemon thread rather than a Textual worker: Textual waits for its workers on
        exit, and an import cannot be interrupted, so quitting would hang until it finished.
        """
        import threading

        self.keras_backend = resolve_backend(self.initial_config.backend)  # cheap: no import yet
        self.tf_state = "loading"
        threading.Thread(target=self._import_tensorflow, name="import tensorflow", daemon=True).start()

    def _import_tensorflow(self) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            # The backend the first run will need ("auto": jax when installed): Keras fixes it
            # at import. The CLI has set it already; this covers make_app used on its own.
            self.keras_backend = check_backend(self.initial_config.backend)
            import keras  # noqa: F401
        except Exception as err:
            self.tf_state = "failed"
            self._notify_from_thread(f"Keras failed to load: {one_line(err)}")
            return
        freeze_import_garbage(warm_up=True)  # keep full GC passes from rescanning Keras's objects
        self.tf_state = "ready"
        self._notify_from_thread("")

    def _notify_from_thread(self, message: str) -> None:
        def show() -> None:
            if message:
                self.notify(message, severity="error")
            self._refresh_status()

        with contextlib.suppress(RuntimeError):  # the app has already closed
            self.call_from_thread(show)

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.state in (WorkerState.PENDING, WorkerState.RUNNING)

    # -- form
    @on(ConfigChanged)
    def _config_changed(self, message: ConfigChanged) -> None:
        self.config = message.config
        self.config_errors = message.errors
        self.query_one(ModelSummary).show(message.config)
        self.query_one("#start-button", Button).disabled = message.config is None

    @on(Button.Pressed, "#start-button")
    def _start_pressed(self) -> None:
        self.action_start()

    # -- actions
    def action_start(self, save: bool = True) -> None:
        if self.running:
            self.notify("A run is already in progress: stop it (x) first.", severity="warning")
            return
        if self.config is None:
            field, reason = next(iter(self.config_errors.items()), ("form", "invalid"))
            self.notify(f"Cannot start: {field.replace('_', ' ')} {reason}", severity="error", timeout=6)
            self.action_show_tab("setup")
            return
        cfg = self.config
        self.history.reset()
        self.control = TrainControl()
        bridge = EventBridge(self.history, self.post_message)
        self._drawn_batches = self._drawn_epochs = -1
        self.loss_chart.set_series(self.history.batch_loss)
        self.acc_chart.set_series(self.history.batch_accuracy)
        for chart in self.epoch_charts:
            chart.set_epochs([])
        self.viewer.sync()
        self.inspect_view.clear("No predictions yet: the matrix fills at the end of the first epoch.")
        self.action_show_tab("train")
        self.worker = self._train(cfg, self.control, bridge, self.runs_dir if save else None)
        self._refresh_status()

    @work(thread=True, exclusive=True, exit_on_error=False, group="train", name="training")
    def _train(self, cfg: TrainConfig, control: TrainControl, bridge: EventBridge,
               runs_dir: Path | None) -> RunFinished:
        if self.preload_tf and cfg.preset != "scratch":
            check_backend(cfg.backend)  # before anything imports Keras
            freeze_import_garbage(warm_up=True)  # waits for the warm-up thread's, if still going
        return self.trainer(cfg, bridge, control, runs_dir=runs_dir)

    def _active_control(self) -> TrainControl | None:
        """The running trainer's control, or None after telling the user why there is none."""
        if self.running and self.control is None:
            self.notify("Evaluating a saved model: it takes a few seconds.", timeout=2)
        elif not self.running or self.control is None:
            self.notify("Nothing is training.", severity="warning", timeout=2)
        else:
            return self.control
        return None

    def action_pause(self) -> None:
        if control := self._active_control():
            paused = control.toggle_pause()
            self.notify("Pausing after this batch…" if paused else "Resuming.", timeout=2)

    def action_stop(self) -> None:
        if control := self._active_control():
            control.stop()
            self.notify("Stopping after this batch; the run so far is kept.", timeout=3)

    def action_show_tab(self, tab: str) -> None:
        self.tabs.active = tab
        self._focus_for(tab)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "viewer":  # hidden and inert outside the viewer tab
            tabs = getattr(self, "tabs", None)  # bindings are checked before on_mount too
            return tabs is not None and tabs.active == "viewer"
        return True

    def action_viewer(self, name: str, *args: int) -> None:
        getattr(self.viewer, f"action_{name}")(*args)

    def _focus_for(self, tab: str) -> None:
        if tab in ("viewer", "train"):
            self.set_focus(None)  # app keys only; the viewer's are app bindings (see BINDINGS)
        elif tab == "runs":
            self.runs_view.refresh_runs()
            self.runs_view.table.focus()
        elif tab in ("inspect", "draw", "explore"):
            {"inspect": self.inspect_view, "draw": self.draw_view, "explore": self.explore_view}[tab].focus()
        elif tab == "setup" and not isinstance(self.focused, (Input, Select)):
            self.query_one("#field-preset", Select).focus()

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "train":
            # The tab appears at once with the charts' last pictures; what changed while it
            # was hidden is redrawn right after that frame (plotext: ~15 ms a chart).
            self.call_after_refresh(self._redraw_charts)
        elif event.pane.id == "viewer":
            self.viewer.sync()
            if isinstance(self.focused, Tabs):  # a click on the tab: ← → must step, not switch tabs
                self.set_focus(None)
        elif event.pane.id == "inspect":
            self.inspect_view.sync()  # it skips repainting while hidden
        self.refresh_bindings()  # the viewer's keys come and go with its tab

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

    def action_request_quit(self) -> None:
        if not self.running:
            self.exit(0)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._quit_after_stop()

        self.push_screen(ConfirmScreen("Training is running. Stop it, keep the run so far, and quit?"), answer)

    def exit(self, *args: Any, **kwargs: Any) -> None:
        """However the app ends (q, ctrl+q, a signal), a running trainer is told to stop first:
        a thread that never stops would keep the process alive after the UI is gone."""
        if self.control is not None and self.running:
            self.control.stop(quick=True)
        super().exit(*args, **kwargs)

    def _quit_after_stop(self) -> None:
        if self._quitting:
            return
        self._quitting = True
        if self.control is not None:
            self.control.stop(quick=True)
        self.notify("Stopping and saving the run…", timeout=QUIT_GRACE_SECONDS)
        self.set_timer(QUIT_GRACE_SECONDS, lambda: self.exit(0))
        if not self.running:
            self.exit(0)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Start training", "Train the model set up in the form (s)", self.action_start)
        yield SystemCommand("Pause / resume training", "Pause after the current batch (p)", self.action_pause)
        yield SystemCommand("Stop training", "Stop after the current batch and keep the run (x)", self.action_stop)
        yield SystemCommand("Show setup", "Model and hyperparameters (e)", lambda: self.action_show_tab("setup"))
        yield SystemCommand("Show training charts", "Live loss and accuracy (t)",
                            lambda: self.action_show_tab("train"))
        yield SystemCommand("Show digit viewer", "Test digits and predictions (v)",
                            lambda: self.action_show_tab("viewer"))
        yield SystemCommand("Show confusion matrix", "Per-class accuracy; Enter opens those digits (i)",
                            lambda: self.action_show_tab("inspect"))
        yield SystemCommand("Draw a digit", "Classify your own drawing with the current model (d)",
                            lambda: self.action_show_tab("draw"))
        yield SystemCommand("Explore the concepts", "Dataset, activations, batches (l)",
                            lambda: self.action_show_tab("explore"))
        yield SystemCommand("Show runs", "Every saved run: compare, export, delete, load (u)",
                            lambda: self.action_show_tab("runs"))
        yield SystemCommand("Cycle chart marker", "braille / hd / dot (c)", self.action_cycle_marker)
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
        if self.running:
            self.notify("Stop the current run (x) before loading a model.", severity="warning")
            return
        self._start_open(message.path)

    def _pick_preset(self, name: str) -> None:
        self.form.fill(preset_config(name))
        self.action_show_tab("setup")

    # -- engine events
    def on_training_progress(self, message: TrainingProgress) -> None:
        self._status_dirty = True  # painted by the next tick, with the charts, in one frame

    def _tick(self) -> None:
        """The UI's training-time heartbeat: status at TICK_HZ, charts at the pace their cost allows."""
        if not self._ui_alive:
            return
        if self._status_dirty:
            self._status_dirty = False
            self._refresh_status()
        now = time.monotonic()
        if now >= self._next_charts:
            cost = self._redraw_charts()
            if cost is not None:
                self._next_charts = now + chart_interval(cost)

    @property
    def _ui_alive(self) -> bool:
        """False while the app shuts down: events from a still-finishing trainer must not
        touch widgets that are already gone."""
        return self.viewer.is_attached and not self._closing

    def on_engine_event(self, message: EngineEvent) -> None:
        if not self._ui_alive:
            return
        event = message.event
        if isinstance(event, ModelReady):
            self.predictor = event
            names = self.history.data.class_names if self.history.data else tuple(str(i) for i in range(10))
            self.draw_view.set_predictor(event.predict, names, event.label)
        elif isinstance(event, DataReady):
            x_train = event.x_train if event.x_train is not None else event.x_test
            y_train = event.y_train if event.y_train is not None else event.y_test
            self.explore_view.set_data(x_train, y_train, event.x_test, event.y_test, event.class_names,
                                       n_train=event.n_train or None)
        elif isinstance(event, Predictions) and self.history.data is not None:
            data = self.history.data
            matrix = confusion_matrix(data.y_test.astype(np.int64), event.probabilities.argmax(axis=1))
            what = f"after epoch {event.epoch} (training continues)" if event.epoch else "loaded model, test set"
            self.inspect_view.show(matrix, data.class_names, what)
        if isinstance(event, (DataReady, Predictions)):
            self.viewer.sync()
        elif isinstance(event, RunFinished):
            self._redraw_charts(force=True)
            self.viewer.sync()
            self.runs_view.refresh_runs()
            if event.confusion and self.history.data is not None and sum(map(sum, event.confusion)):
                title = f"test set, final ({event.status}, {event.epochs_completed} epochs)"
                if event.epochs_completed == 0 and event.status == DONE:
                    title = "loaded model, test set"
                self.inspect_view.show(np.array(event.confusion), self.history.data.class_names, title)
            self._announce(event)
        elif isinstance(event, PhaseChanged) and event.phase == FAILED and event.detail:
            pass  # the worker's error handler notifies once
        self._refresh_status()

    def _announce(self, fin: RunFinished) -> None:
        if fin.status == DONE:
            self.notify(f"Done: test accuracy {fin.test_accuracy:.2%}.", title="Training finished", timeout=6)
        elif fin.status == STOPPED:
            self.notify("Stopped; the run so far is saved.", timeout=4)
        elif fin.status == FAILED:
            self.notify(fin.reason, title="Training failed", severity="error", timeout=10)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "train":
            return
        if event.state == WorkerState.ERROR and worker.error is not None:
            self.history.phase, self.history.phase_detail = FAILED, one_line(worker.error)
            if isinstance(worker.error, RunStoreError) and self.history.batches == 0 and not self._quitting:
                self._offer_unsaved_run(one_line(worker.error))
            else:
                self.notify(one_line(worker.error), title="Training failed", severity="error", timeout=10)
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self._refresh_status()
            if self._quitting:
                self.exit(0)

    def _offer_unsaved_run(self, reason: str) -> None:
        """The run directory cannot be written (read-only, disk full): train anyway if the user agrees."""
        cfg = self.config

        def answer(yes: bool | None) -> None:
            if yes and cfg is not None and not self.running:
                self.action_start(save=False)
            else:
                self.notify("Not started. Choose another runs directory with --runs-dir.", timeout=6)

        self.push_screen(ConfirmScreen(f"{reason}\n\nTrain this run without saving it?"), answer)

    # -- drawing
    def _refresh_status(self) -> None:
        if not self._ui_alive:
            return
        hint = {
            "loading": f"Keras ({self.keras_backend}) is loading in the background…",
            "ready": f"Keras ready ({self.keras_backend}).",
            "failed": "Keras failed to load.",
        }.get(self.tf_state, "")
        self.status_line.show(self.history, idle_hint=f"Press s to start. {hint}".strip())

    def _redraw_charts(self, force: bool = False) -> float | None:
        """Only when visible and only what changed (epoch ends too wait for the paced tick).
        Returns what the charts' last pictures cost to build, or None when nothing was drawn."""
        if self.tabs.active != "train":
            return None
        charts: list[CachedPlot] = []
        n = self.history.batches
        if force or n != self._drawn_batches:
            self._drawn_batches = n
            self.loss_chart.redraw()
            self.acc_chart.redraw()
            charts += [self.loss_chart, self.acc_chart]
        e = len(self.history.epochs)
        if force or e != self._drawn_epochs:
            self._drawn_epochs = e
            for chart in self.epoch_charts:
                chart.set_epochs(self.history.epochs)
            charts += self.epoch_charts
        return sum(chart.build_seconds for chart in charts) if charts else None


def make_app(
    config: TrainConfig | None = None,
    *,
    trainer: Trainer | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
    preload_tf: bool | None = None,
    seed: int = 0,
    open_model: str | os.PathLike[str] | None = None,
) -> MnistApp:
    """The one way to build the app: the CLI passes the real trainer, tests a fake one."""
    return MnistApp(
        config or preset_config("mlp"),
        trainer=trainer or _default_trainer,
        runs_dir=runs_dir,
        preload_tf=trainer is None if preload_tf is None else preload_tf,
        seed=seed,
        open_model=open_model,
    )
