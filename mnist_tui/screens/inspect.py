"""Inspect view: where the model goes wrong — the test-set confusion matrix beside per-class accuracy.

The grid's ``ConfusionGrid.CellSelected`` message is left to bubble: the app answers it by
opening the digit viewer filtered to that cell (``DigitNavigator.filter_pair``).
"""

from __future__ import annotations

import os

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from mnist_tui.render.bars import bar_string
from mnist_tui.render.charset import UNICODE, Symbols, symbols
from mnist_tui.widgets.confusion_grid import ConfusionGrid

MAX_BAR = 30  # a longer bar adds no information, only a wall of colour
# At/above overall, below it, the hardest class: green, yellow and bright red in 16 colours too.
GOOD, BELOW, BAD = "#2ea043", "#d29922", "#e5534b"


def _names(class_names: tuple[str, ...]) -> list[str]:
    """Digits stay digits; Fashion-MNIST's names get their index in front, cut to fit a column."""
    if all(name == str(k) for k, name in enumerate(class_names)):
        return list(class_names)
    return [f"{k} {name}"[:11] for k, name in enumerate(class_names)]


def accuracy_table(matrix: np.ndarray, class_names: tuple[str, ...], width: int, *, plain: bool = False,
                   sym: Symbols = UNICODE) -> Text:
    """Overall accuracy, then one row per class: name, eighth-block bar, accuracy %, correct/total.

    The correct/total column is dropped when ``width`` leaves the bar under 5 cells (80×24 with
    the full test set), so the bars never vanish.
    """
    m = np.asarray(matrix, dtype=np.int64)
    totals = m.sum(axis=1)
    correct = np.diag(m)
    names = [sym.text(n) for n in _names(class_names)]
    name_w = max(len(n) for n in names)
    count_w = len(str(int(totals.max()))) if len(totals) else 1
    fixed = name_w + 1 + 1 + 6  # name, space, space, "100.0%"
    counts = width - fixed - (2 * count_w + 2) >= 5
    bar_w = min(MAX_BAR, max(3, width - fixed - ((2 * count_w + 2) if counts else 0)))
    all_total = int(totals.sum())
    overall = correct.sum() / all_total if all_total else float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(totals > 0, correct / np.maximum(totals, 1), np.nan)
    worst = int(np.nanargmin(acc)) if np.isfinite(acc).any() else -1

    text = Text(no_wrap=True, overflow="crop")
    text.append("overall ", style="bold")
    if all_total:
        text.append(f"{overall:.1%}", style="bold")
        text.append(f"  ({int(correct.sum())}/{all_total})", style="dim")
    else:
        text.append(sym.text("—"))
    text.append("\n\n")
    text.append("per-class accuracy" + (f" {sym.dot} correct/total" if counts else ""), style="dim")
    for k, name in enumerate(names):
        text.append("\n")
        text.append(f"{name:>{name_w}} ")
        if totals[k] == 0:
            text.append(" " * bar_w + "      " + sym.text("—"))
            continue
        a = float(acc[k])
        is_worst = k == worst and a < 1.0
        if plain:
            style = "bold" if is_worst else ""
        else:
            style = BAD if is_worst else GOOD if a >= overall else BELOW
        text.append(bar_string(a, bar_w, sym), style=style)
        text.append(f" {a * 100:5.1f}%", style="bold" if is_worst else "")
        if counts:
            text.append(f" {int(correct[k]):>{count_w}}/{int(totals[k]):<{count_w}}", style="dim")
    if worst >= 0 and acc[worst] < 1.0:
        text.append("\n")
        text.append(f"\nhardest: {names[worst]} ({acc[worst]:.1%})", style="bold" if plain else f"bold {BAD}")
    return text


