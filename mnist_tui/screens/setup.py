"""Setup view: the hyperparameter form beside the live model summary."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from mnist_tui.config import TrainConfig
from mnist_tui.widgets.hyperparams_form import HyperparamsForm
from mnist_tui.widgets.model_summary import ModelSummary


class SetupView(Horizontal):
    def __init__(self, config: TrainConfig, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.initial = config

    def compose(self) -> ComposeResult:
        yield HyperparamsForm(self.initial, id="form")
        with Vertical(id="setup-right"):
            yield ModelSummary(id="model-summary")
            yield Static("Tab/Shift+Tab move between fields · Esc leaves a field · then s starts",
                         id="setup-hint")
            yield Button("Start training (s)", id="start-button", variant="success", compact=True)
