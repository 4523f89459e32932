"""What does the Network tab's per-epoch record cost a run? The same config trained with and
without it, alternating, each run a fresh ``mnist-tui train`` process.

  A  ``MNIST_TUI_NETWORK_RECORD=0``: no initial weights, no network records (as before)
  B  the default: ``checkpoint-initial.npz`` and the epoch-0 record before the first step,
     then a record at every epoch end (histograms, update sizes, first-layer units or
     filters, dead units on the whole test set), computed in the recorder's checkpoint
     thread from the snapshot the trainer already makes

Throughput is the run's own: training images × epochs / ``train_seconds`` from its
summary.json (the trainer's clock: the fit, the per-epoch test predictions and whatever the
background threads take from it; not the process start or data loading). Fresh processes, so
each variant pays its own imports and tracing alike; the runs alternate (A, B, A, B, …) so
slow drifts of a shared machine hit both. Also prints the record's size per epoch.

Usage:  python benchmarks/network_cost.py [--preset mlp] [--data DIR] [--epochs 3] [--repeats 3]
                                          [--backend auto] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_tui.config import PRESETS  # noqa: E402
from mnist_tui.data import DATA_ENV  # noqa: E402

GOAL = 0.98  # B's throughput at least 98 % of A's
DEFAULT_DATA = str(ROOT.parent / "shared" / "data" / "mnist-20k")  # ../shared beside the repo


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=list(PRESETS), default="mlp")
    parser.add_argument("--data", default=None, metavar="PATH",
                        help=f"IDX directory or .npz (default: ${DATA_ENV}, else ../shared/data/mnist-20k)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (default 3)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per variant (default 3)")
    parser.add_argument("--backend", default="auto", help="--backend for the Keras presets (default auto)")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    args = parser.parse_args(argv)
    if args.repeats < 2 or args.epochs < 1:
        parser.error("--repeats must be at least 2 and --epochs at least 1")
    return args


def train_once(args: argparse.Namespace, data: str, out: Path, record: bool) -> tuple[float, Path]:
    """One fresh ``mnist-tui train`` process; returns (samples/s, run directory)."""
    cmd = [sys.executable, "-m", "mnist_tui", "train", "--model", args.preset, "--epochs", str(args.epochs),
           "--data", data, "--out", str(out)]
    if args.preset != "scratch":
        cmd += ["--backend", args.backend]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3",
           "MNIST_TUI_NETWORK_RECORD": "1" if record else "0"}
    before = set(out.iterdir()) if out.exists() else set()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    (run,) = set(out.iterdir()) - before
    summary = json.loads((run / "summary.json").read_text())
    n_train = summary["dataset"]["n_train"]
    return n_train * summary["epochs_completed"] / summary["timings"]["train_seconds"], run


def record_cost(run: Path, repeats: int = 5) -> tuple[float, float]:
    """(CPU ms of one epoch's record, median epoch seconds) for the run in ``run``: the record
    computed again from its checkpoint, the way the recorder computes it, timed by CPU."""
    import numpy as np

    from mnist_tui.models import network_record as nr

    with np.load(run / "checkpoint.npz") as npz:
        arrays = {k: npz[k] for k in npz.files if not k.startswith("o")}
    with np.load(run / "checkpoint-initial.npz") as npz:
        previous = nr.kernels({k: npz[k] for k in npz.files})  # (the size of the sums is what costs)
    with np.load(run / "test-set.npz") as npz:
        scaled = nr.scaled_images(npz["x_test"])
    epoch = json.loads(str(arrays["meta"]))["epoch"]
    before = nr.read_record(run / f"network/epoch-{epoch - 1:04d}.npz")  # its witnesses, as the recorder has them
    witnesses = before.get("witness") if before is not None else None
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        nr.record_bytes(nr.network_record(arrays, scaled, previous, witnesses))
        times.append(time.process_time() - t0)
    epochs = json.loads((run / "summary.json").read_text())["epochs"]
    return statistics.median(times) * 1000, statistics.median(e["seconds"] for e in epochs)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = args.data or os.environ.get(DATA_ENV) or DEFAULT_DATA
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"preset {args.preset}, {args.epochs} epoch(s) per run, {args.repeats} runs per variant, data {data};"
          f" {os.cpu_count()} CPU(s), load average {load:.2f}", flush=True)
    rates: dict[str, list[float]] = {"A": [], "B": []}
    labels = {"A": "without the network record", "B": "with it (the default)"}
    sizes: list[int] = []
    cost_ms, epoch_s = float("nan"), float("nan")
    with tempfile.TemporaryDirectory(prefix="mnist-tui-netcost-") as tmp:
        out = Path(tmp)
        print(f"\n{'run':>3}  {'variant':<32} {'samples/s':>10} {'wall s':>7}")
        for i in range(1, args.repeats + 1):
            for key in ("A", "B"):
                t0 = time.perf_counter()
                rate, run = train_once(args, data, out, record=key == "B")
                rates[key].append(rate)
                print(f"{i:>3}  {key + '  ' + labels[key]:<32} {rate:>10,.0f} {time.perf_counter() - t0:>7.1f}",
                      flush=True)
                network = run / "network"
                if key == "B":
                    sizes = sorted(f.stat().st_size for f in network.iterdir() if f.name != "epoch-0000.npz")
                    initial = (run / "checkpoint-initial.npz").stat().st_size
                elif network.exists() and any(network.iterdir()):
                    print("network_cost.py: variant A wrote network records", file=sys.stderr)
                    return 1
        cost_ms, epoch_s = record_cost(run)  # the last B run's, before its directory goes
    med = {k: statistics.median(v) for k, v in rates.items()}
    ratio = med["B"] / med["A"]
    paired = statistics.median(b / a for a, b in zip(rates["A"], rates["B"], strict=True))
    print(f"\nmedian samples/s: A {med['A']:,.0f}, B {med['B']:,.0f}")
    print(f"record per epoch: {statistics.median(sizes) / 1024:.1f} KiB (network/epoch-NNNN.npz); "
          f"initial weights once: {initial / 1024:.0f} KiB")
    print(f"ratio B/A (median samples/s): {ratio:.3f}; median of paired ratios {paired:.3f}")
    cores = os.cpu_count() or 1
    share = cost_ms / 1000 / epoch_s
    print(f"the record's own CPU, measured again on the last run's checkpoint: {cost_ms:.0f} ms per epoch, against "
          f"{epoch_s:.1f} s epochs: {share:.2%} of one core's epoch, {share / cores:.2%} of the machine's (what it "
          "can take from training at most; the A/B ratio above is noisier on a shared box)")
    print(f"{'PASS' if ratio >= GOAL else 'NOT MET'}: goal B/A >= {GOAL}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
