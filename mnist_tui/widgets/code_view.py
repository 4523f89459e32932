"""The code behind a run, shown: the plain script (``mnist_tui.codegen``) highlighted and
scrollable both ways, ``y`` copies it to the clipboard (OSC 52, through SSH and tmux too)
and ``f`` saves it to a file. Setup hosts it beside the model summary, Runs in a modal."""

from __future__ import annotations

from pathlib import Path

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer
from textual.widgets import Static

from mnist_tui.render.charset import symbols


class CodeView(ScrollableContainer, can_focus=True):
    DEFAULT_CSS = """
    CodeView { height: 1fr; overflow: auto auto; scrollbar-size: 1 1; }
    CodeView > #code-text { width: auto; height: auto; }
    """

    BINDINGS = [
        Binding("y", "copy", "Copy code", id="code.copy"),
        Binding("f", "save", "Save code", id="code.save"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.code = ""
        self.save_path: Path | None = None
        self.sym = symbols()

    def compose(self) -> ComposeResult:
        yield Static("", id="code-text")

    def show(self, code: str, save_path: Path | None) -> None:
        """Display ``code``; ``save_path`` is where ``f`` writes it. In ASCII mode the arrows
        and × of comments are transliterated on screen; the copy and the file keep them."""
        if code == self.code and save_path == self.save_path:
            return
        self.code, self.save_path = code, save_path
        shown = self.sym.text(code)
        self.query_one("#code-text", Static).update(
            Syntax(shown, "python", theme="monokai", line_numbers=True, word_wrap=False,
                   background_color="default"))

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.code)
        self.app.notify(f"Copied the script ({len(self.code.splitlines())} lines) to the clipboard.", timeout=3)

    def action_save(self) -> None:
        if self.save_path is None:
            return
        from mnist_tui.runs.rundir import write_output

        try:
            written = write_output(self.save_path, self.code.encode())
        except OSError as err:
            self.app.notify(f"Cannot save {self.save_path}: {err.strerror or err}", severity="error")
            return
        self.app.notify(f"Saved the script to {written}", timeout=5)
