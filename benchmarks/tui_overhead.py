"""What does training inside the TUI cost? Plain ``model.fit`` vs the real app, headless.

All in ONE process, on the same data and the same model builder, alternating variants after
an untimed warm-up of each (TensorFlow import, first tracing and data loading are outside
every timing):

  A  plain Keras: ``build_model(cfg)`` then ``model.fit(x, y, verbose=0)``; seconds are
     taken around ``fit`` only, on a fresh model each run (like the app, so both include
     tracing the train function).
  E  A plus the trainer's per-epoch work, as a callback: softmax on the whole test set
     (for the viewer) and an atomic ``model.save`` checkpoint. Not UI cost, but the app's
     ``train_seconds`` includes it, so E separates "features" from "UI".
  B  the real app: ``make_app(cfg, runs_dir=tmp)`` under ``run_test(size=(110, 34))``,
     Escape then ``s``, wait for ``app.history.finished``; samples/s from
     ``RunFinished.train_seconds`` (the trainer's clock around ``fit``) and n_train × epochs.
     The Training tab is showing: the status line repaints at 4 Hz, the charts at the pace
     their cost allows (at most 2 Hz).

Then key → repaint latency, in a fresh child process that holds only the app (as a user's
does; garbage from the variants above would otherwise add full GC passes): during a real app
run at full speed, alternately press ``v``
and ``t`` (Viewer / Training tab; switching to Training forces a redraw of all four
charts) and time from posting the key until the screen hands a frame showing the new tab to
the display (``App._display`` wrapped: in headless mode that is where the compositor's
output would be written to the terminal, so terminal I/O itself is not counted). The same
measurement with no run in progress is the baseline.

Usage:  python benchmarks/tui_overhead.py [--preset mlp] [--data DIR] [--limit N]
                                          [--epochs 2] [--repeats 3] [--latency-samples 40]
                                          [--trace-slow MS]

``--trace-slow MS`` prints, for every press slower than MS, the message handlers that took
over 4 ms and the garbage-collection passes that ran meanwhile: what the tail is made of.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_tui.config import resolve_backend  # noqa: E402

# The default mode users get ("auto": jax when installed, else tensorflow); KERAS_BACKEND=... picks another.
os.environ["KERAS_BACKEND"] = resolve_backend("auto")

from mnist_tui.config import PRESETS, TrainConfig, preset_config  # noqa: E402
from mnist_tui.data import DATA_ENV, load_dataset, take_subset  # noqa: E402
from mnist_tui.errors import MnistTuiError  # noqa: E402
from mnist_tui.training.trainer import Prepared, prepare  # noqa: E402

DEFAULT_DATA = "/work/shared/data/mnist-20k"
SIZE = (110, 34)
GOAL_RATIO = 0.97
GOAL_P95_MS = 50.0
KEY_TIMEOUT = 5.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=[p for p in PRESETS if p != "scratch"], default="mlp")
    parser.add_argument("--data", default=None,
                        help=f"IDX directory or .npz (default ${DATA_ENV}, else {DEFAULT_DATA})")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timed run (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per variant (default 3, min 2)")
    parser.add_argument("--latency-samples", type=int, default=40, help="key presses per latency phase (min 30)")
    parser.add_argument("--trace-slow", type=float, default=None, metavar="MS",
                        help="explain every press slower than MS milliseconds")
    parser.add_argument("--latency-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 2 or args.epochs < 1 or args.latency_samples < 30:
        parser.error("--repeats must be >= 2, --epochs >= 1 and --latency-samples >= 30")
    return args


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: p95 of 40 samples is the 38th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# ---------------------------------------------------------------- A and E: plain Keras
def keras_fit(cfg: TrainConfig, data: Prepared, scratch: Path, epoch_work: bool) -> float:
    import keras

    from mnist_tui.models.keras_models import build_model
    from mnist_tui.runs.rundir import atomic_save
    from mnist_tui.training.callbacks import predict_chunks

    keras.utils.set_random_seed(cfg.seed)
    model = build_model(cfg)
    callbacks: list[Any] = []
    if epoch_work:
        class EpochWork(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                predict_chunks(self.model, data.x_test)
                atomic_save(scratch / "model.keras", self.model.save)

        callbacks.append(EpochWork())
    start = time.perf_counter()
    model.fit(data.x_train, data.y_train, batch_size=cfg.batch_size, epochs=cfg.epochs, verbose=0,
              callbacks=callbacks, shuffle=True)
    return time.perf_counter() - start


# ---------------------------------------------------------------- B: the app
async def start_run(app: Any, pilot: Any) -> None:
    await pilot.pause()
    await pilot.press("escape", "s")
    if not app.running:
        raise RuntimeError(f"pressing s did not start a run: phase {app.history.phase!r}")


async def wait_finished(app: Any, timeout: float = 600.0) -> Any:
    deadline = time.monotonic() + timeout
    while app.history.finished is None or app.running:
        if time.monotonic() > deadline:
            raise RuntimeError("the app's run did not finish in time")
        await asyncio.sleep(0.05)
    return app.history.finished


async def app_run(cfg: TrainConfig, runs_dir: str) -> tuple[float, int]:
    """One real app run; returns (train_seconds, epochs completed)."""
    from mnist_tui.app import make_app

    app = make_app(cfg, runs_dir=runs_dir, seed=cfg.seed)
    async with app.run_test(size=SIZE) as pilot:
        await start_run(app, pilot)
        fin = await wait_finished(app)
    if fin.status != "done":
        raise RuntimeError(f"app run ended {fin.status}: {fin.reason}")
    return fin.train_seconds, fin.epochs_completed


# ---------------------------------------------------------------- latency
class RepaintProbe:
    """Wraps ``app._display`` to stamp every frame the screen hands to the terminal."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.waiting: tuple[Any, asyncio.Future[float]] | None = None
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None or self.waiting is None:
                return
            done, fut = self.waiting
            if done() and not fut.done():
                fut.set_result(time.perf_counter())

        app._display = display

    async def measure(self, key: str, done: Any) -> float:
        """ms from the key arriving (as a terminal's driver would deliver it) to the first
        frame after ``done()`` holds. Pilot.press is not used here: it also waits for every
        widget's queue to drain and for animations (the tab underline), which takes 0.5-2 s
        while progress messages keep arriving, and is not what a user sees."""
        from textual import events

        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting = (done, fut)
        t0 = time.perf_counter()
        self.app._driver.send_message(events.Key(key, key))
        try:
            t_frame = await asyncio.wait_for(asyncio.shield(fut), KEY_TIMEOUT)
        finally:
            self.waiting = None
        return (t_frame - t0) * 1e3


