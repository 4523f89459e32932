"""Run a real sweep (the NumPy net: 2 learning rates × 3 seeds) and save SVG screenshots of
the real app showing it.

Writes into ``screenshots/`` at the repository root:

  sweep-leaderboard.svg  the sweep's leaderboard (Runs tab, W), sorted by test accuracy
  seed-bands.svg         the Runs tab with the six runs overlaid: two seed groups, each its mean
                         between a min–max band; the time column shows mean ± std per group
  diff.svg               the diff view of the best run of each learning rate

and PNGs beside them when ``rsvg-convert`` is on PATH. ``shoot_sweeps(out, data)`` is the
function ``scripts/screenshots.py`` (or the lead) can call.

Usage (from the repo root):  python scripts/sweep_screenshots.py [--data DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from mnist_tui.app import make_app  # noqa: E402
from mnist_tui.data import DATA_ENV  # noqa: E402
from mnist_tui.runs import sweep as sw  # noqa: E402
from mnist_tui.screens.diff import DiffScreen  # noqa: E402
from mnist_tui.screens.runs import RunsView  # noqa: E402
from mnist_tui.screens.sweep import SweepScreen  # noqa: E402
from screenshots import BIG, ScreenshotError, Shooter, find_data, settle, to_png  # noqa: E402

GRID = {"preset": "scratch", "learning_rate": "0.1,0.5", "limit": "4000", "epochs": "4"}
SEEDS = "0,1,2"


def run_sweep(runs_dir: Path) -> Path:
    """The sweep, trained here by a real runner and real trainer processes."""
    path = sw.create_sweep(runs_dir, sw.plan_sweep(GRID, SEEDS))
    state = sw.SweepRunner(path, lambda line: print(line, flush=True)).run()
    if state != sw.DONE:
        raise ScreenshotError(f"the sweep ended {state}")
    return path


async def wait_until(pilot, condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise ScreenshotError("the app did not get there in time")
        await pilot.pause(0.05)
    await settle(pilot)


async def app_shots(shooter: Shooter, runs_dir: Path, sweep: Path) -> None:
    app = make_app(runs_dir=runs_dir, warm=False)
    async with app.run_test(size=BIG) as pilot:
        await settle(pilot)
        await pilot.press("escape", "u")
        view = app.query_one(RunsView)
        await wait_until(pilot, lambda: not view.loading and len(view.runs) == 6)
        await pilot.press("W")
        screen = app.screen
        if not isinstance(screen, SweepScreen) or screen.current != sweep.name:
            raise ScreenshotError("the sweep screen did not open on the sweep")
        while screen.sort_key != "test":
            await pilot.press("S")
        await settle(pilot)
        shooter.shoot(app, "sweep-leaderboard.svg")
        await pilot.press("escape")
        await settle(pilot)

        view.table.move_cursor(row=0)
        for _ in view.runs:
            await pilot.press("space")
        await pilot.press("a", "o", "G", "G", "G", "G")  # accuracy, overlay, the time column: seeds
        await settle(pilot, 0.2)
        if len(view.chart.bands) != 2:
            raise ScreenshotError(f"expected two seed bands, got {list(view.chart.bands)}")
        shooter.shoot(app, "seed-bands.svg")

        best = {}
        for run in view.runs:
            lr = run.config["learning_rate"]
            if lr not in best or (run.test_accuracy or 0) > (best[lr].test_accuracy or 0):
                best[lr] = run
        view.selected = {r.id for r in best.values()}
        await pilot.press("D")
        diff = app.screen
        if not isinstance(diff, DiffScreen):
            raise ScreenshotError("the diff view did not open")
        await wait_until(pilot, lambda: diff.diff is not None)
        shooter.shoot(app, "diff.svg")


def shoot_sweeps(out: Path, data: Path) -> list[Path]:
    """Train the sweep in a scratch run store, then shoot the app; returns the SVGs written."""
    os.environ[DATA_ENV] = str(data)
    out.mkdir(parents=True, exist_ok=True)
    shooter = Shooter(out)
    with tempfile.TemporaryDirectory(prefix="mnist-tui-sweep-shots-") as tmp:
        runs_dir = Path(tmp)
        sweep = run_sweep(runs_dir)
        asyncio.run(app_shots(shooter, runs_dir, sweep))
    return shooter.written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help=f"IDX directory or .npz (default ${DATA_ENV})")
    parser.add_argument("--out", default=str(ROOT / "screenshots"), help="output directory")
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    try:
        written = shoot_sweeps(Path(args.out).resolve(), find_data(args.data))
    except ScreenshotError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    to_png(written)
    print(f"{len(written)} screenshots in {args.out} ({time.monotonic() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
