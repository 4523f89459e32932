"""Axis ticks a person can read: evenly spaced, on 1/2/5 × 10^k steps, and true.

plotext picks its own y ticks and drops a label when two land on one row, which gave axes
like ``1.26, 1.06, 0.85, 0.45`` (0.65 vanished). Charts compute their ticks here instead,
from the plotted range and the rows they have, and pass them with ``plt.yticks``; with at
least two rows per tick no label can collide.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

STEPS = (1.0, 2.0, 5.0, 10.0)


def nice_step(span: float, count: int) -> float:
    """The smallest 1/2/5 × 10^k step that covers ``span`` in at most ``count`` steps."""
    if not math.isfinite(span) or span <= 0 or count < 1:
        return 1.0
    raw = span / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in STEPS if m * magnitude >= raw * (1 - 1e-9))


def nice_ticks(lo: float, hi: float, max_count: int, *, integer: bool = False,
               limit: int | None = None) -> list[float]:
    """Multiples of one nice step inside [lo, hi]: at most ``max_count``, but at least two when
    up to ``limit`` (default max_count + 1) allow it: an axis with one label says nothing.
    ``integer``: steps of at least 1 (counts, epochs, batches)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    lo, hi = min(lo, hi), max(lo, hi)
    if hi == lo:
        return [_clean(lo, 1.0) if integer else lo]
    max_count = max(2, max_count)
    step = nice_step(hi - lo, 4 * max_count)  # too fine on purpose: grow to the finest that fits
    if integer:
        step = max(1.0, step)
    ticks = _multiples(lo, hi, step)
    while len(ticks) > max_count:
        step = _next_step(step, up=True)
        ticks = _multiples(lo, hi, step)
    limit = max_count + 1 if limit is None else limit
    while len(ticks) < 2:
        finer_step = _next_step(step, up=False)
        finer = _multiples(lo, hi, finer_step)
        if len(finer) > limit or (integer and finer_step < 1):
            break
        step, ticks = finer_step, finer
    return ticks


def _next_step(step: float, *, up: bool) -> float:
    """The 1/2/5 step after (``up``) or before ``step``."""
    magnitude = 10.0 ** math.floor(math.log10(step) + 1e-9)
    lead = round(step / magnitude)
    table = {1: 2.0, 2: 5.0, 5: 10.0} if up else {1: 0.5, 2: 1.0, 5: 2.0}
    return table.get(lead, 10.0 if up else 1.0) * magnitude


def _multiples(lo: float, hi: float, step: float) -> list[float]:
    eps = step * 1e-9
    first = math.ceil((lo - eps) / step)
    last = math.floor((hi + eps) / step)
    return [_clean(k * step, step) for k in range(first, last + 1)]


def _clean(value: float, step: float) -> float:
    """k × step without float noise (0.30000000000000004 → 0.3, -0.0 → 0.0)."""
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return round(value, decimals) + 0.0


def tick_labels(ticks: Sequence[float]) -> list[str]:
    """Labels with as many decimals as the step needs, the same for every tick."""
    if not ticks:
        return []
    if len(ticks) == 1:
        step = abs(ticks[0]) or 1.0
    else:
        step = min(abs(b - a) for a, b in itertools.pairwise(ticks)) or 1.0
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    labels = [f"{t:.{decimals}f}" for t in ticks]
    return [label if float(label) != 0 else f"{0:.{decimals}f}" for label in labels]


def snapped_range(lo: float, hi: float, rows: int) -> tuple[float, float]:
    """[lo, hi] widened to multiples of the tick step ``rows`` allow: a range that follows the
    data only moves when a value crosses a tick, so between those repaints a chart's frame,
    labels and old points stay put (over SSH: only the new points' cells are sent)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return lo, hi
    step = nice_step(hi - lo, max(2, min(6, rows // 2)))
    eps = step * 1e-9
    return _clean(math.floor((lo + eps) / step) * step, step), _clean(math.ceil((hi - eps) / step) * step, step)


def ticks_for_rows(lo: float, hi: float, rows: int, *, integer: bool = False) -> tuple[list[float], list[str]]:
    """Y ticks for a plot ``rows`` rows tall: one label every two rows at most."""
    ticks = nice_ticks(lo, hi, max(2, min(6, rows // 2)), integer=integer, limit=max(2, rows))
    return ticks, tick_labels(ticks)


def ticks_for_columns(lo: float, hi: float, columns: int, *, integer: bool = False) -> tuple[list[float], list[str]]:
    """X ticks for a plot ``columns`` wide: room for each label and two spaces."""
    widest = max(len(f"{hi:g}"), len(f"{lo:g}")) + 3
    ticks = nice_ticks(lo, hi, max(2, min(8, columns // widest)), integer=integer)
    return ticks, tick_labels(ticks)
