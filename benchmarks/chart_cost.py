"""Does a live batch chart cost the same with 100k recorded batches as with 1k?

Goal: one redraw of the per-batch loss chart with 100k points costs <= 1.2x one with 1k.

The real ``BatchChart`` is hosted in a tiny Textual app under ``run_test(size=(110, 34))``, in
the same 2x2 grid the Training tab uses (so the chart is as wide and tall as in the app). Two
``Series`` are filled with realistic per-batch losses (exponential decay + multiplicative
noise + rare spikes): a small one (default 1k) and a large one (default 100k). One sample is
``chart.redraw()`` (reduce + smooth + feed plotext) followed by ``chart.render()`` (plotext
builds the picture; ``CachedPlot.render`` caches by version and ``redraw`` bumps it, so each
sample really builds one). Sizes alternate small, large, small, large, ... after a warm-up, for
each marker (braille, hd, dot); the ratio is large/small of the medians, per marker.

Usage:  python benchmarks/chart_cost.py [--repeats 40] [--small 1000] [--large 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from mnist_tui.render.series import Series
from mnist_tui.widgets.metric_chart import MARKERS, BatchChart

GOAL_RATIO = 1.2
SIZE = (110, 34)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40, help="timed redraws per size and marker (default 40)")
    parser.add_argument("--small", type=int, default=1_000, help="points in the small series (default 1000)")
    parser.add_argument("--large", type=int, default=100_000, help="points in the large series (default 100000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.repeats < 5 or not 1 <= args.small < args.large:
        parser.error("--repeats must be >= 5 and 1 <= --small < --large")
    return args


def realistic_losses(n: int, rng: np.random.Generator) -> Series:
    """Per-batch cross-entropy as a run produces it: fast decay to a noisy floor, a few spikes."""
    k = np.arange(n, dtype=np.float64)
    trend = 2.3 * np.exp(-k / max(n / 20, 50)) + 0.08 + 0.1 * np.exp(-k / max(n / 3, 200))
    noisy = trend * rng.lognormal(0.0, 0.35, n)
    spikes = rng.random(n) < 0.002
    noisy[spikes] *= rng.uniform(2, 5, spikes.sum())
    series = Series()
    for value in noisy:  # the real append path, as the training thread uses it
        series.append(float(value))
    return series


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


async def measure(args: argparse.Namespace) -> tuple[dict[str, dict[str, list[tuple[float, float]]]], str]:
    from textual.app import App, ComposeResult
    from textual.containers import Grid
    from textual.widgets import Static

    class Host(App[None]):
        CSS = """
        Grid { grid-size: 2 2; grid-gutter: 0 1; height: 1fr; }
        BatchChart { height: 1fr; min-height: 5; }
        """

        def compose(self) -> ComposeResult:
            with Grid():
                yield BatchChart("loss per batch (gray) · smoothed", id="chart")
                yield Static("accuracy chart slot")
                yield Static("epoch loss slot")
                yield Static("epoch accuracy slot")

    rng = np.random.default_rng(args.seed)
    series = {"small": realistic_losses(args.small, rng), "large": realistic_losses(args.large, rng)}
    times: dict[str, dict[str, list[tuple[float, float]]]] = {m: {"small": [], "large": []} for m in MARKERS}
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        chart = app.query_one("#chart", BatchChart)
        geometry = f"chart {chart.size.width}x{chart.size.height} cells in a {SIZE[0]}x{SIZE[1]} app"

        def sample(which: str) -> tuple[float, float]:
            chart.series = series[which]
            t0 = time.perf_counter()
            chart.redraw()
            t1 = time.perf_counter()
            chart.render()
            t2 = time.perf_counter()
            return t1 - t0, t2 - t1

        for marker in MARKERS:
            chart.marker = marker
            for which in ("small", "large", "small", "large"):  # warm-up
                sample(which)
            for _ in range(args.repeats):
                for which in ("small", "large"):
                    times[marker][which].append(sample(which))
                await asyncio.sleep(0)  # let the app breathe, as between real 4 Hz ticks
            if chart.points_plotted == 0:
                raise RuntimeError("the chart plotted nothing")
    return times, geometry


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t_wall = time.perf_counter()
    gc.collect()
    times, geometry = asyncio.run(measure(args))
    print(f"{geometry}; {args.small:,} vs {args.large:,} realistic loss points; {args.repeats} alternating "
          f"repeats per size and marker; {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f}")
    print()
    print(f"  {'marker':<8} {'points':>8} {'redraw ms':>10} {'render ms':>10} {'total ms':>9} {'p90 ms':>8}"
          f"   large/small (median total)")
    ratios: dict[str, float] = {}
    paired: dict[str, float] = {}
    for marker in MARKERS:
        med_total = {}
        for which, n in (("small", args.small), ("large", args.large)):
            pairs = times[marker][which]
            totals = [(a + b) * 1e3 for a, b in pairs]
            med_total[which] = statistics.median(totals)
            extra = ""
            if which == "large":
                ratios[marker] = med_total["large"] / med_total["small"]
                paired[marker] = statistics.median(
                    (la + lb) / (sa + sb)
                    for (sa, sb), (la, lb) in zip(times[marker]["small"], times[marker]["large"], strict=True))
                extra = f"   ×{ratios[marker]:.3f} (paired ×{paired[marker]:.3f})"
            print(f"  {marker:<8} {n:>8,} {statistics.median(a * 1e3 for a, _ in pairs):>10.2f}"
                  f" {statistics.median(b * 1e3 for _, b in pairs):>10.2f} {med_total[which]:>9.2f}"
                  f" {pct(totals, 90):>8.2f}{extra}")
    print()
    for marker in MARKERS:
        cost = statistics.median((a + b) * 1e3 for a, b in times[marker]["large"])
        base = statistics.median((a + b) * 1e3 for a, b in times["braille"]["large"])
        print(f"  per-marker cost at {args.large:,} points: {marker:<8} {cost:6.2f} ms = ×{cost / base:.2f} braille")
    worst = max(ratios, key=lambda m: ratios[m])
    headline = ratios["braille"]
    print()
    print(f"redraw+render, {args.large:,} vs {args.small:,} points (braille, the default marker): "
          f"×{headline:.3f};  worst marker {worst} ×{ratios[worst]:.3f};  goal <= {GOAL_RATIO}: "
          f"{'PASS' if max(ratios.values()) <= GOAL_RATIO else 'NOT MET'}")
    print(f"\nwall time {time.perf_counter() - t_wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
