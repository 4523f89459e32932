"""Setup view: the hyperparameter form beside the live model summary, Start always in sight.

The right column is the summary (scrolling if it must), then the hint and the Start button
pinned below it, so at 80×24 Start is on screen without scrolling whatever the model. Below
``NARROW`` columns the form gets narrower and the summary switches to its compact table.
``g`` (an app key) swaps the summary for the code: the plain script of the form's config,
following every change, in the same place (``toggle_code``).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Label, Static

from mnist_tui.config import TrainConfig
from mnist_tui.data.sources import describe_source
from mnist_tui.messages import ConfigChanged
from mnist_tui.render.charset import symbols
from mnist_tui.widgets.code_view import CodeView
from mnist_tui.widgets.hyperparams_form import HyperparamsForm
from mnist_tui.widgets.model_summary import ModelSummary

NARROW = 100
HINT = "Tab/Shift+Tab move between fields · Esc leaves a field · then s starts · g shows the code"
CODE_HINT = "g summary · y copies · f saves {name} · s starts"


SETTLE_SECONDS = 4.0  # the network probe's answer is in by then: say it again, settled


class SetupView(Horizontal):

    def __init__(self, config: TrainConfig, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.initial = config
        self._data_key: tuple[str, str | None] | None = None
        self.config: TrainConfig | None = config
        # Held, not queried: the form's first ConfigChanged can arrive before the right-hand
        # column has mounted (its compose runs in its own task), and must not be lost.
        self.summary = ModelSummary(id="model-summary")
        self.start_button = Button("Start training (s)", id="start-button", variant="success", compact=True)

    def compose(self) -> ComposeResult:
        yield HyperparamsForm(self.initial, id="form")
        with Vertical(id="setup-right"):
            with VerticalScroll(id="summary-scroll"):
                yield self.summary
            yield CodeView(id="setup-code")
            yield Static(symbols().text(HINT), id="setup-hint")
            yield self.start_button

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < NARROW, "-narrow")

    def on_mount(self) -> None:
        self._show_data(self.initial.dataset, self.initial.data_path)
        self.set_timer(SETTLE_SECONDS, lambda: self._show_data(*self._data_key, force=True) if self._data_key else None)

    @on(ConfigChanged)
    def _config_changed(self, message: ConfigChanged) -> None:
        self.summary.show(message.config)
        self.start_button.disabled = message.config is None
        if message.config is not None:  # the message goes on to the app as well
            self._show_data(message.config.dataset, message.config.data_path)

    def _show_data(self, dataset: str, data_path: str | None, *, force: bool = False) -> None:
        """Which data a run will use, and its size, before ``s`` (read off the UI thread:
        a path on a slow mount must not freeze the form)."""
        key = (dataset, data_path)
        if key == self._data_key and not force:
            return
        self._data_key = key
        self._describe(dataset, data_path)

    @work(thread=True, exclusive=True, group="describe-data", exit_on_error=False)
    def _describe(self, dataset: str, data_path: str | None) -> None:
        source = describe_source(dataset, data_path)
        sym = symbols()
        text = sym.text(f"{sym.hint} {source.label}")

        def show() -> None:
            if self.is_attached:
                self.query_one("#hint-data", Label).update(text)

        with contextlib.suppress(RuntimeError):  # the app closed meanwhile
            self.app.call_from_thread(show)
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
