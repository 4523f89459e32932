"""Colours that keep their documented meaning in truecolor, 256 and 16 colours.

Textual turns the named ANSI colours ("red", "gray") into its theme's truecolor values
(Monokai: red is #f4005f) and then, in a 16-colour terminal (``TERM=xterm``), Rich picks the
nearest of the 16: that "red" became magenta, and "yellow" bright red. Colours given as RGB
skip the theme, so each colour here is an xterm-256 value whose nearest 16-colour match is
the intended ANSI colour (tests/ui/test_colours.py checks every one, and the SGR codes the
app really emits).

Plotext takes the same colours as RGB tuples (``rgb``).
"""

from __future__ import annotations

from rich.color import Color, ColorSystem

# role → (hex, the ANSI colour it must stay in 16 colours)
PREDICTED = "#d70000"  # the predicted class's bar: red (31)
TRUE = "#00af00"  # the true class's marker, a right prediction: green (32)
WRONG = "#d70000"  # a wrong prediction: red (31)
BAR = "#5f87ff"  # the other probability bars: bright blue (94); plain blue (34) is dim on black
RAW = "#8a8a8a"  # raw per-batch values: grey, i.e. white (37); bright black (90) is the background in many themes
LOSS = "#00afaf"  # smoothed loss: cyan (36)
ACCURACY = "#00af00"  # smoothed accuracy: green (32)
TRAIN = "#00afaf"  # epoch curves: train cyan (36)
VAL = "#d7af00"  # and validation yellow (33), the tutorial's orange
AXIS = "#00afaf"  # the confusion matrix's highlighted row and column: cyan (36)
ACTIVATIONS = {"relu": "#d7af00", "sigmoid": "#00afaf", "tanh": "#d75fd7"}  # yellow, cyan, bright magenta (95)
SERIES = ("#00afaf", "#d7af00", "#00af00", "#d75fd7", "#5f87ff", "#ff5f5f", "#5fd7ff", "#ffaf00")  # 8 distinct in 16

ANSI = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white", "bright_black", "bright_red",
        "bright_green", "bright_yellow", "bright_blue", "bright_magenta", "bright_cyan", "bright_white")


def rgb(colour: str) -> tuple[int, int, int]:
    """A hex colour as plotext takes it."""
    triplet = Color.parse(colour).get_truecolor()
    return (triplet.red, triplet.green, triplet.blue)


def ansi16(colour: str) -> str:
    """The name of the ANSI colour ``colour`` becomes in a 16-colour terminal."""
    number = Color.parse(colour).downgrade(ColorSystem.STANDARD).number
    return ANSI[number or 0]