def cell_text(matrix: np.ndarray, class_names: tuple[str, ...], true_cls: int, pred_cls: int,
              sym: Symbols = UNICODE) -> Text:
    """What the highlighted cell means, in words, and what Enter does with it."""
    m = np.asarray(matrix)
    count = int(m[true_cls, pred_cls])
    total = int(m[true_cls].sum())
    t, p = sym.text(class_names[true_cls]), sym.text(class_names[pred_cls])
    text = Text()
    text.append(f"true {t} {sym.right} predicted {p}: {count}", style="bold")
    text.append("\n")
    if total:
        text.append(f"{count / total:.1%} of the {total} {t}s" + (" (right)" if true_cls == pred_cls else ""))
        text.append("\n")
    text.append(sym.text("↵ show them in the viewer") if count else "no digits in this cell", style="dim")
    return text


class InspectView(Horizontal):

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.matrix: np.ndarray | None = None
        self.class_names: tuple[str, ...] = tuple(str(i) for i in range(10))
        self.title = ""
        self._stale = False
        self.symbols = symbols()
        self.set_class(self.symbols.ascii, "-ascii")

    def compose(self) -> ComposeResult:
        with Vertical(id="inspect-left"):
            yield ConfusionGrid(id="confusion-grid")
            yield Static("", id="inspect-cell")
        with Vertical(id="inspect-right"):
            yield Static("", id="inspect-title")
            yield ClassAccuracy(id="inspect-table")

    def on_mount(self) -> None:
        grid = self.grid
        grid.border_title = "confusion matrix"
        grid.border_subtitle = f"rows true {self.symbols.dot} cols predicted"

        if self.matrix is None:
            self.clear("No predictions yet: they arrive after the first epoch, or load a model.")

    @property
    def grid(self) -> ConfusionGrid:
        return self.query_one(ConfusionGrid)

    def focus(self, scroll_visible: bool = True) -> InspectView:
        """Focusing the view focuses its grid, where the arrow keys work."""
        self.grid.focus(scroll_visible)
        return self

    def show(self, matrix: np.ndarray, class_names: tuple[str, ...], title: str) -> None:
        """New numbers (each epoch, at the end, or for a loaded model); the cursor stays put."""
        self.matrix = np.asarray(matrix, dtype=np.int64)
        self.class_names = tuple(class_names)
        self.title = title
        self._stale = True
        # Hidden (another tab shows): paint when the tab opens. Its widgets change size, and
        # a relayout costs a full layout pass of the screen even when they are not visible.
        if self.is_on_screen:
            self.sync()

    def sync(self) -> None:
        """Paint the latest numbers if they are not on screen yet; the app calls this when
        the tab opens."""
        if not self._stale or self.matrix is None:
            return
        self._stale = False
        self.grid.show(self.matrix, self.class_names)
        self.query_one("#inspect-title", Static).update(Text(self.symbols.text(self.title), style="italic"))
        self.query_one(ClassAccuracy).show(self.matrix, self.class_names)
        self._describe_cell()

    def clear(self, message: str) -> None:
        self._stale = False
        self.matrix = None
        self.title = ""
        self.grid.clear(self.symbols.text("—"))
        self.query_one("#inspect-title", Static).update(self.symbols.text(message))
        self.query_one(ClassAccuracy).show(None, self.class_names)
        self.query_one("#inspect-cell", Static).update("")

    def _describe_cell(self) -> None:
        if self.matrix is not None:
            t, p = self.grid.cursor
            self.query_one("#inspect-cell", Static).update(cell_text(self.matrix, self.class_names, t, p,
                                                                     self.symbols))

    def on_confusion_grid_cursor_moved(self, event: ConfusionGrid.CursorMoved) -> None:
        event.stop()  # only this view cares; CellSelected, by contrast, bubbles on to the app
        self._describe_cell()


class ClassAccuracy(Static):
    """The per-class table, laid out for whatever width it gets."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.matrix: np.ndarray | None = None
        self.class_names: tuple[str, ...] = tuple(str(i) for i in range(10))

    def show(self, matrix: np.ndarray | None, class_names: tuple[str, ...]) -> None:
        self.matrix = matrix
        self.class_names = class_names
        self.refresh(layout=True)

    def render(self) -> Text:
        if self.matrix is None:
            return Text("")
        return accuracy_table(self.matrix, self.class_names, max(self.size.width, 20),
                              plain=bool(os.environ.get("NO_COLOR")), sym=symbols())