class SlowTrace:
    """What ran during one press: message handlers over 4 ms and GC passes (``--trace-slow``)."""

    def __init__(self, threshold_ms: float) -> None:
        import gc

        from textual.message_pump import MessagePump

        self.threshold = threshold_ms
        self.t0 = 0.0
        self.events: list[str] = []
        self._gc_start = 0.0
        original = MessagePump._dispatch_message
        trace = self

        async def dispatch(pump: Any, message: Any) -> Any:
            start = time.perf_counter()
            try:
                return await original(pump, message)
            finally:
                ms = (time.perf_counter() - start) * 1e3
                if ms > 4 and type(message).__name__ != "Key":
                    trace.note(start, ms, f"{type(pump).__name__}<-{type(message).__name__}")

        MessagePump._dispatch_message = dispatch  # type: ignore[method-assign]

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                self._gc_start = time.perf_counter()
            else:
                self.note(self._gc_start, (time.perf_counter() - self._gc_start) * 1e3,
                          f"gc gen{info['generation']}")

        gc.callbacks.append(on_gc)

    def note(self, start: float, ms: float, what: str) -> None:
        self.events.append(f"{what} {ms:.0f} ms @{(start - self.t0) * 1e3:.0f}")

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.events.clear()

    def report(self, key: str, ms: float, phase: str) -> None:
        if ms > self.threshold:
            print(f"  slow {key!r} {ms:.0f} ms ({phase}): " + ("; ".join(self.events) or "nothing over 4 ms"),
                  file=sys.stderr, flush=True)


TRACE: SlowTrace | None = None


