"""The terminal driver, writing every frame with its colour codes as changes only (``render.sgr``).

Textual picks the driver for the platform; this wraps whichever it picked, so the same app
writes fewer bytes on Linux, macOS, Windows and through textual-serve alike.
"""

from __future__ import annotations

from functools import cache

from textual.driver import Driver

from mnist_tui.render.sgr import compact


@cache
def compacting(base: type[Driver]) -> type[Driver]:
    """``base`` with ``write`` passing each frame through ``compact``."""

    class CompactingDriver(base):  # type: ignore[valid-type, misc]
        def write(self, data: str) -> None:
            super().write(compact(data))

    CompactingDriver.__name__ = CompactingDriver.__qualname__ = f"Compacting{base.__name__}"
    return CompactingDriver
