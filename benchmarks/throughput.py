"""Training throughput: plain Keras vs our headless trainer vs the real app.

Goal: training in the TUI reaches >= 0.97 of plain ``fit(verbose=0)``'s samples/s.

All in ONE process per preset, on the same data, alternating the variants (a, b, c, d, a, b,
...) after one untimed warm-up of each, so TensorFlow's import, data loading and slow load
drifts stay out of the comparison:

  a  plain ``build_model(cfg)`` + ``model.fit(x, y, verbose=0)``, a fresh model each run (like
     the trainer, so every variant includes tracing the train function); seconds around ``fit``.
  b  the same with ``verbose=1`` and ``sys.stdout`` pointed at /dev/null (Keras's progress bar
     on a non-terminal: its per-batch bookkeeping, one line per epoch).
  c  ``mnist_tui.training.trainer.train(cfg, ProgressPrinter(...), runs_dir=tmp)`` as
     ``mnist-tui train`` calls it: streaming callback, run recorder (metrics.csv, the model),
     the per-epoch test-set prediction. Seconds = ``RunFinished.train_seconds``.
  d  the real app, headless: ``benchmarks/tui_overhead.app_run`` (``make_app`` under
     ``run_test(size=(110, 34))``, Escape then ``s``, wait for the run). Seconds =
     ``RunFinished.train_seconds``.

samples/s = n_train x epochs / seconds. The medians are compared with (a).

Presets: mlp on the whole data set (``--epochs``, default 2), and cnn on ``--cnn-limit``
images (default 3000) for ``--cnn-epochs`` (default 1): a cnn epoch on 20k is ~25 s on 2
cores; ``--cnn-limit 0 --cnn-epochs 5`` is the full recipe, ``--no-cnn`` skips it. Variants c
and d predict the whole 10k test set after every epoch (validation + the viewer), a cost that
does not shrink with ``--limit``: on small limits it dominates their ratio.

Usage:  python benchmarks/throughput.py [--data DIR] [--epochs 2] [--repeats 3] [--cnn-limit 3000]
                                        [--cnn-epochs 1] [--no-cnn]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(1, str(HERE))

from mnist_tui.config import resolve_backend  # noqa: E402

# The default mode users get ("auto": jax when installed, else tensorflow); KERAS_BACKEND=... picks another.
os.environ["KERAS_BACKEND"] = resolve_backend("auto")

from mnist_tui.config import TrainConfig, preset_config  # noqa: E402
from mnist_tui.data import DATA_ENV, load_dataset, take_subset  # noqa: E402
from mnist_tui.errors import MnistTuiError  # noqa: E402
from mnist_tui.training.trainer import Prepared, prepare  # noqa: E402

DEFAULT_DATA = "/work/shared/data/mnist-20k"
GOAL = 0.97
LABELS = {
    "a": "plain fit(verbose=0)",
    "b": "plain fit(verbose=1) > /dev/null",
    "c": "headless trainer train() (CLI)",
    "d": "real app, headless",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help=f"IDX dir or .npz (default ${DATA_ENV}, else {DEFAULT_DATA})")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timed run (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per variant (default 3, min 3)")
    parser.add_argument("--mlp-limit", type=int, default=0, help="mlp on the first N images (default 0 = all)")
    parser.add_argument("--cnn-limit", type=int, default=3000, help="cnn on the first N images (0 = all; default 3000)")
    parser.add_argument("--cnn-epochs", type=int, default=1, help="epochs per timed cnn run (default 1)")
    parser.add_argument("--no-cnn", action="store_true", help="mlp only")
    args = parser.parse_args(argv)
    if args.repeats < 3 or args.epochs < 1 or args.cnn_epochs < 1:
        parser.error("--repeats must be >= 3 and --epochs/--cnn-epochs >= 1")
    return args


def plain_fit(cfg: TrainConfig, data: Prepared, verbose: int) -> float:
    import keras

    from mnist_tui.models.keras_models import build_model

    keras.utils.set_random_seed(cfg.seed)
    model = build_model(cfg)
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull if verbose else sys.stdout):
        start = time.perf_counter()
        model.fit(data.x_train, data.y_train, batch_size=cfg.batch_size, epochs=cfg.epochs, verbose=verbose,
                  shuffle=True)
        return time.perf_counter() - start


def headless(cfg: TrainConfig, runs_dir: str) -> float:
    from mnist_tui.cli import ProgressPrinter
    from mnist_tui.training.trainer import train

    with open(os.devnull, "w") as devnull:
        printer = ProgressPrinter(cfg, devnull, 0)  # not a TTY: one plain line per epoch, as in a log
        fin = train(cfg, printer, runs_dir=runs_dir)
        printer.close()
    if fin.status != "done" or fin.epochs_completed != cfg.epochs:
        raise RuntimeError(f"trainer run ended {fin.status} after {fin.epochs_completed} epochs: {fin.reason}")
    return fin.train_seconds


def in_app(cfg: TrainConfig, runs_dir: str) -> float:
    from tui_overhead import app_run

    seconds, done = asyncio.run(app_run(cfg, runs_dir))
    if done != cfg.epochs:
        raise RuntimeError(f"app run completed {done} of {cfg.epochs} epochs")
    return seconds


def bench_preset(cfg: TrainConfig, data_path: str, repeats: int, warm: str) -> dict[str, list[float]]:
    ds = take_subset(load_dataset(cfg.dataset, data_path), cfg.limit)
    data = prepare(cfg, ds)
    n_train = len(data.x_train)
    samples = n_train * cfg.epochs
    print(f"\n== {cfg.preset}: {n_train:,} train images, batch {cfg.batch_size}, "
          f"{math.ceil(n_train / cfg.batch_size)} steps/epoch, {cfg.epochs} epoch(s) per run; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    rates: dict[str, list[float]] = {k: [] for k in LABELS}
    with tempfile.TemporaryDirectory(prefix="mnist-tui-tput-") as tmp:
        runs_dir = str(Path(tmp) / "runs")
        runners = {
            "a": lambda: plain_fit(cfg, data, 0),
            "b": lambda: plain_fit(cfg, data, 1),
            "c": lambda: headless(cfg, runs_dir),
            "d": lambda: in_app(cfg, runs_dir),
        }
        # Every run builds and traces a fresh model, so a warm-up only has to pay the one-off
        # imports (TensorFlow; Textual and the app for d) once per process.
        print(f"warming up (untimed): one run of {', '.join(warm)} ...", flush=True)
        for key in warm:
            runners[key]()
        print(f"{'run':>3}  {'variant':<38} {'seconds':>8} {'samples/s':>10}")
        for i in range(1, repeats + 1):
            for key, run in runners.items():
                seconds = run()
                rates[key].append(samples / seconds)
                print(f"{i:>3}  {key + '  ' + LABELS[key]:<38} {seconds:>8.3f} {samples / seconds:>10,.0f}",
                      flush=True)
    return rates


def report(preset: str, rates: dict[str, list[float]]) -> bool:
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"\n  {preset:<40} {'median':>10} {'best':>10}  samples/s   vs a (median)  paired")
    for key in LABELS:
        paired = statistics.median(x / a for a, x in zip(rates["a"], rates[key], strict=True))
        print(f"  {key + '  ' + LABELS[key]:<40} {med[key]:>10,.0f} {max(rates[key]):>10,.0f}"
              f"  {'':9} {med[key] / med['a']:>6.3f}  {paired:>6.3f}")
    ratio = med["d"] / med["a"]
    ok = ratio >= GOAL
    print(f"{preset}: TUI/plain (d/a) {ratio:.3f}, headless/plain (c/a) {med['c'] / med['a']:.3f}, "
          f"verbose=1/plain (b/a) {med['b'] / med['a']:.3f};  goal d/a >= {GOAL}: {'PASS' if ok else 'NOT MET'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t_wall = time.perf_counter()
    data_path = args.data or os.environ.get(DATA_ENV) or DEFAULT_DATA
    configs = [preset_config("mlp").with_changes(epochs=args.epochs, data_path=data_path,
                                                 limit=args.mlp_limit or None)]
    if not args.no_cnn:
        configs.append(preset_config("cnn").with_changes(epochs=args.cnn_epochs, data_path=data_path,
                                                         limit=args.cnn_limit or None))
    print(f"data {data_path}; {args.repeats} alternating runs per variant; {os.cpu_count()} CPU(s)")
    results = {}
    try:
        for cfg in configs:
            cfg.validated()
            results[cfg.preset] = bench_preset(cfg, data_path, args.repeats, "ad" if not results else "a")
    except MnistTuiError as err:
        print(f"throughput.py: {err}", file=sys.stderr)
        return 1
    oks = [report(preset, rates) for preset, rates in results.items()]
    print(f"overall: {'PASS' if all(oks) else 'NOT MET'}")
    print(f"\nwall time {time.perf_counter() - t_wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
