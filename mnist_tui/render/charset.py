"""Which characters the UI may draw: Unicode (half blocks, braille, arrows, ✓) or ASCII only.

Through a terminal in a non-UTF-8 locale (``LANG=C LC_ALL=C``, common on remote boxes) every
half block and braille dot arrives as mojibake, and the viewer becomes unreadable. The
decision is made here, once, and every widget draws from the table it returns:

* ``MNIST_TUI_ASCII=1`` (what ``mnist-tui --ascii`` sets, so serve tabs and trainer
  processes inherit it) forces ASCII; ``MNIST_TUI_ASCII=0`` forces Unicode;
* otherwise ASCII when the locale's encoding, or stdout's, is not UTF-8. Python's UTF-8 mode
  (on by itself in the C locale) hides the locale's real encoding from
  ``locale.getpreferredencoding``, so the codeset is read with ``locale.getencoding``.
  ``LANG=C`` alone counts as UTF-8: Python coerces it to C.UTF-8 (PEP 538) for itself and
  its children. A browser tab (textual-serve) is always UTF-8.

No Textual (Rich only): unit-testable, and usable by any layer that draws text.
"""

from __future__ import annotations

import locale
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from rich.cells import get_character_cell_size
from rich.text import Text

ASCII_ENV = "MNIST_TUI_ASCII"
_YES = ("1", "true", "yes", "on")
_NO = ("0", "false", "no", "off")


def _is_utf8(encoding: str | None) -> bool:
    return bool(encoding) and encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8mb4", "cp65001")


def locale_encoding() -> str:
    """The locale's codeset, as the terminal was configured, not Python's UTF-8 mode override."""
    getencoding = getattr(locale, "getencoding", None)  # Python 3.11+
    if getencoding is not None:
        return str(getencoding())
    try:
        return locale.nl_langinfo(locale.CODESET)
    except (AttributeError, ValueError):  # no nl_langinfo (Windows)
        return locale.getpreferredencoding(False)


def ascii_mode(environ: Mapping[str, str] | None = None) -> bool:
    """True when the UI must draw ASCII only (see the module docstring for the rules)."""
    env = os.environ if environ is None else environ
    forced = env.get(ASCII_ENV, "").strip().lower()
    if forced in _YES:
        return True
    if forced in _NO:
        return False
    if "web_driver" in env.get("TEXTUAL_DRIVER", ""):
        return False  # textual-serve: xterm.js in a browser speaks UTF-8 whatever the server's locale
    if not _is_utf8(locale_encoding()):
        return True
    stream = sys.__stdout__
    encoding = getattr(stream, "encoding", None) if stream is not None else None
    return encoding is not None and not _is_utf8(encoding)


# Everything we draw outside ASCII, and what stands in for it. Box drawing covers plotext's
# frame and ticks; anything not listed becomes "?" (see Symbols.text), so output is ASCII.
_TRANSLITERATION: dict[str, str] = {
    "←": "<-", "→": "->", "↑": "^", "↓": "v", "↳": "->", "▸": ">", "◂": "<", "▼": "v", "▲": "^",
    "✓": "ok", "✗": "x", "·": "-", "…": "...", "×": "x", "−": "-", "–": "-", "—": "-", "⌈": "ceil(", "⌉": ")",
    "∈": "in", "Σ": "sum", "≥": ">=", "≤": "<=", "≈": "~", "±": "+/-", "⌫": "backspace", "↵": "Enter",
    "│": "|", "┃": "|", "─": "-", "━": "-", "╲": "\\", "┌": "+", "┐": "+", "└": "+", "┘": "+", "├": "+", "┤": "+",
    "┬": "+", "┴": "+", "┼": "+", "╭": "+", "╮": "+", "╰": "+", "╯": "+", "█": "#", "▓": "#", "▒": ":", "░": ".",
    "•": "o", "▀": "\"", "▄": "_", "°": " deg", "é": "e", "\u00a0": " ",
    **dict.fromkeys("▏▎▍", "."), **dict.fromkeys("▌▋▊▉", ":"),  # partial bar cells, as ASCII.eighths has them
}
_TABLE = {ord(k): v for k, v in _TRANSLITERATION.items()}


@dataclass(frozen=True)
class Symbols:
    """The characters one charset draws with. Widgets take these, never literals."""

    ascii: bool
    full_block: str  # a full bar cell
    eighths: str  # index k: a cell k/8 full (0 = empty), for bars exact to 1/8 of a cell
    digit_mode: str  # render.digits mode for digit art: halfblock, or an ASCII ramp
    true_mark: str  # before the true class's bar
    predicted_mark: str  # after the predicted class's bar
    left: str
    right: str
    up: str
    down: str
    check: str  # a right prediction
    cross: str  # a wrong one
    dot: str  # the separator between items of a line
    hint: str  # before a message under a form field
    ellipsis: str
    times: str
    ceil_open: str
    ceil_close: str
    empty_cell: str  # a zero in the confusion matrix
    vbar: str  # the confusion matrix's row-label rule
    corner: str  # the confusion matrix's corner, "true \\ predicted"
    markers: tuple[str, ...]  # plotext markers, one per series, told apart without colour

    def text(self, s: str) -> str:
        """``s`` as this charset can show it: unchanged in Unicode, transliterated in ASCII."""
        if not self.ascii or s.isascii():
            return s
        return s.translate(_TABLE).encode("ascii", "replace").decode("ascii")

    def rich(self, text: Text) -> Text:
        """``text`` with its styles kept, transliterated like ``text`` (for built Rich Text)."""
        if not self.ascii or text.plain.isascii():
            return text
        cuts = sorted({0, len(text), *(s.start for s in text.spans), *(s.end for s in text.spans)})
        out = text.blank_copy()
        for piece in text.divide(cuts):
            start = len(out)
            out.append(self.text(piece.plain))
            for span in piece.spans:  # each covers its whole piece: the cuts are at every span edge
                out.stylize(span.style, start, len(out))
        return out

    def series_markers(self, n: int, primary: str, *, distinct: bool) -> list[str]:
        """Markers for ``n`` series drawn together. In colour every series can use the chosen
        ``primary`` marker; without colour (``distinct``) or in ASCII each gets its own."""
        if self.ascii:
            return [self.markers[i % len(self.markers)] for i in range(n)]
        if not distinct:
            return [primary] * n
        others = [m for m in self.markers if m != primary]
        return [primary, *(others[i % len(others)] for i in range(n - 1))]


