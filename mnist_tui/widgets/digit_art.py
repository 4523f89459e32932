"""A test digit drawn as text art (half blocks, or an ASCII ramp without colour or Unicode)."""

from __future__ import annotations

import os

import numpy as np
from textual.widgets import Static

from mnist_tui.render.charset import symbols
from mnist_tui.render.digits import digit_text


def art_mode() -> str:
    """ASCII when the user asked for no colour (grey levels would vanish) or the terminal
    cannot show half blocks (a non-UTF-8 locale, ``--ascii``)."""
    return "ascii" if os.environ.get("NO_COLOR") else symbols().digit_mode


class DigitArt(Static):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.mode = art_mode()
        self._shown: tuple[int, bytes] | None = None

    def show(self, image: np.ndarray | None) -> None:
        key = None if image is None else (id(image), image.tobytes())
        if key is not None and key == self._shown:
            return  # the same digit (a new epoch changes the bars only): no repaint, no bytes
        self._shown = key
        if image is None:
            self.update("no test data loaded yet", layout=False)
        else:
            self.update(digit_text(image, self.mode), layout=False)  # fixed size: no layout pass
