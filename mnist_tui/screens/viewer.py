"""Digit viewer: a test digit as text art beside the model's softmax histogram."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Static

from mnist_tui.events import Predictions
from mnist_tui.history import RunHistory
from mnist_tui.render import palette
from mnist_tui.render.charset import symbols
from mnist_tui.render.navigation import DigitNavigator
from mnist_tui.widgets.digit_art import DigitArt
from mnist_tui.widgets.prob_histogram import ProbHistogram


class ViewerView(Vertical):
    """The keys are app bindings that call the ``action_*`` methods here while the viewer tab
    shows (``MnistApp.check_action``): no focus needed, so opening the tab is cheap."""

    def __init__(self, history: RunHistory, *, seed: int = 0, id: str | None = None) -> None:
        super().__init__(id=id)
        self.history = history
        self.seed = seed
        self.nav: DigitNavigator | None = None
        self.epoch: int | None = None  # the epoch whose predictions show; None: the latest
        self._data_id = 0
        self._pred_epoch = -1
        self._drawn: tuple[object, ...] | None = None
        self._lines: dict[str | None, str | Text] = {}
        self.sym = symbols()

    def compose(self) -> ComposeResult:
        yield Static("", id="viewer-info")
        with Horizontal(id="viewer-body"):
            yield DigitArt(id="digit-art")
            yield ProbHistogram(id="prob-histogram")
        yield Static("", id="viewer-hint")

    def on_mount(self) -> None:
        self.sync()

    def sync(self) -> None:
        """Pick up new data or predictions from the history, then redraw."""
        data = self.history.data
        if data is None:
            self.nav = None
        elif id(data) != self._data_id:
            self._data_id = id(data)
            self.nav = DigitNavigator(data.y_test, seed=self.seed)
            self._pred_epoch = -1
        preds = self._predictions()
        if self.nav is not None and preds is not None and preds.probabilities is not None \
                and id(preds) != self._pred_epoch:
            self._pred_epoch = id(preds)
            self.nav.set_predictions(preds.probabilities)
        # Hidden, it paints when its tab opens (which syncs again); shown, only on a change.
        if self._shown() and self._state() != self._drawn:
            self.redraw()

    def _predictions(self) -> Predictions | None:
        if self.epoch is not None and self.epoch in self.history.predictions_by_epoch:
            return self.history.predictions_by_epoch[self.epoch]
        return self.history.predictions

    def show_epoch(self, epoch: int | None) -> None:
        """[ / ]: the predictions of another completed epoch (None: follow the latest)."""
        self.epoch = epoch
        self.sync()

    def _shown(self) -> bool:
        """Its tab is the active one (set at once on a switch, unlike the compositor's map)."""
        return all(node.display for node in self.ancestors_with_self if isinstance(node, Widget))

    def _state(self) -> tuple[object, ...]:
        """Everything the view shows depends on; equal states draw identical screens."""
        nav = self.nav
        where = None if nav is None else (nav.index, nav.class_filter, nav.pred_filter)
        return self._data_id, self._pred_epoch, self.history.finished is None, where

    def redraw(self) -> None:
        """Every widget here has a fixed size (app.tcss), so updates skip the layout pass."""
        self._drawn = self._state()
        info = self.query_one("#viewer-info", Static)
        art = self.query_one(DigitArt)
        hist = self.query_one(ProbHistogram)
        hint = self.query_one("#viewer-hint", Static)
        data, nav = self.history.data, self.nav
        if data is None or nav is None or data.x_test is None or data.y_test is None:
            self._set(info, "No test data yet: start a run (s) and the test digits appear here.")
            art.show(None)
            hist.show(None, None, tuple(str(i) for i in range(10)))
            self._set(hint, "")
            return
        i = nav.index
        true = int(data.y_test[i])
        names = data.class_names
        preds = self._predictions()
        probs = None if preds is None else preds.probabilities
        p = None if probs is None else probs[i]
        art.show(data.x_test[i])
        hist.show(p, true, names)
        pos, total = nav.position()
        line = Text()
        line.append(f"#{i}", style="bold")
        line.append(f"  true {names[true]}")
        filt = "all classes" if nav.class_filter is None else f"only {names[nav.class_filter]}"
        if nav.pred_filter is not None:
            true_part = "all" if nav.class_filter is None else f"{names[nav.class_filter]}s"
            filt = f"only {true_part} predicted as {names[nav.pred_filter]}"
        if p is not None:
            pred = int(np.argmax(p))
            ok = pred == true
            line.append(f"  predicted {names[pred]}  confidence {p[pred]:.1%}  ")
            line.append(f"{self.sym.check} correct" if ok else f"{self.sym.cross} wrong",
                        style=f"bold {palette.TRUE}" if ok else f"bold {palette.WRONG}")
            epoch = preds.epoch if preds is not None else 0
            epochs = self.history.prediction_epochs()
            training = self.history.finished is None
            where = f"model after epoch {epoch}" if epoch else "loaded model"
            if len(epochs) > 1:
                where += f" of {epochs[-1]}" if epoch != epochs[-1] else ""
            line.append(f"   {where}" + (" (training continues)" if training and epoch == epochs[-1] else ""),
                        style="dim")
        else:
            line.append("  (no predictions yet: they arrive at the end of the first epoch)", style="dim")
        self._set(info, self.sym.rich(line))
        wrong = nav.misclassified_count() if p is not None else 0
        self._set(hint, Text(self.sym.text(f"{pos}/{total} ({filt}) · {wrong} misclassified"
                                           " · ←/→ step · m/M wrong · 0–9 class · a all · r random · [ ] epoch")))

    def _set(self, widget: Static, content: str | Text) -> None:
        """Update a line only when it changed: an update repaints it, and repaints are bytes."""
        if self._lines.get(widget.id) != content:
            self._lines[widget.id] = content
            widget.update(content, layout=False)

    # -- actions
    def _after(self, moved: bool, failure: str = "") -> None:
        if not moved and failure:
            self.app.notify(failure, severity="warning", timeout=3)
        self.sync()  # redraws, with the latest predictions (--low-bandwidth brings them only on a key)

    def action_step(self, direction: int) -> None:
        if self.nav is not None:
            self._after(self.nav.next() if direction > 0 else self.nav.previous())

    def action_misclassified(self, direction: int) -> None:
        if self.nav is None:
            return
        if self.nav.predicted is None:
            self._after(False, "No predictions yet: misclassified digits are known after the first epoch.")
            return
        moved = self.nav.next_misclassified() if direction > 0 else self.nav.previous_misclassified()
        where = " in this class." if self.nav.class_filter is not None else "."
        self._after(moved, "No misclassified digits" + where)

    def action_random(self) -> None:
        if self.nav is not None:
            self._after(self.nav.random())

    def action_filter(self, cls: int) -> None:
        if self.nav is not None:
            self._after(self.nav.filter_class(None if cls < 0 else cls))
