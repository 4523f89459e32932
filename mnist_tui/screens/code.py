"""A run's code in a modal: the plain script its config stands for (Runs tab, ``g``)."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from mnist_tui.codegen import script_for
from mnist_tui.config import TrainConfig
from mnist_tui.render.charset import symbols
from mnist_tui.textsafe import safe
from mnist_tui.widgets.code_view import CodeView


class CodeScreen(ModalScreen[None]):
    """The script of ``cfg``; ``f`` saves it as ``save_path`` (in the run's directory)."""

    BINDINGS = [Binding("escape,q,g", "close", "Close", id="code.close")]

    def __init__(self, cfg: TrainConfig, title: str, save_path: Path | None) -> None:
        super().__init__()
        self.cfg, self.title_text, self.save_path = cfg, title, save_path

    def compose(self) -> ComposeResult:
        with Vertical(id="code-box"):
            sym = symbols()
            where = f" {sym.dot} f saves {self.save_path.name}" if self.save_path else ""
            yield Static(sym.text(safe(f"{self.title_text} {sym.dot} y copies{where} {sym.dot} esc closes")),
                         id="code-title", markup=False)
            yield CodeView(id="code-view")

    def on_mount(self) -> None:
        view = self.query_one(CodeView)
        view.show(script_for(self.cfg), self.save_path)
        view.focus()

    def action_close(self) -> None:
        self.dismiss(None)
