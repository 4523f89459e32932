"""What changed between two runs: the test digits that flipped, both confusion matrices and
their difference, and both runs' epoch curves on one axis; ``Enter`` opens the flipped
digits with both runs' softmax bars side by side.

Pushed from the Runs tab (``D`` with two runs selected); everything comes from the two run
directories (``runs.compare.diff_runs``), read off the UI thread.
"""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from mnist_tui.render import palette
from mnist_tui.render.charset import symbols
from mnist_tui.render.compare import confusion_text, delta_text, flips_text
from mnist_tui.runs.compare import RunDiff, changed_fields, diff_runs
from mnist_tui.runs.milestones import epoch_curve
from mnist_tui.runs.rundir import RunStoreError
from mnist_tui.runs.store import RunInfo, format_accuracy
from mnist_tui.textsafe import safe
from mnist_tui.widgets.compare_chart import CompareChart
from mnist_tui.widgets.digit_art import DigitArt
from mnist_tui.widgets.prob_histogram import ProbHistogram

SYM = symbols()
LISTS = ("broken", "fixed", "both")  # which flipped digits the flip viewer steps through


def open_diff(view: Widget, runs: list[RunInfo]) -> None:
    """The Runs tab's ``D``: exactly two selected runs, the one started first as A."""
    if len(runs) != 2:
        view.app.notify(f"Select two runs (space) to diff them; {len(runs)} selected.", severity="warning",
                        timeout=3)
        return
    view.app.push_screen(DiffScreen(runs[0], runs[1]))


class DiffScreen(Screen[None]):
    """A vs B: flips per class, confusion A | B | B − A, the epoch curves overlaid."""

    BINDINGS = [
        Binding("escape", "close", "Back", id="diff.back"),
        Binding("enter", "flips", "Flipped digits", id="diff.flips"),
        Binding("z", "axis", "Epochs/samples", id="diff.axis"),
        Binding("a", "metric", "Acc/Loss", id="diff.metric"),
    ]

    def __init__(self, a: RunInfo, b: RunInfo) -> None:
        super().__init__()
        self.a, self.b = a, b
        self.diff: RunDiff | None = None
        self.error = ""

    def compose(self) -> ComposeResult:
        yield Static(Text(f"diff {safe(self.a.id)} (A) vs {safe(self.b.id)} (B): reading…"), id="diff-title")
        with VerticalScroll(id="diff-body"):
            yield Static("", id="diff-flips")
            with Horizontal(classes="diff-row"):  # two 53-cell matrices side by side fit 110 cells
                yield Static("", id="diff-a", classes="diff-matrix")
                yield Static("", id="diff-b", classes="diff-matrix")
            with Horizontal(classes="diff-row"):
                yield Static("", id="diff-delta", classes="diff-matrix")
                yield CompareChart(id="diff-chart")
        yield Static(SYM.text("Enter: the flipped digits, both softmax outputs · z: x in epochs/samples · "
                              "a: accuracy/loss · Esc: back"), id="diff-hint")

    def on_mount(self) -> None:
        self.query_one(CompareChart).set_curves([(f"A {self.a.id}", epoch_curve(self.a.path)),
                                                 (f"B {self.b.id}", epoch_curve(self.b.path))])
        self._load()

    @work(thread=True, exclusive=True, group="diff", exit_on_error=False)
    def _load(self) -> None:
        try:
            diff = diff_runs(self.a.path, self.b.path)
        except RunStoreError as err:
            self.app.call_from_thread(self._failed, str(err))
            return
        self.app.call_from_thread(self._show, diff)

    def _failed(self, message: str) -> None:
        self.error = message
        self.query_one("#diff-title", Static).update(Text(safe(f"Cannot diff: {message}"), style=palette.WRONG))

    def _show(self, diff: RunDiff) -> None:
        self.diff = diff
        names = diff.class_names
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append(f"A {safe(self.a.id)} ", style="bold")
        title.append(f"test {format_accuracy(self.a.test_accuracy)} (epoch {diff.epoch_a})   ")
        title.append(f"B {safe(self.b.id)} ", style="bold")
        title.append(f"test {format_accuracy(self.b.test_accuracy)} (epoch {diff.epoch_b})\n")
        fixed, broken = len(diff.fixed), len(diff.broken)
        title.append(safe(changed_fields(self.a.config, self.b.config)) + " · ", style="dim")
        title.append(f"B fixed {fixed}", style=palette.TRUE)
        title.append(" (wrong in A) · ")
        title.append(f"B broke {broken}", style=palette.WRONG)
        title.append(f" (right in A) · net {fixed - broken:+d}")
        self.query_one("#diff-title", Static).update(SYM.rich(title))
        self.query_one("#diff-flips", Static).update(SYM.rich(flips_text(diff.per_class(), names, "A", "B")))
        a_title = "A: rows true, cols predicted"
        self.query_one("#diff-a", Static).update(confusion_text(diff.confusion_a, names, a_title, cell=5))
        self.query_one("#diff-b", Static).update(confusion_text(diff.confusion_b, names, "B", cell=5))
        self.query_one("#diff-delta", Static).update(delta_text(diff.confusion_delta, names,
                                                                "B − A (green: B better)", cell=5))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_flips(self) -> None:
        if self.diff is None:
            self.app.notify(self.error or "Still reading the two runs…", severity="warning", timeout=3)
            return
        if not len(self.diff.fixed) and not len(self.diff.broken):
            self.app.notify("No test digit flipped between A and B.", timeout=3)
            return
        self.app.push_screen(FlipViewer(self.diff, self.a.id, self.b.id))

    def action_axis(self) -> None:
        self.query_one(CompareChart).toggle_axis()

    def action_metric(self) -> None:
        self.query_one(CompareChart).toggle_metric()


