"""The key bar at the bottom: the active bindings as one line of text.

Textual's ``Footer`` recomposes a dozen child widgets every time the bindings are refreshed,
which happens twice per tab switch and costs ~55 ms each on this machine; while training that
time also comes out of the training thread's share of the GIL. This widget keeps the look
(key in bold, description beside it, disabled ones dim, the command palette key on the right)
but is a single widget: it re-renders only when the visible bindings actually change, and a
render is one line of text. Clicking an entry presses its key, as with ``Footer``.

When the entries do not fit (80 or 100 columns), whole entries are dropped, lowest priority
first (the focused view's keys come first, then the app's in BINDINGS order); ``?`` (help)
and ``q`` are always kept, and help says how many are hidden: everything is still in the
help panel and the command palette. An entry is never cut mid-word. In a text field, where
the letter keys type, the bar shows how to leave the field instead.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

from mnist_tui.render.charset import symbols

PINNED = ("app.help", "app.quit")  # binding ids kept whatever the width
LEAVE_FIELD = ("form.leave", "explore.leave")  # shown (though show=False) when the focus types letters


class KeyEntry(NamedTuple):
    key: str  # the key to simulate on click
    display: str  # how the key is shown (e.g. "^p", "←")
    description: str
    enabled: bool
    id: str | None = None  # the binding's id, for the entries that are always kept


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
        self.shown: tuple[KeyEntry, ...] = ()  # what the last render fitted in
        self.symbols = symbols()

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
        leave: KeyEntry | None = None
        palette: KeyEntry | None = None
        text = self.symbols.text
        for key, active in screen.active_bindings.items():
            binding = active.binding
            entry = KeyEntry(key, text(app.get_key_display(binding)), text(binding.description), active.enabled,
                             binding.id)
            if app.ENABLE_COMMAND_PALETTE and key == app.COMMAND_PALETTE_BINDING:
                palette = entry
                continue
            if binding.id in LEAVE_FIELD and leave is None:
                leave = entry
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            entries.append(entry)
        if leave is not None and not any(e.id == "app.help" for e in entries):
            entries.insert(0, leave)  # a text field has the letters (and ?): say how to get them back
        return tuple(entries), palette

    @staticmethod
    def cells(entry: KeyEntry) -> int:
        return len(entry.display) + len(entry.description) + 3  # " key description "

    def fit(self, room: int) -> tuple[list[KeyEntry], int]:
        """The entries that fit in ``room`` cells, whole, and how many were left out. Pinned
        ones first, then by priority (their order); help's "(+n)" is counted in."""
        entries = list(self.entries)
        if sum(map(self.cells, entries)) <= room:
            return entries, 0
        keep = {i for i, e in enumerate(entries) if e.id in PINNED}
        used = sum(self.cells(entries[i]) for i in keep) + len(" (+99)")
        for i, entry in enumerate(entries):
            if i not in keep and used + self.cells(entry) <= room:
                keep.add(i)
                used += self.cells(entry)
        return [e for i, e in enumerate(entries) if i in keep], len(entries) - len(keep)

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
        shown, hidden = self.fit(room)
        for entry in shown:
            start = len(text)
            extra = Style() if entry.enabled else dim
            description = entry.description + (f" (+{hidden})" if hidden and entry.id == "app.help" else "")
            text.append(f" {entry.display} ", key_style + extra)
            text.append(f"{description} ", desc_style + extra)
            spans.append((start, min(len(text), room), entry))
        text.truncate(room)  # only when even the pinned entries do not fit (below 80 columns)
        spans = [span for span in spans if span[0] < span[1]]
        self.shown = tuple(shown)
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
