"""Draw a digit: a canvas, the MNIST-style model input made from it, and the model's softmax.

Every stroke is pre-processed the way MNIST digits were made (``mnist_preprocess``) and,
when the app has given us a predictor, classified at once. The layout is three columns
(canvas 30, model input 28, bars the rest) so it fits 80×24 and simply grows wider bars
on bigger terminals.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from mnist_tui.render import palette
from mnist_tui.render.charset import symbols
from mnist_tui.render.preprocess import centre_of_mass, mnist_preprocess
from mnist_tui.widgets.digit_art import DigitArt
from mnist_tui.widgets.draw_canvas import DEFAULT_RADIUS, DrawCanvas
from mnist_tui.widgets.prob_histogram import ProbHistogram

Predictor = Callable[[np.ndarray], np.ndarray]  # uint8 (N, 28, 28) -> softmax (N, n_classes)
DIGITS = tuple(str(i) for i in range(10))
NO_MODEL = "no model yet: train one (s) or open a saved model"
HELP = (
    "arrows move · space paint\n"
    "shift+arrows draw · ⌫ erase\n"
    "c clear · +/- brush ({radius})\n"
    "mouse: drag draws, right erases"
)


class DrawView(Horizontal):
    """The "draw a digit" view; the app hands it a predictor with ``set_predictor``."""

    def __init__(
        self,
        predict: Predictor | None = None,
        class_names: tuple[str, ...] = DIGITS,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.predict = predict
        self.class_names = tuple(class_names)
        self.model_label = "" if predict is None else "model"
        self.processed = np.zeros((28, 28), dtype=np.uint8)
        self.probs: np.ndarray | None = None
        self.error = ""
        self.sym = symbols()

    def compose(self) -> ComposeResult:
        with Vertical(id="draw-left"):
            yield DrawCanvas(id="draw-canvas")
            yield Static(self.sym.text(HELP.format(radius=DEFAULT_RADIUS)), id="draw-help")
        with Vertical(id="draw-middle"):
            yield Static("model input (MNIST-style)", id="draw-preview-title")
            yield DigitArt(id="draw-preview")
            yield Static(id="draw-status")
        with Vertical(id="draw-right"):
            yield ProbHistogram(id="draw-bars")

    def on_mount(self) -> None:
        # app.tcss styles every ProbHistogram (padding-left 1), and user CSS beats
        # DEFAULT_CSS; inline styles beat both, and at 80 columns every cell counts.
        self.query_one("#draw-bars", ProbHistogram).styles.padding = (1, 0, 0, 0)
        self._show()

    @property
    def canvas(self) -> DrawCanvas:
        return self.query_one("#draw-canvas", DrawCanvas)

    def focus(self, scroll_visible: bool = True) -> DrawView:
        """Focusing the view focuses the canvas, whose keys are the view's keys."""
        self.canvas.focus(scroll_visible)
        return self

    # -- model
    def set_predictor(self, predict: Predictor | None, class_names: tuple[str, ...] | None = None,
                      label: str = "") -> None:
        """Use ``predict`` from now on (None: no model) and re-classify the current drawing."""
        self.predict = predict
        if class_names is not None:
            self.class_names = tuple(class_names)
        self.model_label = label or ("" if predict is None else "model")
        self.classify()
        self._show()

    def classify(self) -> None:
        """Run the predictor on the processed drawing; an empty drawing is not classified."""
        self.probs, self.error = None, ""
        if self.predict is None or not self.processed.any():
            return
        try:
            probs = np.asarray(self.predict(self.processed[None]), dtype=np.float64)
            self.probs = probs.reshape(-1, probs.shape[-1])[0]
        except Exception as err:  # a broken model must not take the app down
            self.error = f"{type(err).__name__}: {err}".strip().splitlines()[0]

    # -- events
    @on(DrawCanvas.Changed)
    def _drawing_changed(self, message: DrawCanvas.Changed) -> None:
        message.stop()
        self.processed = mnist_preprocess(message.image)
        self.classify()
        self._show()

    @on(DrawCanvas.BrushChanged)
    def _brush_changed(self, message: DrawCanvas.BrushChanged) -> None:
        message.stop()
        self.query_one("#draw-help", Static).update(self.sym.text(HELP.format(radius=message.radius)), layout=False)

    # -- drawing
    def _show(self) -> None:
        # Fixed sizes, so no layout pass per stroke (that is most of a repaint's cost).
        self.query_one("#draw-preview", DigitArt).show(self.processed)
        probs = self.probs
        names = self.class_names
        if probs is not None and len(probs) != len(names):
            names = tuple(str(i) for i in range(len(probs)))
        self.query_one("#draw-bars", ProbHistogram).show(probs, None, names)
        self.query_one("#draw-status", Static).update(self._status(names), layout=False)

    def _status(self, names: tuple[str, ...]) -> Text:
        line = Text()
        empty = not self.processed.any()
        if self.predict is None:
            line.append(NO_MODEL, style="dim")
        elif self.error:
            line.append(f"model failed: {self.error}", style=f"bold {palette.WRONG}")
        elif empty or self.probs is None:
            digits = all(name == str(k) for k, name in enumerate(self.class_names))
            line.append("draw a digit to classify it" if digits else "draw an item of clothing to classify it",
                        style="dim")
        else:
            k = int(np.argmax(self.probs))
            line.append("predicted ")
            line.append(names[k], style=f"bold {palette.PREDICTED}")
            line.append(f" ({100 * self.probs[k]:.0f} %)")
        if self.model_label:
            line.append(f"\n{self.model_label}", style="dim")
        if not empty:
            cy, cx = centre_of_mass(self.processed)
            line.append(f"\ncentre of mass {cy:.1f}, {cx:.1f}", style="dim")
        return self.sym.rich(line)
