"""The key bar at the bottom: the active bindings as one line of text.

Textual's ``Footer`` recomposes a dozen child widgets every time the bindings are refreshed,
which happens twice per tab switch and costs ~55 ms each on this machine; while training that
time also comes out of the training thread's share of the GIL. This widget keeps the look
(key in bold, description beside it, disabled ones dim, the command palette key on the right)
but is a single widget: it re-renders only when the visible bindings actually change, and a
render is one line of text. Clicking an entry presses its key, as with ``Footer``.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget


class KeyEntry(NamedTuple):
    key: str  # the key to simulate on click
    display: str  # how the key is shown (e.g. "^p", "←")
    description: str
    enabled: bool


class KeyBar(Widget, can_focus=False):
    """One line listing what the keys do in the current context."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {"key-bar--key", "key-bar--description", "key-bar--palette"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        .key-bar--key { color: $footer-key-foreground; background: $footer-key-background; text-style: bold; }
        .key-bar--description { color: $footer-description-foreground; background: $footer-description-background; }
        .key-bar--palette { color: $footer-description-foreground; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: tuple[KeyEntry, ...] = ()
        self.palette: KeyEntry | None = None
        self._spans: list[tuple[int, int, KeyEntry]] = []  # (start, end, entry) columns, for clicks

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if screen is not self.screen:
            return
        entries, palette = self.collect(screen)
        if entries != self.entries or palette != self.palette:
            self.entries, self.palette = entries, palette
            self.refresh()

    def collect(self, screen: Screen) -> tuple[tuple[KeyEntry, ...], KeyEntry | None]:
        """The shown bindings, one per action (the first key bound to it), in Footer's order."""
        app = self.app
        seen: set[str] = set()
        entries: list[KeyEntry] = []
        palette: KeyEntry | None = None
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if app.ENABLE_COMMAND_PALETTE and key == app.COMMAND_PALETTE_BINDING:
                palette = KeyEntry(key, app.get_key_display(binding), binding.description, active.enabled)
                continue
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            entries.append(KeyEntry(key, app.get_key_display(binding), binding.description, active.enabled))
        return tuple(entries), palette

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-bar--key")
        desc_style = self.get_component_rich_style("key-bar--description")
        width = self.size.width
        label = Text(end="")
        if self.palette is not None:  # kept on the right; the entries are cropped before it
            label = Text.assemble((f" {self.palette.display} ", key_style),
                                  (f"{self.palette.description} ", self.get_component_rich_style("key-bar--palette")))
        room = max(0, width - len(label) - 1) if label else width
        dim = Style(dim=True)
        text = Text(no_wrap=True, overflow="crop", end="")
        spans: list[tuple[int, int, KeyEntry]] = []
        for entry in self.entries:
            start = len(text)
            extra = Style() if entry.enabled else dim
            text.append(f" {entry.display} ", key_style + extra)
            text.append(f"{entry.description} ", desc_style + extra)
            spans.append((start, min(len(text), room), entry))
        text.truncate(room)
        spans = [span for span in spans if span[0] < span[1]]
        if label and width >= len(label):
            text.append(" " * (width - len(text) - len(label)))
            spans.append((len(text), width, self.palette))  # type: ignore[arg-type]
            text.append_text(label)
        self._spans = spans
        return text

    def entry_at(self, x: int) -> KeyEntry | None:
        return next((entry for start, end, entry in self._spans if start <= x < end), None)

    def on_click(self, event: events.Click) -> None:
        entry = self.entry_at(event.x)
        if entry is None:
            return
        if entry.enabled:
            self.app.simulate_key(entry.key)
        else:
            self.app.bell()
