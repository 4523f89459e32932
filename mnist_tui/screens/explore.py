"""Explore view: the tutorials' concepts, live — the dataset, the activation functions, batches,
the softmax, and the loss landscape of the current run.

Every number comes from ``mnist_tui.render.explore`` and ``mnist_tui.models.landscape`` (pure,
unit-tested); this module only lays them out. Sections are tabs, also reachable with 1–5
whenever the view has focus. The landscape runs the run's two checkpoints (initial and
latest) with NumPy in a worker thread, when its section is open and the checkpoint changed.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Input, Label, Static, TabbedContent, TabPane

from mnist_tui.errors import MnistTuiError
from mnist_tui.history import RunHistory
from mnist_tui.models.landscape import LossLine
from mnist_tui.render.bars import bar_string
from mnist_tui.render.charset import Symbols, symbols
from mnist_tui.render.explore import (
    ACTIVATION_RANGES,
    TEMPERATURES,
    activation_curves,
    count_ticks,
    dataset_facts,
    digits_row_text,
    format_vector,
    one_hot_text,
    sample_grid,
    softmax_naive,
    softmax_stable,
    softmax_with_temperature,
    steps_per_epoch,
)
from mnist_tui.render.palette import ACTIVATIONS, BAR, LOSS, PREDICTED, RAW, VAL
from mnist_tui.render.ticks import ticks_for_columns, ticks_for_rows
from mnist_tui.widgets.cached_plot import CachedPlot, LegendEntry
from mnist_tui.widgets.digit_art import art_mode

NO_DATA = "No data yet: start a run (s) and the dataset it loads appears here."
SECTIONS = ("explore-dataset", "explore-activations", "explore-batches", "explore-softmax-play",
            "explore-landscape")
LARGE_Z = np.array([1000.0, 1001.0, 1002.0])
SMALL_Z = np.array([1.0, 2.0, 3.0])
DEFAULT_BATCH = 32
NARROW = 100
SAMPLE_W = 14  # a 2×-downsampled digit in half blocks: 14 cells wide, 7 rows tall
START_LOGITS = (1.0, 2.0, 0.5, 3.0, -1.0, 0.0, 0.2, 1.5, -0.5, 0.8)  # what a net might output for a 3
LOGIT_STEP, LOGIT_LIMIT = 0.5, 10.0
LANDSCAPE_POLL = 1.0  # seconds between checks for a newer checkpoint while the landscape shows
CHECKPOINT, INITIAL = "checkpoint.npz", "checkpoint-initial.npz"  # as in mnist_tui.runs.rundir


class LabelChart(CachedPlot):
    """How many training images each class has: a plotext bar chart, one bar per class."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.counts: np.ndarray | None = None
        self.class_names: tuple[str, ...] = ()
        self.bars = 0

    def on_mount(self) -> None:
        super().on_mount()
        self.redraw()

    def set_counts(self, counts: np.ndarray | None, class_names: tuple[str, ...]) -> None:
        self.counts = None if counts is None else np.asarray(counts)
        self.class_names = tuple(class_names)
        self.redraw()

    def redraw(self) -> None:
        plt = self.plt
        plt.clear_data()
        self.bars = 0
        if self.counts is None:
            self.set_header("training labels per class (no data yet)")
        else:
            labels = [str(k) for k in range(len(self.counts))]  # names would collide in 5 cells
            marker = "#" if self.symbols.ascii else "sd"  # plotext's bars are blocks ("sd")
            plt.bar(labels, [int(c) for c in self.counts], color=self.colour(BAR), width=0.6, marker=marker)
            self.bars = len(labels)
            plt.yticks(count_ticks(int(self.counts.max())))
            total = int(self.counts.sum())
            self.set_header(f"training labels per class ({total} images; min {int(self.counts.min())}, "
                            f"max {int(self.counts.max())})")
        self.changed()