UNICODE = Symbols(
    ascii=False, full_block="█", eighths=" ▏▎▍▌▋▊▉█", digit_mode="halfblock", true_mark="true▸ ",
    predicted_mark=" ◂ predicted", left="←", right="→", up="↑", down="↓", check="✓", cross="✗", dot="·",
    hint="↳", ellipsis="…", times="×", ceil_open="⌈", ceil_close="⌉", empty_cell="·", vbar="│", corner="t╲p",
    markers=("braille", "dot", "x", "+", "o", "*", "#", "="),
)
ASCII = Symbols(
    ascii=True, full_block="#", eighths=" ...::::#", digit_mode="ascii", true_mark="true> ",
    predicted_mark=" <- predicted", left="<-", right="->", up="^", down="v", check="ok", cross="x", dot="-",
    hint="->", ellipsis="...", times="x", ceil_open="ceil(", ceil_close=")", empty_cell=".", vbar="|",
    corner="t\\p", markers=("*", "o", "+", "x", "#", "@", "%", "="),
)


def symbols(environ: Mapping[str, str] | None = None) -> Symbols:
    """The table to draw with now: ASCII or UNICODE, by ``ascii_mode``."""
    return ASCII if ascii_mode(environ) else UNICODE


# ------------------------------------------------------------------ the whole screen, cell by cell
def _cell_ascii(ch: str) -> str:
    """One character as ASCII of the same width: what the terminal gets in ASCII mode for
    the characters no widget of ours chose (Textual's tab underline, scrollbars, borders,
    select arrows, the header's icon)."""
    import unicodedata

    name = unicodedata.name(ch, "")
    cp = ord(ch)
    if 0x2500 <= cp <= 0x257F:  # box drawing
        horizontal, vertical = "HORIZONTAL" in name or "LEFT" in name or "RIGHT" in name, "VERTICAL" in name
        if horizontal and not vertical and ("UP" not in name and "DOWN" not in name):
            return "-"
        if (vertical and not horizontal) or (("UP" in name or "DOWN" in name) and not horizontal):
            return "|"
        return "+"
    if 0x2580 <= cp <= 0x259F:  # block elements
        if "SHADE" in name:
            return "." if "LIGHT" in name else ":"
        if "LOWER ONE EIGHTH" in name:
            return "_"
        if "UPPER ONE EIGHTH" in name:
            return "-"
        if ("LEFT" in name or "RIGHT" in name) and "HALF" not in name:
            return "|"
        return "#"
    if 0x2800 <= cp <= 0x28FF:  # braille
        return "." if cp > 0x2800 else " "
    for words, out in (("LEFTWARDS", "<"), ("RIGHTWARDS", ">"), ("UPWARDS", "^"), ("DOWNWARDS", "v"),
                       ("DOWN-POINTING", "v"), ("UP-POINTING", "^"), ("RIGHT-POINTING", ">"),
                       ("LEFT-POINTING", "<"), ("CIRCLE", "o"), ("BULLET", "*"), ("CHECK", "v"),
                       ("MULTIPLICATION", "x"), ("DASH", "-"), ("SPACE", " ")):
        if words in name:
            return out
    if ch in _TRANSLITERATION and len(_TRANSLITERATION[ch]) == 1:
        return _TRANSLITERATION[ch]
    plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
    if plain and unicodedata.east_asian_width(ch) not in ("W", "F"):
        return plain[0]  # "…" -> "."
    return "??" if unicodedata.east_asian_width(ch) in ("W", "F") else "?"


class _CellTable(dict[int, str]):
    """A ``str.translate`` table that fills itself: each character is worked out once."""

    def __missing__(self, cp: int) -> str:
        if cp < 128:
            out = chr(cp)
        else:
            width = get_character_cell_size(chr(cp))  # as Textual lays the cell out
            out = (_cell_ascii(chr(cp)) * 2)[:width] if width else ""
        self[cp] = out
        return out


_CELLS = _CellTable()


def screen_ascii(data: str) -> str:
    """Terminal output with every character outside ASCII replaced by ASCII of the same width
    (escape sequences are ASCII already): the last line of defence in ASCII mode, so through
    a C-locale terminal nothing arrives as mojibake."""
    return data if data.isascii() else data.translate(_CELLS)
