"""Drive the real app headless (real trainer, real data) and save SVG screenshots.

Writes into ``screenshots/`` at the repository root:

  setup.svg             Setup tab: preset ``cnn`` picked, batch size typed as 64, model summary
  setup-80x24.svg       the same at 80x24
  validation-error.svg  Setup with epochs = 0: the inline field error
  training.svg          a real ``mlp`` run (20k images, 12 epochs) while it trains, after epoch 3
  runs-live.svg         the Runs tab meanwhile: the run listed as running, with its progress
  quit.svg              q while it trains: stop it, keep it training in the background, or cancel
  training-done.svg     the same run finished: the status shows the test accuracy
  viewer.svg            Viewer after ``m`` (the next misclassified test digit)
  viewer-filter.svg     Viewer after ``7`` (only 7s)
  viewer-80x24.svg      the viewer at 80x24
  inspect.svg           Inspect: the confusion matrix, cursor on the most-confused cell
  inspect-drilldown.svg ... and Enter on it: the Viewer on exactly those digits
  draw.svg              Draw: a real test digit on the canvas, classified by the run's model
  explore.svg           Explore: the dataset facts (explore-activations.svg: the activations)
  explore-softmax.svg   Explore: softmax of logits you change, with a temperature
  explore-landscape.svg Explore: the test loss on the line from the initial to the trained weights
  network-weights.svg   Network: the first layer's units as 28x28 weight pictures
  network-distributions.svg  Network: every layer's weight histogram per epoch, update sizes
  network-digit.svg     Network: the Viewer's digit through every layer
  code.svg              Setup with g: the plain Keras script of the form
  runs.svg              Runs: the run just trained, selected and overlaid

and, when ``rsvg-convert`` is on PATH, a PNG (1400 px wide) next to each SVG.

Usage (from the repo root):  python scripts/screenshots.py [--data DIR] [--out DIR]
Data: --data, else $MNIST_TUI_DATA, else ../shared/data/mnist-20k beside the repository (IDX files).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from textual.widgets import Input, Select  # noqa: E402

from mnist_tui.app import MnistApp, make_app  # noqa: E402
from mnist_tui.config import preset_config  # noqa: E402
from mnist_tui.data import DATA_ENV  # noqa: E402
from mnist_tui.widgets.metric_chart import BatchChart  # noqa: E402

DEFAULT_DATA = str(ROOT.parent / "shared" / "data" / "mnist-20k")  # ../shared beside the repository
BIG = (110, 34)
SMALL = (80, 24)
SEED = 0
TRAIN_TIMEOUT = 300.0  # seconds; the 3-epoch mlp run takes ~10 s once TensorFlow is imported
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")


class ScreenshotError(RuntimeError):
    pass


def find_data(arg: str | None) -> Path:
    raw = arg or os.environ.get(DATA_ENV) or DEFAULT_DATA
    path = Path(raw).expanduser()
    if path.is_file() and path.suffix == ".npz":
        return path
    if not path.is_dir():
        raise ScreenshotError(f"MNIST data not found at {path}: pass --data DIR or set ${DATA_ENV}")
    names = {p.name.removesuffix(".gz") for p in path.iterdir()}
    missing = [n for n in IDX_FILES if n not in names]
    if missing:
        raise ScreenshotError(f"MNIST data at {path} is incomplete, missing: {', '.join(missing)}")
    return path


class Shooter:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.written: list[Path] = []

    def shoot(self, app: MnistApp, name: str, *, keep_toasts: bool = False) -> None:
        for w in app.query(Input):
            w.cursor_blink = False
        if not keep_toasts:
            app.clear_notifications()
        path = app.save_screenshot(filename=name, path=str(self.out))
        self.written.append(Path(path))
        print(f"wrote {Path(path).relative_to(ROOT) if Path(path).is_relative_to(ROOT) else path}", flush=True)


async def settle(pilot, seconds: float = 0.0) -> None:
    """Let queued messages, layout and a repaint happen (twice: some updates chain)."""
    if seconds:
        await asyncio.sleep(seconds)
    await pilot.pause()
    await pilot.pause()


async def retype(pilot, app: MnistApp, field: str, text: str) -> None:
    """Focus an Input, select all, clear it and type ``text``, all through key presses."""
    widget = app.query_one(f"#field-{field}", Input)
    widget.focus()
    await pilot.pause()
    await pilot.press("end", "ctrl+shift+a", "backspace")
    if widget.value:  # belt and braces: select-all binding changed in some Textual version
        await pilot.press("end", "ctrl+u")
    await pilot.press(*text)
    await settle(pilot)
    if widget.value != text:
        raise ScreenshotError(f"typing into {field} gave {widget.value!r}, expected {text!r}")


async def pick_select(pilot, app: MnistApp, field: str, value: str) -> None:
    """Open a Select with Enter and move to ``value`` with the arrow keys."""
    select = app.query_one(f"#field-{field}", Select)
    select.focus()
    await pilot.pause()
    options = [v for _, v in select._options]  # (prompt, value) pairs; the form has no blank
    steps = options.index(value) - options.index(select.value)
    await pilot.press("enter")
    await settle(pilot)
    await pilot.press(*(["down"] * steps if steps > 0 else ["up"] * -steps), "enter")
    await settle(pilot)
    if select.value != value:
        raise ScreenshotError(f"picking {value!r} in {field} left {select.value!r}")


async def setup_shots(shooter: Shooter, runs_dir: str) -> None:
    app = make_app(preset_config("mlp"), runs_dir=runs_dir, seed=SEED)
    async with app.run_test(size=BIG) as pilot:
        await settle(pilot)
        await pick_select(pilot, app, "preset", "cnn")
        await retype(pilot, app, "batch_size", "64")
        if app.config is None or app.config.preset != "cnn" or app.config.batch_size != 64:
            raise ScreenshotError(f"form did not produce cnn/64: {app.config}")
        await settle(pilot)
        shooter.shoot(app, "setup.svg")

        await pilot.resize_terminal(*SMALL)
        await settle(pilot, 0.1)
        shooter.shoot(app, "setup-80x24.svg")
        await pilot.resize_terminal(*BIG)
        await settle(pilot, 0.1)

        await retype(pilot, app, "epochs", "0")
        if "epochs" not in app.config_errors:
            raise ScreenshotError("epochs=0 did not produce an inline error")
        shooter.shoot(app, "validation-error.svg")


async def wait_until(pilot, condition, what: str, timeout: float = TRAIN_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise ScreenshotError(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(0.05)
        await pilot.pause()


async def training_shots(shooter: Shooter, runs_dir: str) -> None:
    # The whole 20k set for 12 epochs: long enough to shoot the run while it trains.
    cfg = preset_config("mlp").with_changes(epochs=12, seed=SEED)
    app = make_app(cfg, runs_dir=runs_dir, seed=SEED)
    async with app.run_test(size=BIG) as pilot:
        await settle(pilot)
        await wait_until(pilot, lambda: app.source.status().startswith("Trainer ready"), "the warm trainer")
        t0 = time.monotonic()
        await pilot.press("escape", "s")
        charts = list(app.query(BatchChart))
        await wait_until(pilot, lambda: (len(app.history.epochs) >= 3 and all(c.points_plotted for c in charts))
                         or app.history.finished is not None, "three epochs")
        if app.history.finished is not None:
            raise ScreenshotError("the run finished before the mid-training shot: raise its epochs")
        await settle(pilot, 0.6)  # the paced chart redraw
        shooter.shoot(app, "training.svg")
        print(f"  (mid-training shot at epoch {len(app.history.epochs)}, {app.history.batches} batches, "
              f"{time.monotonic() - t0:.1f} s after pressing s)", flush=True)

        # The Runs tab with the run live, then the question q asks while it trains.
        await pilot.press("u")
        await settle(pilot, 1.2)  # the tab's live refresh
        shooter.shoot(app, "runs-live.svg")
        await pilot.press("q")
        await settle(pilot)
        shooter.shoot(app, "quit.svg")
        await pilot.press("c")
        await pilot.press("t")

        await wait_until(pilot, lambda: app.history.finished is not None, "the run to finish")
        fin = app.history.finished
        if fin.status != "done":
            raise ScreenshotError(f"training ended with status {fin.status}: {fin.reason}")
        await settle(pilot, 0.6)  # one chart redraw after the final events
        shooter.shoot(app, "training-done.svg")
        print(f"  (test accuracy {fin.test_accuracy:.2%}, train {fin.train_seconds:.1f} s, "
              f"total {fin.total_seconds:.1f} s)", flush=True)

        await pilot.press("v")
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        shooter.shoot(app, "viewer.svg")
        await pilot.press("7")
        await settle(pilot)
        shooter.shoot(app, "viewer-filter.svg")

        await pilot.resize_terminal(*SMALL)
        await settle(pilot, 0.1)
        shooter.shoot(app, "viewer-80x24.svg")
        await pilot.resize_terminal(*BIG)
        await settle(pilot, 0.1)

        # Inspect: the confusion matrix, cursor on the most-confused cell, then its drill-down.
        await pilot.press("i")
        await settle(pilot)
        grid = app.query_one("ConfusionGrid")
        conf = np.array(fin.confusion)
        np.fill_diagonal(conf, -1)
        t_cls, p_cls = np.unravel_index(int(conf.argmax()), conf.shape)
        while grid.cursor != (t_cls, p_cls):
            row, col = grid.cursor
            await pilot.press("down" if row < t_cls else "up" if row > t_cls else "right" if col < p_cls else "left")
        await settle(pilot)
        shooter.shoot(app, "inspect.svg")
        await pilot.press("enter")
        await settle(pilot)
        shooter.shoot(app, "inspect-drilldown.svg")

        # Draw: a real test digit drawn onto the canvas, classified by the model just trained.
        await pilot.press("d")
        await settle(pilot)
        x_test = app.history.data.x_test
        app.query_one("DrawView").canvas.set_image(x_test[0] / 255.0)
        await settle(pilot, 0.2)
        shooter.shoot(app, "draw.svg")

        # Explore: the dataset facts and the activations.
        await pilot.press("l")
        await settle(pilot)
        shooter.shoot(app, "explore.svg")
        await pilot.press("2")
        await settle(pilot, 0.2)
        shooter.shoot(app, "explore-activations.svg")
        await pilot.press("4", "right", "right", "right")  # raise logit 0: watch its softmax share grow
        await settle(pilot, 0.2)
        shooter.shoot(app, "explore-softmax.svg")
        await pilot.press("5")
        landscape = app.query_one("LandscapeChart")
        await wait_until(pilot, lambda: landscape.line is not None, "the loss landscape", 60)
        await settle(pilot, 0.2)
        shooter.shoot(app, "explore-landscape.svg")

        # Network: the first layer's units, the weight distributions per epoch, one digit through it.
        await pilot.press("v", "m", "w", "1")  # the Viewer's digit: a misclassified one
        await settle(pilot, 0.3)
        shooter.shoot(app, "network-weights.svg")
        await pilot.press("2")
        await settle(pilot, 0.3)
        shooter.shoot(app, "network-distributions.svg")
        await pilot.press("3")
        network = app.query_one("NetworkView")
        await wait_until(pilot, lambda: network.activations is not None, "one digit through the network", 60)
        await settle(pilot, 0.2)
        shooter.shoot(app, "network-digit.svg")

        # The code behind the form: the plain Keras script in place of Setup's summary.
        await pilot.press("e")
        await settle(pilot)
        await pilot.press("g")
        await settle(pilot, 0.3)
        shooter.shoot(app, "code.svg")
        await pilot.press("g")

        # Runs: the run just trained, selected and overlaid.
        await pilot.press("u")
        await settle(pilot)
        await pilot.press("space", "o")
        await settle(pilot, 0.2)
        shooter.shoot(app, "runs.svg")


_TEXT = re.compile(r'<text ([^>]*?)x="([0-9.]+)" y="([0-9.]+)" textLength="([0-9.]+)"([^>]*)>([^<]*)</text>')
_BRAILLE = re.compile("[\u2800-\u28ff]")


def _cellwise(match: re.Match[str]) -> str:
    """Work around two librsvg (2.54) quirks so the PNG matches the SVG.

    librsvg ignores ``textLength`` and drops leading no-break spaces, and no monospace font
    here has braille glyphs (they fall back to proportional DejaVu Sans): plotext's braille
    lines came out stretched past their chart frames and text after a styled run shifted
    left. Leading spaces become an x offset, and braille runs are split one glyph per cell.
    """
    attrs, x, y, length, rest, body = match.groups()
    text = html.unescape(body)
    if not text or not float(length):
        return match.group(0)
    cell = float(length) / len(text)
    stripped = text.lstrip("\u00a0 ")
    x0 = float(x) + cell * (len(text) - len(stripped))
    if not stripped:
        return ""
    if not _BRAILLE.search(stripped):
        return (f'<text {attrs}x="{x0:.1f}" y="{y}" textLength="{cell * len(stripped):.1f}"{rest}>'
                f'{html.escape(stripped, quote=False).replace(" ", "&#160;")}</text>')
    return "".join(
        f'<text {attrs}x="{x0 + i * cell:.1f}" y="{y}" textLength="{cell:.1f}"{rest}>'
        f'{html.escape(ch, quote=False)}</text>'
        for i, ch in enumerate(stripped) if ch not in "\u00a0 "
    )


def to_png(svgs: list[Path]) -> list[Path]:
    exe = shutil.which("rsvg-convert")
    if exe is None:
        print("rsvg-convert not on PATH: skipping PNGs")
        return []
    pngs = []
    for svg in svgs:
        png = svg.with_suffix(".png")
        with tempfile.NamedTemporaryFile("w", suffix=".svg", encoding="utf-8") as tmp:
            tmp.write(_TEXT.sub(_cellwise, svg.read_text(encoding="utf-8")))
            tmp.flush()
            subprocess.run([exe, "-w", "1400", tmp.name, "-o", str(png)], check=True)
        pngs.append(png)
        print(f"wrote {png.relative_to(ROOT) if png.is_relative_to(ROOT) else png}")
    return pngs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help=f"IDX directory or .npz (default ${DATA_ENV} or {DEFAULT_DATA})")
    parser.add_argument("--out", default=str(ROOT / "screenshots"), help="output directory")
    args = parser.parse_args(argv)
    try:
        data = find_data(args.data)
    except ScreenshotError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    os.environ[DATA_ENV] = str(data)  # the form's data-path field stays empty (placeholder shown)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    shooter = Shooter(out)
    t0 = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="mnist-tui-shots-") as runs_dir:
            asyncio.run(setup_shots(shooter, runs_dir))
            asyncio.run(training_shots(shooter, runs_dir))
    except ScreenshotError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    to_png(shooter.written)
    print(f"{len(shooter.written)} screenshots in {out} ({time.monotonic() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