async def latency_phase(probe: RepaintProbe, kind: str, n: int, while_training: Any | None) -> list[float]:
    """``n`` presses; ``kind`` is "step" (→ in the viewer) or "tabs" (v/t alternately)."""
    from textual.widgets import TabbedContent

    app = probe.app
    tabs = app.query_one(TabbedContent)
    rng = random.Random(0)
    frames: list[float] = []
    i = 0
    if kind == "step":
        app.action_show_tab("viewer")
        await asyncio.sleep(0.3)
    else:
        app.action_show_tab("train")  # the first press (v) must change something to be painted
        await asyncio.sleep(0.3)
    while len(frames) < n:
        if kind == "step":
            before = app.viewer.nav.index

            def done(before: int = before) -> bool:
                return app.viewer.nav.index != before

            key = "right"
        else:
            key, want = [("v", "viewer"), ("t", "train")][i % 2]

            def done(want: str = want) -> bool:
                return tabs.active == want

        i += 1
        ok_before = while_training is None or while_training()
        if TRACE is not None:
            TRACE.start()
        ms = await probe.measure(key, done)
        if TRACE is not None:
            TRACE.report(key, ms, "idle" if while_training is None else "training")
        if ok_before and (while_training is None or while_training()):
            frames.append(ms)
        elif app.history.finished is not None:
            break  # the run ended before enough samples: report what we have
        await asyncio.sleep(0.05 + 0.1 * rng.random())  # a fast typist; desynchronised from timers
    return frames


async def latency_run(cfg: TrainConfig, runs_dir: str, n: int) -> dict[str, Any]:
    from mnist_tui.app import make_app

    app = make_app(cfg, runs_dir=runs_dir, seed=cfg.seed)
    async with app.run_test(size=SIZE) as pilot:
        probe = RepaintProbe(app)
        await start_run(app, pilot)
        while not (app.history.phase == "training" and app.history.batches > 0):
            if app.history.finished is not None:
                raise RuntimeError("the latency run ended before training started")
            await asyncio.sleep(0.02)
        training = lambda: app.history.phase == "training" and app.history.finished is None  # noqa: E731
        t_busy = time.perf_counter()
        b0 = app.history.batches
        busy_step = await latency_phase(probe, "step", n, training)
        busy_tabs = await latency_phase(probe, "tabs", n, training)
        busy_seconds = time.perf_counter() - t_busy
        batches = app.history.batches - b0
        await pilot.press("x")  # stop early: the samples are in
        await wait_finished(app)
        await pilot.pause(0.5)
        # Baseline: the same app, same screens, nothing training.
        idle_step = await latency_phase(probe, "step", n, None)
        idle_tabs = await latency_phase(probe, "tabs", n, None)
    return {"idle_step": idle_step, "busy_step": busy_step, "idle_tabs": idle_tabs, "busy_tabs": busy_tabs,
            "busy_seconds": busy_seconds, "busy_batches": batches}


