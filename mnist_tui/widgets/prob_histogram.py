"""The model's softmax output for one digit: ten exact bars, predicted red, true label marked."""

from __future__ import annotations

import os

import numpy as np
from rich.text import Text

from mnist_tui.render.bars import probability_bars
from mnist_tui.render.charset import symbols
from mnist_tui.widgets.diff_lines import DiffLines


class ProbHistogram(DiffLines):
    """A new epoch moves a few bars by a few cells: only those cells are repainted."""

    DEFAULT_CSS = """
    ProbHistogram { height: 12; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.probs: np.ndarray | None = None
        self.true_label: int | None = None
        self.class_names: tuple[str, ...] = tuple(str(i) for i in range(10))
        self.symbols = symbols()

    def show(self, probs: np.ndarray | None, true_label: int | None, class_names: tuple[str, ...]) -> None:
        same = (true_label == self.true_label and class_names == self.class_names
                and (probs is self.probs or (probs is not None and self.probs is not None
                                             and np.array_equal(probs, self.probs))))
        if same:
            return  # nothing to repaint
        self.probs = probs
        self.true_label = true_label
        self.class_names = class_names
        self.changed()

    @property
    def monochrome(self) -> bool:
        try:
            return bool(self.app.no_color)
        except Exception:  # not in an app
            return bool(os.environ.get("NO_COLOR"))

    def build(self, width: int) -> list[Text]:
        title = Text("softmax output", style="bold", no_wrap=True, overflow="crop")
        if self.probs is None:
            title.append("  (no predictions yet: they come at the end of the first epoch)", style="dim")
        # Without colour, red means nothing: the predicted row is bold and the rest plain.
        styles = {"bar_style": "", "predicted_style": "bold", "true_style": "bold"} if self.monochrome else {}
        bars = probability_bars(self.probs, self.true_label, self.class_names, width, sym=self.symbols, **styles)
        return [title, *bars.split("\n")]
