"""Read what the app draws: a widget's lines as text, and the SGR colour codes a terminal of a
given colour depth would receive for them.

Textual applies its line filters (ANSI theme to truecolor, NO_COLOR's monochrome) while
rendering strips; only the final step, turning styles into escape codes, depends on the
terminal's colour system. So rendering the screen's strips with Rich for a 16-colour system
gives exactly the codes the app sends under ``TERM=xterm``.
"""

from __future__ import annotations

from rich.color import ColorSystem
from textual.widget import Widget


def widget_lines(widget: Widget) -> list[str]:
    """The widget's region of the screen, one string per row."""
    strips = widget.app.screen._compositor.render_strips()
    r = widget.region
    return ["".join(s.text for s in strips[y])[r.x:r.x + r.width] for y in range(r.y, r.y + r.height)]


def sgr_runs(widget: Widget, system: ColorSystem = ColorSystem.STANDARD) -> list[tuple[str, str]]:
    """(SGR parameters, text) for every styled run inside the widget's region."""
    strips = widget.app.screen._compositor.render_strips()
    r = widget.region
    runs: list[tuple[str, str]] = []
    for y in range(r.y, r.y + r.height):
        x = 0
        for segment in strips[y]:
            text = segment.text
            if segment.control is None and text.strip() and r.x <= x < r.x + r.width and segment.style is not None:
                fresh = segment.style.copy()
                fresh._ansi = None  # Rich caches a style's codes for the first colour system asked
                runs.append((fresh._make_ansi_codes(system), text))
            x += len(text)
    return runs


def fg_codes(params: str) -> set[int]:
    """Foreground colour codes (30-37, 90-97) in one SGR parameter string."""
    codes = [int(p) for p in params.split(";") if p.isdigit()]
    return {c for c in codes if 30 <= c <= 37 or 90 <= c <= 97}


def colours_of(widget: Widget, contains: str, system: ColorSystem = ColorSystem.STANDARD) -> set[int]:
    """Foreground codes of the runs whose text contains ``contains``."""
    return set().union(*(fg_codes(p) for p, t in sgr_runs(widget, system) if contains in t))
