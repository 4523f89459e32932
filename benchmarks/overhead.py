"""How much does streaming every batch cost? Plain ``model.fit`` vs ``fit`` + StreamingCallback.

Runs in ONE process on one data set and one compiled model, alternating the two variants
(A, B, A, B, ...) after an untimed warm-up of each, so TensorFlow start-up, tracing and
data loading are out of the comparison and slow drifts (thermal, other load) hit both
variants alike.

  A  ``model.fit(x, y, verbose=0)``
  B  the same call with the trainer's StreamingCallback: a BatchEnd event per batch, the
     stop/pause checks, and the events fed to a real RunRecorder (a deque append per batch;
     its writer thread appends the log lines 20 times a second and fsyncs at epoch ends).
     The epoch hook is a no-op: the trainer's per-epoch test-set prediction is a feature,
     not per-batch overhead.

Usage:  python benchmarks/overhead.py [--preset mlp] [--data DIR] [--epochs 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mnist_tui.config import resolve_backend

# The default mode users get ("auto": jax when installed, else tensorflow); KERAS_BACKEND=... picks another.
os.environ["KERAS_BACKEND"] = resolve_backend("auto")

from mnist_tui.config import PRESETS, preset_config
from mnist_tui.data import DATA_ENV, load_dataset, take_subset
from mnist_tui.errors import MnistTuiError
from mnist_tui.training.trainer import prepare

GOAL = 0.97


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    keras_presets = [name for name in PRESETS if name != "scratch"]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=keras_presets, default="mlp")
    parser.add_argument("--data", default=None, metavar="PATH",
                        help=f"IDX directory or .npz (default: ${DATA_ENV}, else Keras's cache)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timed run (default 2)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per variant (default 5, min 3)")
    parser.add_argument("--batch-size", type=int, default=None, help="override the preset's batch size")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    args = parser.parse_args(argv)
    if args.repeats < 3 or args.epochs < 1:
        parser.error("--repeats must be at least 3 and --epochs at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = replace(preset_config(args.preset), epochs=args.epochs, limit=args.limit)
    if args.batch_size:
        cfg = replace(cfg, batch_size=args.batch_size)
    try:
        ds = take_subset(load_dataset(cfg.dataset, args.data), cfg.limit)
    except MnistTuiError as err:
        print(f"overhead.py: {err}", file=sys.stderr)
        return 1
    data = prepare(cfg, ds)
    n = len(data.x_train)
    steps = math.ceil(n / cfg.batch_size)

    import keras

    from mnist_tui.events import BatchEnd
    from mnist_tui.models.keras_models import build_model
    from mnist_tui.runs.recorder import RunRecorder
    from mnist_tui.runs.rundir import create_run_dir
    from mnist_tui.training.callbacks import StreamingCallback
    from mnist_tui.training.control import BatchMeter, TrainClock, TrainControl

    keras.utils.set_random_seed(cfg.seed)
    model = build_model(cfg)  # one model: the train function is traced once, in the warm-up
    scratch_dir = tempfile.TemporaryDirectory(prefix="mnist-tui-bench-")
    batch_events: list[int] = []

    def fit(streaming: bool) -> float:
        callbacks = []
        recorder = None
        if streaming:
            recorder = RunRecorder(create_run_dir(scratch_dir.name, cfg), cfg)
            clock = TrainClock()

            def emit(event: object) -> None:
                recorder(event)  # type: ignore[arg-type]
                if isinstance(event, BatchEnd):
                    batch_events.append(event.step)

            callbacks = [StreamingCallback(emit, TrainControl(), BatchMeter(n, cfg.batch_size, clock), clock,
                                           cfg.epochs, lambda *_: (math.nan, math.nan))]
        start = time.perf_counter()
        model.fit(data.x_train, data.y_train, batch_size=cfg.batch_size, epochs=cfg.epochs, verbose=0,
                  callbacks=callbacks, shuffle=True)
        seconds = time.perf_counter() - start
        if recorder is not None:
            recorder.close()
        return seconds

    print(f"preset {cfg.preset}: {n:,} train images ({ds.source}), batch {cfg.batch_size},"
          f" {steps} steps/epoch, {cfg.epochs} epoch(s) per run; keras {keras.__version__} on {keras.config.backend()}"
          f" ({keras.backend.backend()} backend), {os.cpu_count()} CPU(s)")
    print("warming up (untimed): one run of each variant ...", flush=True)
    fit(False)
    fit(True)
    if len(batch_events) != steps * cfg.epochs:
        print(f"overhead.py: expected {steps * cfg.epochs} BatchEnd events, got {len(batch_events)}",
              file=sys.stderr)
        return 1

    samples = n * cfg.epochs
    rates: dict[str, list[float]] = {"A": [], "B": []}
    labels = {"A": "plain fit(verbose=0)", "B": "fit + StreamingCallback"}
    print()
    print(f"{'run':>3}  {'variant':<28} {'seconds':>8} {'samples/s':>11}")
    print(f"{'---':>3}  {'-' * 28} {'-' * 8} {'-' * 11}")
    for i in range(1, args.repeats + 1):
        for key in ("A", "B"):
            seconds = fit(key == "B")
            rates[key].append(samples / seconds)
            print(f"{i:>3}  {key + '  ' + labels[key]:<28} {seconds:>8.3f} {samples / seconds:>11,.0f}", flush=True)
    scratch_dir.cleanup()

    med = {k: statistics.median(v) for k, v in rates.items()}
    best = {k: max(v) for k, v in rates.items()}
    ratio = med["B"] / med["A"]
    paired = statistics.median(b / a for a, b in zip(rates["A"], rates["B"], strict=True))
    per_batch_us = (1 / med["B"] - 1 / med["A"]) * cfg.batch_size * 1e6
    print()
    print(f"{'':<31} {'median':>11} {'best':>11}   samples/s")
    for key in ("A", "B"):
        print(f"{key + '  ' + labels[key]:<31} {med[key]:>11,.0f} {best[key]:>11,.0f}")
    print()
    print(f"ratio B/A (median samples/s): {ratio:.3f}   goal >= {GOAL}: {'met' if ratio >= GOAL else 'NOT met'}")
    print(f"  cross-checks: median of paired run ratios {paired:.3f}, best/best {best['B'] / best['A']:.3f}")
    print(f"streaming cost per batch: {per_batch_us:+.0f} µs (median-based; negative = within noise)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
