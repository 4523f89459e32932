"""Setup view: the hyperparameter form beside the live model summary, Start always in sight.

The right column is the summary (scrolling if it must), then the hint and the Start button
pinned below it, so at 80×24 Start is on screen without scrolling whatever the model. Below
``NARROW`` columns the form gets narrower and the summary switches to its compact table.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from mnist_tui.config import TrainConfig
from mnist_tui.render.charset import symbols
from mnist_tui.widgets.hyperparams_form import HyperparamsForm
from mnist_tui.widgets.model_summary import ModelSummary

NARROW = 100
HINT = "Tab/Shift+Tab move between fields · Esc leaves a field · then s starts"


class SetupView(Horizontal):
    def __init__(self, config: TrainConfig, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.initial = config

    def compose(self) -> ComposeResult:
        yield HyperparamsForm(self.initial, id="form")
        with Vertical(id="setup-right"):
            with VerticalScroll(id="summary-scroll"):
                yield ModelSummary(id="model-summary")
            yield Static(symbols().text(HINT), id="setup-hint")
            yield Button("Start training (s)", id="start-button", variant="success", compact=True)

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < NARROW, "-narrow")
