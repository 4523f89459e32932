"""Peak memory of headless training on a full 60k-image data set.

Goal: peak RSS of ``mnist-tui train --model mlp`` on 60k samples < 1.5 GB.

Each measurement is a fresh child process whose peak resident set size comes from
``os.wait4`` (the kernel's ``ru_maxrss`` for exactly that child, in KiB on Linux), so nothing
of this script's own memory is counted. Children, alternating:

  base     ``python -c "import keras"``: what TensorFlow + Keras cost before any data (the floor
           for every Keras preset)
  mlp      ``python -m mnist_tui train --model mlp --dataset fashion-mnist --data DIR --epochs 1 --out TMP``
  scratch  the same with ``--model scratch`` (NumPy only, no TensorFlow)

Data: Fashion-MNIST (60k train / 10k test) from Debian's ``dataset-fashion-mnist`` package,
``/usr/share/datasets/fashion-mnist``, or ``--data DIR``.

Usage:  python benchmarks/memory.py [--data DIR] [--repeats 1] [--epochs 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
GOAL_BYTES = 1.5e9
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help=f"Fashion-MNIST IDX directory (default {DEFAULT_DATA})")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of (base, mlp, scratch) (default 1)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per training run (default 1)")
    parser.add_argument("--no-scratch", action="store_true", help="skip the scratch preset")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.epochs < 1:
        parser.error("--repeats and --epochs must be >= 1")
    return args


def have_data(path: str) -> bool:
    p = Path(path)
    return all((p / f).exists() or (p / (f + ".gz")).exists() for f in FILES)


def peak_rss(cmd: list[str], env: dict[str, str]) -> tuple[int, float, str]:
    """(peak RSS in bytes, wall seconds, last output line) of one child process."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode(errors="replace").strip()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{text[-2000:]}")
    last = text.splitlines()[-2 if "run saved" in text else -1] if text else ""
    return usage.ru_maxrss * 1024, seconds, last


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not have_data(args.data):
        print(f"memory.py: no Fashion-MNIST IDX files in {args.data}.\n"
              "  Install them with:  sudo apt-get install dataset-fashion-mnist\n"
              "  (Debian/Ubuntu; puts them in /usr/share/datasets/fashion-mnist), or pass --data DIR.",
              file=sys.stderr)
        return 2
    t_wall = time.perf_counter()
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="mnist-tui-mem-") as tmp:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", XDG_DATA_HOME=str(Path(tmp) / "xdg"))
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env.pop("MNIST_TUI_DATA", None)

        def train_cmd(preset: str) -> list[str]:
            return [py, "-m", "mnist_tui", "train", "--model", preset, "--dataset", "fashion-mnist",
                    "--data", args.data, "--epochs", str(args.epochs), "--out", str(Path(tmp) / "runs")]

        commands = {"base": [py, "-c", "import keras"], "mlp": train_cmd("mlp")}
        if not args.no_scratch:
            commands["scratch"] = train_cmd("scratch")
        labels = {"base": 'python -c "import keras" (baseline)', "mlp": "mnist-tui train --model mlp",
                  "scratch": "mnist-tui train --model scratch"}
        print(f"Fashion-MNIST from {args.data}, {args.epochs} epoch(s) per run; {os.cpu_count()} CPU(s), "
              f"load average {os.getloadavg()[0]:.2f}")
        print(f"\n{'run':>3}  {'child':<40} {'peak RSS':>10} {'seconds':>8}  last line")
        peaks: dict[str, list[int]] = {k: [] for k in commands}
        for i in range(1, args.repeats + 1):
            for key, cmd in commands.items():
                rss, seconds, last = peak_rss(cmd, env)
                peaks[key].append(rss)
                last = "" if key == "base" else last[:70]  # the baseline prints only TensorFlow's log noise
                print(f"{i:>3}  {labels[key]:<40} {rss / 1e6:>7.0f} MB {seconds:>8.1f}  {last}", flush=True)

    med = {k: statistics.median(v) for k, v in peaks.items()}
    print()
    print(f"  {'peak RSS (median)':<40} {'MB':>8}   vs baseline")
    for key in commands:
        ratio = "" if key == "base" else f"×{med[key] / med['base']:.2f} ({(med[key] - med['base']) / 1e6:+.0f} MB)"
        print(f"  {labels[key]:<40} {med[key] / 1e6:>8.0f}   {ratio}")
    print()
    print(f"mlp on 60k: peak RSS {med['mlp'] / 1e9:.2f} GB = ×{med['mlp'] / med['base']:.2f} import keras "
          f"({med['base'] / 1e9:.2f} GB);  goal < {GOAL_BYTES / 1e9:.1f} GB: "
          f"{'PASS' if med['mlp'] < GOAL_BYTES else 'NOT MET'}")
    if "scratch" in med:
        print(f"scratch on 60k: peak RSS {med['scratch'] / 1e9:.2f} GB = ×{med['scratch'] / med['base']:.2f} "
              f"import keras (no TensorFlow in that process)")
    print(f"\nwall time {time.perf_counter() - t_wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
