"""In ASCII mode the terminal gets ASCII only: a driver that transliterates what it writes.

Our widgets draw from ``render.charset``'s ASCII table themselves; what is left is Textual's
own chrome (the tab underline, scrollbars, borders, a select's arrow, the header's icon),
which no CSS can change. One mechanism for all of it: the frame's characters are translated
cell for cell (``charset.screen_ascii``) on their way to the terminal.
"""

from __future__ import annotations

from textual.driver import Driver

from mnist_tui.render.charset import screen_ascii

_MADE: dict[type[Driver], type[Driver]] = {}


def ascii_only(base: type[Driver]) -> type[Driver]:
    """``base`` writing ASCII only (one subclass per driver class)."""
    if base not in _MADE:
        def write(self: Driver, data: str) -> None:
            base.write(self, screen_ascii(data))

        _MADE[base] = type(f"Ascii{base.__name__}", (base,), {"write": write, "__doc__": __doc__})
    return _MADE[base]
