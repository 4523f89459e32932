"""Each preset in each execution mode vs plain TensorFlow: time and accuracy.

Modes: tensorflow (plain), tensorflow + --jit on (XLA), jax, torch — the latter two only when
installed. Every run is the real headless CLI (`python -m mnist_tui train ... --no-save`) in a
fresh process (a Keras backend is fixed per process), on the same data and seed; figures are
ratios against the plain-TensorFlow run of the same preset measured in this invocation.

Usage: python benchmarks/modes.py [--data DIR] [--presets mlp,mlp-small] [--with-cnn] [--limit N]
                                  [--seeds 0,1,2]

The default (``--backend auto``) is checked at the end: it must pick the fastest mode that
reaches at least plain TensorFlow's accuracy (−0.5 pp) for every preset measured; exit 1 if not.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

SHARED = str(Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-20k")  # ../shared beside the repo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DONE = re.compile(r"done: test accuracy ([0-9.]+) .* in ([0-9.]+)s")


def run(preset: str, mode: str, data: str, limit: int | None, seeds: list[int]) -> tuple[float, float, float]:
    """Mean (test accuracy, training seconds, wall seconds) over one CLI run per seed."""
    runs = [run_once(preset, mode, data, limit, seed) for seed in seeds]
    return tuple(sum(r[i] for r in runs) / len(runs) for i in range(3))  # type: ignore[return-value]


def run_once(preset: str, mode: str, data: str, limit: int | None, seed: int) -> tuple[float, float, float]:
    args = [sys.executable, "-m", "mnist_tui", "train", "--model", preset, "--data", data, "--no-save",
            "--seed", str(seed)]
    if limit:
        args += ["--limit", str(limit)]
    if mode == "tensorflow+jit":
        args += ["--backend", "tensorflow", "--jit", "on"]
    else:
        args += ["--backend", mode]
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - t0
    match = DONE.search(proc.stdout)
    if proc.returncode != 0 or not match:
        raise RuntimeError(f"{preset}/{mode} failed: {proc.stderr.strip()[-300:]}")
    return float(match.group(1)), float(match.group(2)), wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("MNIST_TUI_DATA", SHARED))
    parser.add_argument("--presets", default="mlp,mlp-small")
    parser.add_argument("--with-cnn", action="store_true", help="also cnn (about 2.5 min a run on 2 cores)")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds; figures are means over them")
    args = parser.parse_args()
    seeds = [int(x) for x in args.seeds.split(",")]
    presets = args.presets.split(",") + (["cnn"] if args.with_cnn else [])
    modes = ["tensorflow", "tensorflow+jit"]
    modes += [m for m in ("jax", "torch") if importlib.util.find_spec(m) is not None]
    print(f"modes: {', '.join(modes)} (jax/torch only when installed); data {args.data}; "
          f"means over seeds {seeds}", flush=True)
    print(f"{'preset':<10} {'mode':<16} {'acc':>7} {'Δ pp':>6} {'train s':>8} {'×speed':>7} {'wall s':>7} {'×wall':>6}")
    best: dict[str, str] = {}
    for preset in presets:
        base_acc, base_train, base_wall = run(preset, "tensorflow", args.data, args.limit, seeds)
        rows = [("tensorflow", base_acc, base_train, base_wall)]
        for mode in modes[1:]:
            rows.append((mode, *run(preset, mode, args.data, args.limit, seeds)))
        for mode, acc, train_s, wall in rows:
            print(f"{preset:<10} {mode:<16} {acc:>7.2%} {100 * (acc - base_acc):>+6.2f} {train_s:>8.1f}"
                  f" {base_train / train_s:>7.2f} {wall:>7.1f} {base_wall / wall:>6.2f}", flush=True)
        same = [r for r in rows if r[1] >= base_acc - 0.005]  # "reaches": higher is fine
        best[preset] = min(same, key=lambda r: r[2])[0]
    print("fastest mode reaching the same accuracy (at least plain TF − 0.5 pp): "
          + ", ".join(f"{p}: {m}" for p, m in best.items()))
    # What the default (--backend auto, no --jit) picks here, and whether that is the fastest.
    from mnist_tui.config import resolve_backend

    env = os.environ.pop("KERAS_BACKEND", None)
    auto = resolve_backend("auto")
    if env is not None:
        os.environ["KERAS_BACKEND"] = env
    agree = all(m == auto for m in best.values())
    print(f"default --backend auto picks {auto}: "
          + ("the fastest for every preset measured: PASS" if agree else "NOT the fastest everywhere"))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
