"""Setup view: the hyperparameter form beside the live model summary, Start always in sight.

The right column is the summary (scrolling if it must), then the hint and the Start button
pinned below it, so at 80×24 Start is on screen without scrolling whatever the model. Below
``NARROW`` columns the form gets narrower and the summary switches to its compact table.
``g`` (an app key) swaps the summary for the code: the plain script of the form's config,
following every change, in the same place (``toggle_code``).
"""

from __future__ import annotations

from pathlib import Path

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from mnist_tui.config import TrainConfig
from mnist_tui.messages import ConfigChanged
from mnist_tui.render.charset import symbols
from mnist_tui.widgets.code_view import CodeView
from mnist_tui.widgets.hyperparams_form import HyperparamsForm
from mnist_tui.widgets.model_summary import ModelSummary

NARROW = 100
HINT = "Tab/Shift+Tab move between fields · Esc leaves a field · then s starts · g shows the code"
CODE_HINT = "g summary · y copies · f saves {name} · s starts"


class SetupView(Horizontal):
    DEFAULT_CSS = """
    SetupView #setup-code { display: none; }
    SetupView.-code #setup-code { display: block; }
    SetupView.-code #summary-scroll { display: none; }
    """

    def __init__(self, config: TrainConfig, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.initial = config
        self.config: TrainConfig | None = config

    def compose(self) -> ComposeResult:
        yield HyperparamsForm(self.initial, id="form")
        with Vertical(id="setup-right"):
            with VerticalScroll(id="summary-scroll"):
                yield ModelSummary(id="model-summary")
            yield CodeView(id="setup-code")
            yield Static(symbols().text(HINT), id="setup-hint")
            yield Button("Start training (s)", id="start-button", variant="success", compact=True)

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < NARROW, "-narrow")

    # -- the code behind the form
    @property
    def showing_code(self) -> bool:
        return self.has_class("-code")

    def toggle_code(self, show: bool | None = None) -> None:
        """Swap the summary for the code (``show``: force one); the code view takes the focus."""
        show = not self.showing_code if show is None else show
        self.set_class(show, "-code")
        self._show_code()
        hint = self.query_one("#setup-hint", Static)
        if show:
            self.query_one(CodeView).focus()
        else:
            hint.update(symbols().text(HINT))
            self.query_one("#field-preset").focus()

    @on(ConfigChanged)
    def _code_follows_the_form(self, message: ConfigChanged) -> None:
        """The form changed (the message goes on to the app): the code shown changes with it."""
        self.config = message.config
        if self.showing_code:
            self._show_code()

    def _show_code(self) -> None:
        if not self.showing_code:
            return
        from mnist_tui.codegen import script_for, suggested_name

        cfg = self.config
        view = self.query_one(CodeView)
        if cfg is None:
            view.show("# fix the highlighted fields to see the code\n", None)
            return
        target = Path.cwd() / suggested_name(cfg)
        view.show(script_for(cfg), target)
        self.query_one("#setup-hint", Static).update(symbols().text(CODE_HINT.format(name=target.name)))
