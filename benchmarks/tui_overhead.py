"""What does training from the app cost? Plain Keras ``fit`` vs the real app and its trainer process.

Every variant runs in a FRESH process of its own (the app's runs are processes too), on the
same data and the same model builder, and the variants alternate (A0, A, B, A0, A, B, ...)
after an untimed warm-up of each:

  A0 plain Keras ``model.fit(x, y, verbose=0)``: bare, nothing else per epoch.
  A  plain Keras ``model.fit(..., verbose=0, validation_data=(x_test, y_test))``: the same
     work the app does (it predicts the whole test set at every epoch end, for the
     validation curve, the viewer and the confusion matrix).
  C  the trainer alone, as ``mnist-tui train`` runs it (``run_job`` on a run directory, no app):
     what the trainer's own record keeping costs (B/C is then what the app adds).
  B  the real app headless (``make_app`` under ``run_test(size=(110, 34))``, the Training
     tab showing) with its real run source: it waits until its warm trainer is ready, then
     presses ``s``; samples/s from the run's ``train_seconds`` (the trainer's clock around
     ``fit``, tracing included, as A's is). B also reports the CPU the app process itself
     used while the run trained (goal ≤ 10 % of a core), and the time from ``s`` to the
     first frame that shows a batch.

Seconds for A0 and A are taken around ``fit`` only (data loading, model building and the
Keras import are outside every variant).

Then, in one more app process: key → repaint latency while a cnn trains at full speed
(→ in the viewer, and v/t tab switches; goal p95 < 50 ms), and the same keys idle.

Then ``s`` → first batch on screen: the app's warm trainer process vs an in-thread start
(the architecture before runs became processes: Keras already imported in the same process,
``train()`` started in a thread; the figure is its first batch *event*, a lower bound for a
paint). Goal: the warm trainer is no slower.

Usage:  python benchmarks/tui_overhead.py [--presets mlp,cnn] [--backends tensorflow,jax] [--data DIR]
           [--epochs 2] [--cnn-limit 3000] [--repeats 3] [--latency-samples 40] [--first-batch-runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import math
import os
import random
import resource
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

from mnist_tui.config import PRESETS, TrainConfig, preset_config  # noqa: E402
from mnist_tui.data import DATA_ENV  # noqa: E402

DEFAULT_DATA = str(ROOT.parent / "shared" / "data" / "mnist-20k")
SIZE = (110, 34)
GOAL_RATIO = 0.97
GOAL_P95_MS = 50.0
GOAL_CPU = 0.10
KEY_TIMEOUT = 5.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="mlp,cnn", help="comma-separated Keras presets (default mlp,cnn)")
    parser.add_argument("--backends", default=None,
                        help="comma-separated (default: tensorflow and jax, those installed)")
    parser.add_argument("--data", default=None, help=f"IDX directory or .npz (default ${DATA_ENV}, else "
                                                     f"{DEFAULT_DATA})")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timed run (default 2)")
    parser.add_argument("--limit", type=int, default=None, help="train images for mlp/mlp-small (default all)")
    parser.add_argument("--cnn-limit", type=int, default=3000, help="train images for the cnn (default 3000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per variant (default 3, min 2)")
    parser.add_argument("--latency-samples", type=int, default=40, help="key presses per latency phase (min 20)")
    parser.add_argument("--first-batch-runs", type=int, default=3, help="s → first batch trials per variant")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--config", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 2 or args.epochs < 1 or args.latency_samples < 20:
        parser.error("--repeats must be >= 2, --epochs >= 1 and --latency-samples >= 20")
    return args


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: p95 of 40 samples is the 38th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------- children
def child_plain(cfg: TrainConfig, validation: bool) -> dict[str, Any]:
    """A0 / A: plain Keras in this fresh process."""
    import keras

    from mnist_tui.data import load_dataset, take_subset
    from mnist_tui.models.keras_models import build_model
    from mnist_tui.training.trainer import prepare

    ds = take_subset(load_dataset(cfg.dataset, cfg.data_path), cfg.limit)
    data = prepare(cfg, ds)
    keras.utils.set_random_seed(cfg.seed)
    model = build_model(cfg)
    y_test = data.y_test_int if cfg.loss == "sparse" else keras.utils.to_categorical(data.y_test_int, 10)
    extra = {"validation_data": (data.x_test, y_test)} if validation else {}
    start = time.perf_counter()
    model.fit(data.x_train, data.y_train, batch_size=cfg.batch_size, epochs=cfg.epochs, verbose=0, shuffle=True,
              **extra)
    return {"seconds": time.perf_counter() - start, "samples": len(data.x_train) * cfg.epochs,
            "backend": keras.config.backend()}


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

    async def until(self, done: Any, timeout: float) -> float:
        """perf_counter of the first frame after ``done()`` holds."""
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting = (done, fut)
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        finally:
            self.waiting = None

    async def measure(self, key: str, done: Any) -> float:
        """ms from the key arriving (as a terminal's driver delivers it) to the first frame
        after ``done()`` holds (Pilot.press would also wait for every queue to drain)."""
        from textual import events

        t0 = time.perf_counter()
        waiter = asyncio.ensure_future(self.until(done, KEY_TIMEOUT))
        await asyncio.sleep(0)
        self.app._driver.send_message(events.Key(key, key))
        return (await waiter - t0) * 1e3


def child_headless(cfg: TrainConfig, runs_dir: str) -> dict[str, Any]:
    """C: the trainer process's job, in this process, with its run directory."""
    from mnist_tui.events import DataReady
    from mnist_tui.runs.process import _import, run_job
    from mnist_tui.runs.rundir import create_run_dir
    from mnist_tui.training.trainer import freeze_import_garbage

    _import(cfg.backend)
    freeze_import_garbage(warm_up=True)  # as warm as the app's trainer
    seen: list[int] = []
    fin = run_job(create_run_dir(runs_dir, cfg), emit=lambda e: seen.append(e.n_train) if isinstance(e, DataReady)
                  else None)
    return {"seconds": fin.train_seconds, "samples": seen[0] * fin.epochs_completed}


async def wait_warm(app: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not app.source.status().startswith("Trainer ready"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the warm trainer was not ready in time: {app.source.status()!r}")
        await asyncio.sleep(0.05)


async def press_s(app: Any, probe: RepaintProbe) -> float:
    """Press s; seconds until a frame shows the run's first batch."""
    t0 = time.perf_counter()
    waiter = asyncio.ensure_future(probe.until(lambda: app.history.batches > 0, 300))
    await asyncio.sleep(0)
    from textual import events

    app._driver.send_message(events.Key("s", "s"))
    return await waiter - t0


async def child_app(cfg: TrainConfig, runs_dir: str) -> dict[str, Any]:
    """B: the real app with its real run source; the Training tab shows throughout."""
    from mnist_tui.app import make_app

    app = make_app(cfg, runs_dir=runs_dir, seed=cfg.seed, warm=True, freeze_gc=True)  # as the CLI
    async with app.run_test(size=SIZE) as pilot:
        probe = RepaintProbe(app)
        await pilot.press("escape")
        await wait_warm(app)
        first_batch = await press_s(app, probe)
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        while app.history.finished is None:
            await asyncio.sleep(0.05)
        cpu = (cpu_seconds() - cpu0) / (time.perf_counter() - wall0)
        fin = app.history.finished
        started = app.history.started
    if fin.status != "done":
        raise RuntimeError(f"app run ended {fin.status}: {fin.reason}")
    return {"seconds": fin.train_seconds, "samples": app.history.data.n_train * fin.epochs_completed,
            "cpu": cpu, "first_batch": first_batch, "backend": started.backend if started else "?"}


async def latency_phase(app: Any, probe: RepaintProbe, kind: str, n: int, while_training: Any) -> list[float]:
    """``n`` presses; ``kind`` is "step" (→ in the viewer) or "tabs" (v/t alternately)."""
    from textual.widgets import TabbedContent

    tabs = app.query_one(TabbedContent)
    rng = random.Random(0)
    frames: list[float] = []
    app.action_show_tab("viewer" if kind == "step" else "train")
    await asyncio.sleep(0.3)
    i = 0
    while len(frames) < n:
        if kind == "step":
            before = app.viewer.nav.index if app.viewer.nav else -1

            def done(before: int = before) -> bool:
                return app.viewer.nav is not None and app.viewer.nav.index != before

            key = "right"
        else:
            key, want = [("v", "viewer"), ("t", "train")][i % 2]

            def done(want: str = want) -> bool:
                return tabs.active == want

        i += 1
        ok_before = while_training is None or while_training()
        ms = await probe.measure(key, done)
        if ok_before and (while_training is None or while_training()):
            frames.append(ms)
        elif app.history.finished is not None:
            break
        await asyncio.sleep(0.05 + 0.1 * rng.random())  # a fast typist, desynchronised from timers
    return frames


async def child_latency(cfg: TrainConfig, runs_dir: str, n: int) -> dict[str, Any]:
    from mnist_tui.app import make_app

    app = make_app(cfg, runs_dir=runs_dir, seed=cfg.seed, warm=True, freeze_gc=True)  # as the CLI
    async with app.run_test(size=SIZE) as pilot:
        probe = RepaintProbe(app)
        await pilot.press("escape")
        await wait_warm(app)
        await press_s(app, probe)
        while not app.history.prediction_epochs():  # the viewer needs an epoch's predictions
            if app.history.finished is not None:
                raise RuntimeError("the latency run ended before its first epoch")
            await asyncio.sleep(0.05)

        def training() -> bool:
            return app.history.finished is None and app.history.phase == "training"

        busy_step = await latency_phase(app, probe, "step", n, training)
        busy_tabs = await latency_phase(app, probe, "tabs", n, training)
        await pilot.press("x")
        while app.history.finished is None:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        idle_step = await latency_phase(app, probe, "step", n, None)
        idle_tabs = await latency_phase(app, probe, "tabs", n, None)
    return {"busy_step": busy_step, "busy_tabs": busy_tabs, "idle_step": idle_step, "idle_tabs": idle_tabs}


def child_in_thread(cfg: TrainConfig) -> dict[str, Any]:
    """The old start: Keras imported (and warmed) in this process, ``train()`` in a thread."""
    import threading

    from mnist_tui.events import BatchEnd
    from mnist_tui.training.control import TrainControl
    from mnist_tui.training.trainer import freeze_import_garbage, train

    freeze_import_garbage(warm_up=True)
    first = threading.Event()
    control = TrainControl()
    t_first: list[float] = []

    def emit(event: object) -> None:
        if isinstance(event, BatchEnd) and not first.is_set():
            t_first.append(time.perf_counter())
            first.set()
            control.stop()

    t0 = time.perf_counter()
    thread = threading.Thread(target=train, args=(cfg, emit, control))
    thread.start()
    first.wait(300)
    thread.join()
    return {"first_batch": t_first[0] - t0}


async def child_first_batch(cfg: TrainConfig, runs_dir: str) -> dict[str, Any]:
    """``s`` → first batch on screen with the warm trainer (the run is stopped at once)."""
    from mnist_tui.app import make_app

    app = make_app(cfg, runs_dir=runs_dir, seed=cfg.seed, warm=True, freeze_gc=True)  # as the CLI
    async with app.run_test(size=SIZE) as pilot:
        probe = RepaintProbe(app)
        await pilot.press("escape")
        await wait_warm(app)
        await asyncio.sleep(0.5)
        first_batch = await press_s(app, probe)
        await pilot.press("x")
        while app.history.finished is None:
            await asyncio.sleep(0.05)
    return {"first_batch": first_batch}


def run_child(kind: str, cfg: TrainConfig, backend: str, extra: list[str] | None = None) -> dict[str, Any]:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--config", json.dumps(cfg.to_dict()),
           *(extra or [])]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child_main(args: argparse.Namespace) -> int:
    from mnist_tui.config import config_from_mapping

    cfg = config_from_mapping(json.loads(args.config))
    with tempfile.TemporaryDirectory(prefix="mnist-tui-tuibench-") as tmp:
        runs = str(Path(tmp) / "runs")
        if args.child in ("A0", "A"):
            out = child_plain(cfg, validation=args.child == "A")
        elif args.child == "C":
            out = child_headless(cfg, runs)
        elif args.child == "B":
            out = asyncio.run(child_app(cfg, runs))
        elif args.child == "latency":
            out = asyncio.run(child_latency(cfg, runs, args.latency_samples))
        elif args.child == "in-thread":
            out = child_in_thread(cfg)
        else:
            out = asyncio.run(child_first_batch(cfg, runs))
    print(json.dumps(out))
    return 0


# ---------------------------------------------------------------- main
LABELS = {"A0": "plain fit, no validation", "A": "plain fit, validation_data=test", "C": "the trainer, headless",
          "B": "the real app"}


def throughput(cfg: TrainConfig, backend: str, repeats: int) -> dict[str, Any]:
    print(f"\n{cfg.preset} on {backend}: {cfg.limit or 'all'} train images, batch {cfg.batch_size}, "
          f"{cfg.epochs} epoch(s) per run; warming up (untimed) ...", flush=True)
    for key in LABELS:
        run_child(key, cfg, backend)
    rates: dict[str, list[float]] = {k: [] for k in LABELS}
    cpu: list[float] = []
    print(f"{'run':>3}  {'variant':<36} {'seconds':>8} {'samples/s':>10}")
    for i in range(1, repeats + 1):
        for key in LABELS:
            out = run_child(key, cfg, backend)
            rates[key].append(out["samples"] / out["seconds"])
            if key == "B":
                cpu.append(out["cpu"])
            print(f"{i:>3}  {key + '  ' + LABELS[key]:<36} {out['seconds']:>8.2f} {rates[key][-1]:>10,.0f}"
                  + (f"   app CPU {out['cpu']:.1%} of a core" if key == "B" else ""), flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    return {"med": med, "paired": statistics.median(b / a for a, b in zip(rates["A"], rates["B"], strict=True)),
            "cpu": statistics.median(cpu)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args)
    t_wall = time.perf_counter()
    data = args.data or os.environ.get(DATA_ENV) or DEFAULT_DATA
    presets = [p for p in args.presets.split(",") if p]
    if any(p not in PRESETS or p == "scratch" for p in presets):
        print("tui_overhead.py: --presets takes Keras presets (mlp, mlp-small, cnn)", file=sys.stderr)
        return 2
    backends = args.backends.split(",") if args.backends else [
        b for b in ("tensorflow", "jax") if b == "tensorflow" or importlib.util.find_spec(b) is not None]
    print(f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f}; data {data}")
    results: dict[tuple[str, str], dict[str, Any]] = {}
    for backend in backends:
        for preset in presets:
            limit = args.cnn_limit if preset == "cnn" else args.limit
            cfg = preset_config(preset).with_changes(epochs=args.epochs, limit=limit, data_path=data,
                                                     backend=backend)
            results[(backend, preset)] = throughput(cfg, backend, args.repeats)

    print("\napp throughput vs plain Keras (median samples/s of each; the app's run trains in its own process):")
    print(f"  {'backend':<11} {'preset':<10} {'B/A (same work)':>16} {'paired':>7} {'B/A0 (bare fit)':>16}"
          f" {'C/A trainer':>12} {'B/C app':>8} {'app CPU':>8}")
    met = True
    for (backend, preset), r in results.items():
        ratio = r["med"]["B"] / r["med"]["A"]
        met &= ratio >= GOAL_RATIO
        med = r["med"]
        print(f"  {backend:<11} {preset:<10} {ratio:>16.3f} {r['paired']:>7.3f} {med['B'] / med['A0']:>16.3f}"
              f" {med['C'] / med['A']:>12.3f} {med['B'] / med['C']:>8.3f} {r['cpu']:>7.1%}")
    print(f"  goal B/A >= {GOAL_RATIO}: {'met' if met else 'NOT met'}; app CPU goal <= {GOAL_CPU:.0%} of a core: "
          f"{'met' if all(r['cpu'] <= GOAL_CPU for r in results.values()) else 'NOT met'}")

    backend = backends[-1]
    mlp = preset_config("mlp").with_changes(data_path=data, backend=backend)
    print(f"\ns → first batch on screen, mlp on {backend} ({args.first_batch_runs} trials each, alternating):")
    warm, thread = [], []
    for _ in range(args.first_batch_runs):
        warm.append(run_child("first", mlp, backend)["first_batch"])
        thread.append(run_child("in-thread", mlp, backend)["first_batch"])
    w, t = statistics.median(warm), statistics.median(thread)
    print(f"  warm trainer process (the app): median {w * 1e3:.0f} ms; in-thread start (before): {t * 1e3:.0f} ms;"
          f" ratio {w / t:.2f}  goal no slower (<= 1.0, noise ±10 %): {'met' if w <= t * 1.1 else 'NOT met'}")

    if not args.skip_latency:
        cnn = preset_config("cnn").with_changes(data_path=data, backend=backend, epochs=50)
        print(f"\nkey → repaint latency while the cnn trains at full speed on {backend} ({SIZE[0]}x{SIZE[1]}), ms:",
              flush=True)
        lat = run_child("latency", cnn, backend, ["--latency-samples", str(args.latency_samples)])
        for kind, title in (("step", "→ in the viewer"), ("tabs", "v/t tab switch")):
            idle, busy = lat[f"idle_{kind}"], lat[f"busy_{kind}"]
            print(f"  {title:<18} idle p50 {pct(idle, 50):5.1f} p95 {pct(idle, 95):5.1f} | while training "
                  f"p50 {pct(busy, 50):5.1f} p95 {pct(busy, 95):5.1f} max {max(busy):5.1f} (n={len(busy)})"
                  f"  goal p95 < {GOAL_P95_MS:.0f}: {'met' if pct(busy, 95) < GOAL_P95_MS else 'NOT met'}")
    print(f"\nwall time {time.perf_counter() - t_wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