class ActivationChart(CachedPlot):
    """relu, sigmoid and tanh over [-r, r]; `[`/`]` change r to show saturation vs growth.

    The legend is in the header, and without colour each curve has its own marker. Grey
    guide lines at -1, 0 and 1 show where tanh and sigmoid level off, so the y ticks can be
    evenly spaced rather than forced to include -1.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.range_index = ACTIVATION_RANGES.index(5.0)
        self.marker = "braille"
        self.yticks: list[float] = []

    @property
    def x_range(self) -> tuple[float, float]:
        r = ACTIVATION_RANGES[self.range_index]
        return (-r, r)

    def on_mount(self) -> None:
        super().on_mount()
        self.redraw()

    def step_range(self, direction: int) -> bool:
        """Narrow (-1) or widen (+1); False at either end."""
        i = self.range_index + direction
        if not 0 <= i < len(ACTIVATION_RANGES):
            return False
        self.range_index = i
        self.redraw()
        return True

    def redraw(self) -> None:
        plt = self.plt
        plt.clear_data()
        lo, hi = self.x_range
        xs = np.linspace(lo, hi, 201)
        curves = activation_curves(xs)
        names = ("relu", "sigmoid", "tanh")
        markers = self.markers(len(names), self.marker)
        self.set_header(f"activations on x ∈ [{lo:g}, {hi:g}]   ([ narrow · ] widen)",
                        [LegendEntry(name, markers[i], ACTIVATIONS[name]) for i, name in enumerate(names)])
        top = max(1.1, hi * 1.02)
        for level in (-1.0, 0.0, 1.0):  # drawn first: the curves go over them
            plt.hline(level, self.colour(RAW))
        for i, name in enumerate(names):
            plt.plot(xs.tolist(), curves[name].tolist(), marker=markers[i], color=self.colour(ACTIVATIONS[name]))
        plt.xlim(lo, hi)
        plt.ylim(-1.1, top)
        self.yticks, labels = ticks_for_rows(-1.1, top, self.plot_rows)
        plt.yticks(self.yticks, labels)
        plt.xticks(*ticks_for_columns(lo, hi, self.plot_columns))
        self.changed()


class SampleDigits(Widget):
    """One sample digit per class, small (2× downsampled), five to a row."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.x: np.ndarray | None = None
        self.y: np.ndarray | None = None
        self.class_names: tuple[str, ...] = ()
        self.start = 0
        self.indices: np.ndarray | None = None
        self.mode = art_mode()

    def set_data(self, x: np.ndarray | None, y: np.ndarray | None, class_names: tuple[str, ...]) -> None:
        self.x, self.y, self.class_names = x, y, tuple(class_names)
        self.start = 0
        self._pick()

    def next_samples(self) -> None:
        self.start += 1
        self._pick()

    def _pick(self) -> None:
        if self.x is None or self.y is None:
            self.indices = None
        else:
            self.indices = sample_grid(self.x, self.y, per_class=1, num_classes=len(self.class_names),
                                       start=self.start)[:, 0]
        self.refresh(layout=True)

    def per_row(self, width: int) -> int:
        n = len(self.class_names) or 10
        fit = max(1, (width + 1) // (SAMPLE_W + 1))
        return n if fit >= n else min(fit, 5)

    def get_content_height(self, container: Any, viewport: Any, width: int) -> int:
        if self.indices is None:
            return 1
        rows = math.ceil(len(self.indices) / self.per_row(width))
        return 1 + rows * 8

    def render(self) -> Text:
        if self.indices is None or self.x is None:
            return Text(NO_DATA, style="dim")
        text = Text(no_wrap=True, overflow="crop")
        text.append(f"a training digit of each class (sample {self.start + 1}; n: next)", style="dim")
        per_row = self.per_row(self.size.width)
        for first in range(0, len(self.indices), per_row):
            chunk = [k for k in range(first, min(first + per_row, len(self.indices))) if self.indices[k] >= 0]
            text.append("\n")
            text.append_text(digits_row_text([self.x[self.indices[k]] for k in chunk],
                                             [f"{k} {self.class_names[k]}"[:SAMPLE_W]
                                              if self.class_names[k] != str(k) else str(k) for k in chunk],
                                             self.mode))
        return text


def softmax_play_text(z: np.ndarray, temperature: float, selected: int, width: int, sym: Symbols) -> Text:
    """Ten logits as signed bars beside the softmax they give at temperature T."""
    probs = softmax_with_temperature(z, temperature)
    half = max(4, min(16, (width - 60) // 2))
    text = Text(no_wrap=True, overflow="crop")
    text.append(f"softmax(z / T) with T = {temperature:g}", style="bold")
    text.append(f"   {sym.up}{sym.down} pick a logit {sym.dot} {sym.left}{sym.right} lower/raise it {sym.dot} "
                f"- + temperature {sym.dot} 0 resets\n\n", style="dim")
    text.append(f"    {'logit z':>{half * 2 + 8}}", style="dim")
    text.append("   probability\n", style="dim")
    top = int(np.argmax(probs))
    for k, (value, p) in enumerate(zip(z, probs, strict=True)):
        here = k == selected
        text.append(f"{sym.right if here else ' '} {k} ", style="bold" if here else "")
        cells = round(min(1.0, max(0.0, -value) / LOGIT_LIMIT) * half)  # leftwards: whole cells only
        neg = " " * (half - cells) + sym.full_block * cells
        pos = bar_string(min(1.0, max(0.0, value) / LOGIT_LIMIT), half, sym)
        style = f"bold {VAL}" if here else BAR
        text.append(neg, style=style)
        text.append(sym.vbar, style="dim")
        text.append(pos, style=style)
        text.append(f" {value:+5.1f}   ", style="bold" if here else "")
        text.append(bar_string(float(p), 20, sym), style=f"bold {PREDICTED}" if k == top else BAR)
        text.append(f" {p:.3f}\n", style="bold" if k == top else "")
    entropy = float(-(probs * np.log(np.clip(probs, 1e-300, None))).sum())
    text.append(f"\nΣ p = {probs.sum():.3f} {sym.dot} largest {probs.max():.3f} {sym.dot} entropy {entropy:.2f} "
                f"(uniform: {math.log(len(z)):.2f})", style="dim")
    text.append("\nlow T: the largest logit takes (almost) everything; high T: every class alike. "
                "Adding the same number to every logit changes nothing.", style="dim")
    return text


class LandscapeChart(CachedPlot):
    """The test loss along the straight line from the initial weights (α = 0) to the trained
    ones (α = 1), a little beyond either end."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.line: LossLine | None = None
        self.message = "no run yet"

    def on_mount(self) -> None:
        super().on_mount()
        self.redraw()

    def show(self, line: LossLine | None, message: str = "") -> None:
        self.line, self.message = line, message
        self.redraw()

    def redraw(self) -> None:
        plt = self.plt
        plt.clear_data()
        line = self.line
        if line is None:
            self.set_header(f"loss along the line from the initial to the trained weights ({self.message})")
            self.changed()
            return
        marker = self.markers(1, "braille")[0]
        self.set_header(f"test loss along w(a) = (1 - a)*w0 + a*w1: w0 the initial weights, w1 after epoch "
                        f"{line.epoch} ({line.images:,} test images)", [LegendEntry("loss", marker, LOSS)])
        xs = line.alphas.tolist()
        finite = line.losses[np.isfinite(line.losses)]
        top = max(float(finite.max()) if finite.size else 1.0, math.log(10)) * 1.05
        for x in (0.0, 1.0):
            plt.vline(x, self.colour(RAW))
        plt.plot(xs, np.nan_to_num(line.losses, nan=top, posinf=top).tolist(), marker=marker,
                 color=self.colour(LOSS))
        plt.xlim(float(xs[0]), float(xs[-1]))
        plt.ylim(0.0, top)
        plt.yticks(*ticks_for_rows(0.0, top, self.plot_rows))
        plt.xticks([-0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.25], ["-0.25", "0 initial", "0.25", "0.5", "0.75",
                                                              "1 trained", "1.25"])
        self.changed()


def landscape_summary(line: LossLine) -> str:
    """What the line shows, in words, from its numbers (not every run looks the textbook way)."""
    i0, i1 = int(np.argmin(np.abs(line.alphas))), int(np.argmin(np.abs(line.alphas - 1)))
    inner = line.losses[i0:i1 + 1]
    steps = np.diff(inner)
    shape = ("it falls all the way, without a bump: the optimizer could have walked straight there"
             if (steps <= 1e-6).all() else f"it rises {int((steps > 1e-6).sum())} time(s) on the way: a bump between")
    after = ("past a = 1 it rises again: the trained weights sit near the bottom of this valley"
             if line.losses[-1] > line.losses[i1] else
             "past a = 1 it keeps falling: more training in the same direction would still help")
    return (f"a = 0 (initial): loss {line.losses[i0]:.3f}, accuracy {line.accuracies[i0]:.1%} (guessing: "
            f"ln 10 = 2.303, 10 %) · a = 1 (trained): loss {line.losses[i1]:.3f}, accuracy "
            f"{line.accuracies[i1]:.1%} · {shape}; {after}.")


def facts_text(facts: dict[str, Any]) -> Text:
    """The arrays' shapes and dtypes and the pixel range before and after /255."""
    text = Text(no_wrap=True, overflow="crop")
    text.append("array    shape            dtype\n", style="dim")
    for name, (shape, dtype) in facts["arrays"].items():
        text.append(f"{name:<8} {shape!s:<16} {dtype}\n")
    text.append("\npixels   ", style="dim")
    text.append(f"{facts['raw_min']} … {facts['raw_max']}  ({facts['raw_dtype']})\n")
    text.append("  / 255  ", style="dim")
    text.append(f"{facts['norm_min']:.1f} … {facts['norm_max']:.1f}  ({facts['norm_dtype']})")
    return text


def softmax_text() -> Text:
    """Why the max is subtracted: the naive formula turns large logits into nan."""
    naive = softmax_naive(LARGE_Z)
    stable = softmax_stable(LARGE_Z)
    with np.errstate(over="ignore"):
        exp_large = np.exp(LARGE_Z)
    text = Text()
    text.append("softmax(z) = exp(z) / Σ exp(z)", style="bold")
    text.append(f" on large logits z = {format_vector(LARGE_Z, 0)}\n")
    text.append("naive   ", style="bold")
    text.append(f"exp(z) = {format_vector(exp_large, 0)} → ")
    text.append(format_vector(naive), style="bold red")
    text.append("   (e^1000 overflows float64)", style="dim")
    text.append("\nstable  ", style="bold")
    text.append(f"exp(z − max z) = exp({format_vector(LARGE_Z - LARGE_Z.max(), 0)}) → ")
    text.append(format_vector(stable), style="bold green")
    text.append(f"  Σ = {stable.sum():.3f}\n")
    text.append(f"small z = {format_vector(SMALL_Z, 0)}: naive {format_vector(softmax_naive(SMALL_Z))}"
                f" = stable {format_vector(softmax_stable(SMALL_Z))}", style="dim")
    return text


class ExploreView(Vertical, can_focus=True):
    """Keys work whenever the view (or anything in it) has focus."""

    BINDINGS = [
        Binding("1", "section(0)", "Dataset", id="explore.dataset"),
        Binding("2", "section(1)", "Activations", id="explore.activations"),
        Binding("3", "section(2)", "Batches", id="explore.batches"),
        Binding("4", "section(3)", "Softmax", id="explore.softmax"),
        Binding("5", "section(4)", "Landscape", id="explore.landscape"),
        Binding("up", "pick_logit(-1)", "Logit above", id="explore.logit_up", show=False),
        Binding("down", "pick_logit(1)", "Logit below", id="explore.logit_down", show=False),
        Binding("left", "change_logit(-1)", "Lower logit", id="explore.lower", show=False),
        Binding("right", "change_logit(1)", "Raise logit", id="explore.raise", show=False),
        Binding("minus", "temperature(-1)", "Colder", id="explore.colder"),
        Binding("plus,equals_sign", "temperature(1)", "Hotter", id="explore.hotter"),
        Binding("0", "reset_logits", "Reset", id="explore.reset", show=False),
        Binding("left_square_bracket", "x_range(-1)", "Narrow x", id="explore.narrow"),
        Binding("right_square_bracket", "x_range(1)", "Widen x", id="explore.widen"),
        Binding("n", "next_samples", "Next samples", id="explore.samples"),
        Binding("escape", "leave_field", "Leave field", id="explore.leave", show=False),
    ]

    def __init__(self, *, id: str | None = None, history: RunHistory | None = None,
                 run_path: Callable[[], Path | None] | None = None) -> None:
        super().__init__(id=id)
        self.n_train: int | None = None
        self.facts: dict[str, Any] | None = None
        self.symbols = symbols()
        self.history = history  # the followed run, for the loss landscape (None: no landscape)
        self.run_path = run_path or (lambda: None)
        self.logits = np.array(START_LOGITS)
        self.logit = 3
        self.temperature_index = TEMPERATURES.index(1.0)
        self._landscape_key: tuple[Any, ...] | None = None

    def compose(self) -> ComposeResult:
        with TabbedContent(id="explore-tabs"):
            with TabPane("1 Dataset", id=SECTIONS[0]), VerticalScroll(id="explore-dataset-scroll"):
                with Horizontal(id="explore-dataset-top"):
                    with Vertical(id="explore-facts-box"):
                        yield Static(NO_DATA, id="explore-facts")
                        yield Static("", id="explore-onehot")
                    yield LabelChart(id="explore-labels")
                yield SampleDigits(id="explore-samples")
            with TabPane("2 Activations", id=SECTIONS[1]):
                yield ActivationChart(id="explore-activation-chart")
                yield Static(self.symbols.rich(softmax_text()), id="explore-softmax")
            with TabPane("3 Batches", id=SECTIONS[2]):
                yield Static(NO_DATA, id="explore-n")
                with Horizontal(id="explore-batch-row"):
                    yield Label("batch size")
                    yield Input(str(DEFAULT_BATCH), type="integer", id="explore-batch-size", select_on_focus=True)
                yield Static("", id="explore-steps")
            with TabPane("4 Softmax", id=SECTIONS[3]):
                yield Static("", id="explore-play")
            with TabPane("5 Landscape", id=SECTIONS[4]):
                yield LandscapeChart(id="explore-landscape-chart")
                yield Static("", id="explore-landscape-info")

    def on_mount(self) -> None:
        self._update_steps()
        self._update_play()
        self.set_interval(LANDSCAPE_POLL, self._landscape_tick)

    def on_resize(self) -> None:
        """Below 100 columns the label chart goes under the facts: plotext merges bars under ~5 cells each."""
        self.set_class(self.size.width < NARROW, "-narrow")

    # -- data
    def set_data(self, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                 class_names: tuple[str, ...], *, n_train: int | None = None) -> None:
        """Called by the app once a dataset is loaded.

        ``n_train`` overrides N in the Batches section: what a run really steps over after
        ``--limit`` and the validation split (``DataReady.n_train``), not ``len(x_train)``.
        """
        names = tuple(class_names)
        facts = dataset_facts(x_train, y_train, x_test, y_test, num_classes=len(names))
        self.facts = facts
        self.n_train = len(x_train) if n_train is None else int(n_train)
        self.query_one("#explore-facts", Static).update(self.symbols.rich(facts_text(facts)))
        label = int(y_train[0])
        onehot = Text(f"y_train[0] = {names[label]}, in two forms:\n", style="dim")
        onehot.append(one_hot_text(label, len(names)), style="")
        self.query_one("#explore-onehot", Static).update(onehot)
        self.query_one(LabelChart).set_counts(facts["train_counts"], names)
        self.query_one(SampleDigits).set_data(x_train, y_train, names)
        n = Text()
        n.append(f"training images N = {self.n_train}", style="bold")
        n.append("\nx_train.shape[0]; with a validation split, Keras steps over what remains", style="dim")
        self.query_one("#explore-n", Static).update(n)
        self._update_steps()

    # -- batches
    def set_batch_size(self, batch: int) -> None:
        """Mirror the form's batch size (optional: the app may call this)."""
        self.query_one("#explore-batch-size", Input).value = str(batch)

    @on(Input.Changed, "#explore-batch-size")
    def _batch_changed(self) -> None:
        self._update_steps()

    def steps_line(self) -> str:
        value = self.query_one("#explore-batch-size", Input).value.strip()
        try:
            batch = int(value)
        except ValueError:
            batch = 0
        if batch <= 0:
            return "batch size must be a whole number ≥ 1"
        if self.n_train is None:
            return f"steps per epoch = ceil(N / {batch}) once a dataset is loaded"
        n = self.n_train
        steps = steps_per_epoch(n, batch)
        line = f"steps per epoch = ceil({n} / {batch}) = {steps}"
        if steps:
            last = n - (steps - 1) * batch
            line += f"\n{steps} weight updates per epoch; the last batch holds {last} image{'s' * (last != 1)}"
            if last != batch:
                line += f" (= {n} − {steps - 1} × {batch})"
        return line

    def _update_steps(self) -> None:
        self.query_one("#explore-steps", Static).update(self.symbols.text(self.steps_line()))

    # -- actions
    @property
    def section(self) -> str:
        """The id of the visible section ("" before the tabs exist: bindings are checked early)."""
        tabs = self.query("#explore-tabs").results(TabbedContent)
        return next((t.active for t in tabs), "")

    def action_section(self, index: int) -> None:
        self.query_one("#explore-tabs", TabbedContent).active = SECTIONS[index]
        self.refresh_bindings()

    @on(TabbedContent.TabActivated, "#explore-tabs")
    def _section_shown(self, event: TabbedContent.TabActivated) -> None:
        event.stop()  # the app's own tab handler must not see the inner tabs
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`[`/`]` only mean something on Activations, `n` only on Dataset: greyed elsewhere."""
        if action == "x_range":
            return True if self.section == SECTIONS[1] else None
        if action == "next_samples":
            return True if self.section == SECTIONS[0] and self.n_train is not None else None
        if action in ("pick_logit", "change_logit", "temperature", "reset_logits"):
            return True if self.section == SECTIONS[3] else None
        return True

    def action_x_range(self, direction: int) -> None:
        chart = self.query_one(ActivationChart)
        if not chart.step_range(direction):
            self.app.notify("Narrowest range." if direction < 0 else "Widest range.", timeout=2)

    def action_next_samples(self) -> None:
        self.query_one(SampleDigits).next_samples()

    def action_leave_field(self) -> None:
        self.focus()

    # -- the softmax, drawn
    @property
    def temperature(self) -> float:
        return TEMPERATURES[self.temperature_index]

    def _update_play(self) -> None:
        width = self.size.width or 110
        self.query_one("#explore-play", Static).update(self.symbols.rich(
            softmax_play_text(self.logits, self.temperature, self.logit, width, self.symbols)))

    def action_pick_logit(self, step: int) -> None:
        self.logit = (self.logit + step) % len(self.logits)
        self._update_play()

    def action_change_logit(self, step: int) -> None:
        value = self.logits[self.logit] + step * LOGIT_STEP
        self.logits[self.logit] = max(-LOGIT_LIMIT, min(LOGIT_LIMIT, value))
        self._update_play()

    def action_temperature(self, step: int) -> None:
        self.temperature_index = max(0, min(len(TEMPERATURES) - 1, self.temperature_index + step))
        self._update_play()

    def action_reset_logits(self) -> None:
        self.logits, self.temperature_index = np.array(START_LOGITS), TEMPERATURES.index(1.0)
        self._update_play()

    # -- the loss landscape
    def _shown(self) -> bool:
        return all(node.display for node in self.ancestors_with_self if isinstance(node, Widget))

    def _landscape_tick(self) -> None:
        """While the landscape shows: compute it again when the run has a newer checkpoint."""
        if self.section != SECTIONS[4] or not self._shown():
            return
        history, path = self.history, self.run_path()
        chart = self.query_one(LandscapeChart)
        data = history.data if history is not None else None
        if history is None or path is None or data is None or data.x_test is None or data.y_test is None:
            if self._landscape_key is not None or chart.line is not None or chart.message != "no run yet":
                self._landscape_key = None
                chart.show(None, "no run yet")
            return
        key = (path, history.checkpoint_epoch, history.finished is not None)
        if key == self._landscape_key:
            return
        self._landscape_key = key
        if chart.line is None:
            chart.show(None, "computing…")
        self._compute_landscape(path, data.x_test, data.y_test, key)

    @work(thread=True, exclusive=True, group="explore-landscape", exit_on_error=False)
    def _compute_landscape(self, path: Path, x_test: np.ndarray, y_test: np.ndarray, key: tuple[Any, ...]) -> None:
        from mnist_tui.models.forward import load_checkpoint
        from mnist_tui.models.landscape import images_for, loss_line

        try:
            start, end = load_checkpoint(path / INITIAL), load_checkpoint(path / CHECKPOINT)
            n = images_for(end)
            line: LossLine | None = loss_line(start, end, x_test[:n], y_test[:n])
            message = ""
        except (MnistTuiError, ValueError) as err:
            line = None
            message = ("no initial weights: runs from before this version, and loaded models, have none"
                       if "checkpoint-initial" in str(err) else
                       "the first checkpoint comes at the end of the first epoch" if CHECKPOINT in str(err)
                       else str(err))
        with contextlib.suppress(RuntimeError):  # the app closed meanwhile
            self.app.call_from_thread(self._landscape_ready, line, message, key)

    def _landscape_ready(self, line: LossLine | None, message: str, key: tuple[Any, ...]) -> None:
        if key != self._landscape_key:
            return  # a newer checkpoint is being computed
        self.query_one(LandscapeChart).show(line, message)
        info = self.query_one("#explore-landscape-info", Static)
        if line is None:
            info.update(self.symbols.text(message))
            return
        info.update(self.symbols.text(landscape_summary(line)))