def latency_in_child(argv: list[str] | None) -> dict[str, Any]:
    """The latency phase in a fresh process that holds only the app, like a user's: in this
    one, the earlier variants' models leave garbage whose full GC passes (~110 ms each) would
    land in the key presses."""
    cmd = [sys.executable, str(Path(__file__).resolve()), *(sys.argv[1:] if argv is None else argv), "--latency-child"]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# ---------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t_wall = time.perf_counter()
    data_path = args.data or os.environ.get(DATA_ENV) or DEFAULT_DATA
    cfg = preset_config(args.preset).with_changes(epochs=args.epochs, limit=args.limit, data_path=data_path)
    try:
        cfg.validated()
        ds = take_subset(load_dataset(cfg.dataset, data_path), cfg.limit)
    except MnistTuiError as err:
        print(f"tui_overhead.py: {err}", file=sys.stderr)
        return 1
    if args.latency_child:
        if args.trace_slow is not None:
            global TRACE
            TRACE = SlowTrace(args.trace_slow)
        lat_cfg = cfg.with_changes(epochs=max(cfg.epochs, 20))
        with tempfile.TemporaryDirectory(prefix="mnist-tui-tuibench-") as tmp:
            lat = asyncio.run(latency_run(lat_cfg, str(Path(tmp) / "runs"), args.latency_samples))
        print(json.dumps(lat))
        return 0
    data = prepare(cfg, ds)
    n_train = len(data.x_train)
    samples = n_train * cfg.epochs

    import keras

    print(f"preset {cfg.preset}: {n_train:,} train images ({ds.source}), batch {cfg.batch_size}, "
          f"{math.ceil(n_train / cfg.batch_size)} steps/epoch, {cfg.epochs} epoch(s) per run; "
          f"keras {keras.__version__} on {keras.config.backend()}, {os.cpu_count()} CPU(s)", flush=True)

    labels = {
        "A": "plain fit(verbose=0)",
        "E": "fit + epoch-end predict/save",
        "B": "real app, headless",
    }
    with tempfile.TemporaryDirectory(prefix="mnist-tui-tuibench-") as tmp:
        scratch = Path(tmp)
        runs_dir = str(scratch / "runs")

        def run(key: str) -> float:
            if key == "A":
                return keras_fit(cfg, data, scratch, epoch_work=False)
            if key == "E":
                return keras_fit(cfg, data, scratch, epoch_work=True)
            seconds, done = asyncio.run(app_run(cfg, runs_dir))
            if done != cfg.epochs:
                raise RuntimeError(f"app run completed {done} of {cfg.epochs} epochs")
            return seconds

        print("warming up (untimed): one run of each variant ...", flush=True)
        for key in labels:
            run(key)

        rates: dict[str, list[float]] = {k: [] for k in labels}
        print()
        print(f"{'run':>3}  {'variant':<33} {'seconds':>8} {'samples/s':>10}")
        print(f"{'---':>3}  {'-' * 33} {'-' * 8} {'-' * 10}")
        for i in range(1, args.repeats + 1):
            for key in labels:
                seconds = run(key)
                rates[key].append(samples / seconds)
                print(f"{i:>3}  {key + '  ' + labels[key]:<33} {seconds:>8.3f} {samples / seconds:>10,.0f}",
                      flush=True)

        # Latency: a long enough run that ≥ N presses land while it trains; stopped once done.
        lat_cfg = cfg.with_changes(epochs=max(cfg.epochs, 20))
        print(f"\nkey → repaint latency: {args.latency_samples} presses of each kind while training, "
              f"then the same idle ...", flush=True)
        lat = latency_in_child(argv)

    med = {k: statistics.median(v) for k, v in rates.items()}
    best = {k: max(v) for k, v in rates.items()}
    print()
    print(f"{'':<36} {'median':>10} {'best':>10}  samples/s   vs A (median)")
    for key in labels:
        row = f"{key + '  ' + labels[key]:<36} {med[key]:>10,.0f} {best[key]:>10,.0f}"
        print(f"{row}  {'':9} {med[key] / med['A']:.3f}")
    ratio = med["B"] / med["A"]
    paired = statistics.median(b / a for a, b in zip(rates["A"], rates["B"], strict=True))
    print()
    print(f"ratio B/A (median samples/s): {ratio:.3f}   goal >= {GOAL_RATIO}: "
          f"{'met' if ratio >= GOAL_RATIO else 'NOT met'}  (paired-run median {paired:.3f})")
    print(f"  of which epoch-end features (E/A): {med['E'] / med['A']:.3f}; "
          f"UI alone (B/E): {med['B'] / med['E']:.3f}")

    for kind, title in (("step", "→ in the viewer: next digit"), ("tabs", "v/t: switch Viewer/Training tab")):
        idle, busy = lat[f"idle_{kind}"], lat[f"busy_{kind}"]
        print()
        print(f"key → repaint latency, {title} ({SIZE[0]}x{SIZE[1]}), ms:")
        print(f"  {'':<26} {'n':>3} {'p50':>7} {'p95':>7} {'max':>7}")
        for name, vals in (("idle (baseline)", idle), ("while training", busy)):
            if vals:
                print(f"  {name:<26} {len(vals):>3} {pct(vals, 50):>7.1f} {pct(vals, 95):>7.1f} {max(vals):>7.1f}")
        if len(busy) < 30:
            print(f"  warning: only {len(busy)} presses landed while training")
        if busy and idle:
            p95 = pct(busy, 95)
            print(f"  training/idle: p50 ×{pct(busy, 50) / pct(idle, 50):.2f}, p95 ×{p95 / pct(idle, 95):.2f};"
                  f"  goal p95 < {GOAL_P95_MS:.0f} ms: {'met' if p95 < GOAL_P95_MS else 'NOT met'}")
    if lat["busy_seconds"] > 0:
        rate = lat["busy_batches"] * cfg.batch_size / lat["busy_seconds"]
        print(f"  (while pressing keys the run trained {lat['busy_batches']} batches in {lat['busy_seconds']:.1f} s"
              f" wall, incl. epoch ends: ~{rate:,.0f} samples/s)")
    print(f"\nwall time {time.perf_counter() - t_wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