class FlipViewer(Screen[None]):
    """The flipped test digits one at a time: the digit, A's softmax bars beside B's."""

    BINDINGS = [
        Binding("escape", "close", "Back", id="flips.back"),
        Binding("right", "step(1)", "Next", id="flips.next"),
        Binding("left", "step(-1)", "Prev", id="flips.prev"),
        Binding("f", "cycle_list", "Broke/Fixed/Both", id="flips.list"),
    ]

    def __init__(self, diff: RunDiff, a: str, b: str) -> None:
        super().__init__()
        self.diff = diff
        self.names = (a, b)
        self.which = "broken" if len(diff.broken) else "fixed"
        self.position = 0

    @property
    def indices(self) -> np.ndarray:
        if self.which == "both":
            return np.sort(np.concatenate([self.diff.broken, self.diff.fixed]))
        return self.diff.broken if self.which == "broken" else self.diff.fixed

    def compose(self) -> ComposeResult:
        yield Static("", id="flip-info")
        with Horizontal(id="flip-body"):
            yield DigitArt(id="flip-art")
            with Vertical(classes="flip-probs"):
                yield Static(Text(f"A {safe(self.names[0])}", style="bold", no_wrap=True), classes="flip-label")
                yield ProbHistogram(id="flip-a")
            with Vertical(classes="flip-probs"):
                yield Static(Text(f"B {safe(self.names[1])}", style="bold", no_wrap=True), classes="flip-label")
                yield ProbHistogram(id="flip-b")
        yield Static(SYM.text("←/→ step · f: broke/fixed/both · Esc: back"), id="flip-hint")

    def on_mount(self) -> None:
        self.redraw()

    @property
    def index(self) -> int | None:
        idx = self.indices
        return int(idx[self.position % len(idx)]) if len(idx) else None

    def redraw(self) -> None:
        d, i = self.diff, self.index
        info = self.query_one("#flip-info", Static)
        if i is None:
            info.update(f"No digits in this list ({self.which}).")
            return
        true = int(d.y_test[i])
        names = d.class_names
        self.query_one(DigitArt).show(None if d.x_test is None else d.x_test[i])
        self.query_one("#flip-a", ProbHistogram).show(d.probs_a[i], true, names)
        self.query_one("#flip-b", ProbHistogram).show(d.probs_b[i], true, names)
        what = {"broken": "right in A, wrong in B", "fixed": "wrong in A, right in B",
                "both": "flipped either way"}[self.which]
        line = Text()
        line.append(f"#{i}", style="bold")
        line.append(f"  true {names[true]}  A says {names[int(d.pred_a[i])]}  B says {names[int(d.pred_b[i])]}")
        line.append(f"\n{self.position % len(self.indices) + 1}/{len(self.indices)} {what}", style="dim")
        info.update(SYM.rich(line))

    def action_step(self, step: int) -> None:
        if len(self.indices):
            self.position = (self.position + step) % len(self.indices)
        self.redraw()

    def action_cycle_list(self) -> None:
        self.which = LISTS[(LISTS.index(self.which) + 1) % len(LISTS)]
        self.position = 0
        self.redraw()

    def action_close(self) -> None:
        self.dismiss(None)
