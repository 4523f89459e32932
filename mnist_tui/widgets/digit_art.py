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

    def show(self, image: np.ndarray | None) -> None:
        if image is None:
            self.update("no test data loaded yet", layout=False)
        else:
            self.update(digit_text(image, self.mode), layout=False)  # fixed size: no layout pass
