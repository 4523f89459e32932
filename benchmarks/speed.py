"""Every Keras preset in every mode tried, against plain TensorFlow ``fit`` of the same recipe.

Issue 14's goal: the default mode (``--backend auto``) trains each preset's exact recipe
(layers, optimizer, loss, batch size, epochs) at ≥ 3× (mlp, mlp-small) and ≥ 2× (cnn) the
samples/s of plain TensorFlow ``fit(validation_data=test)``, at the same test accuracy
(within 0.5 pp, mean over seeds), every batch still streamed.

Modes, each a fresh process on the same data and seed (a Keras backend is fixed per process):

  plain-tf   the baseline: the plain Keras script ``mnist-tui code`` prints for the recipe (the
             seed tutorial code: ``model.fit(..., validation_data=(x_test, y_test))``), on
             TensorFlow, its ``fit`` call timed
  tf         our headless ``mnist-tui train --backend tensorflow`` (Keras ``fit``, every batch
             streamed, the test set predicted per epoch)
  jax-fit    ``mnist-tui train --backend jax`` with ``MNIST_TUI_STEPS=fit`` (Keras ``fit`` on JAX)
  auto       ``mnist-tui train`` as a user runs it: ``--backend auto`` (JAX when installed, then
             the multi-step loop of ``mnist_tui.training.fastloop``)

For each: samples/s (training images × epochs / training seconds: the plain script's ``fit``
call, the trainer's own training clock, so process start and imports count for neither), the
ratio to plain-tf measured in this run, test accuracy (mean over ``--seeds``), and GFLOP/s
(3 × the forward pass's multiply-adds × 2 per sample) against the machine's FP32 peak, measured
here as the best of a few large float32 matmuls (NumPy's BLAS on all cores). Seeds run in the
outer loop and the modes alternate inside it, so a load spike hits every mode alike.

The last line checks that ``auto`` is the fastest mode that holds accuracy (at least plain-tf's
mean − 0.5 pp; higher is fine) for every preset measured: exit 1 if not.

Usage: python benchmarks/speed.py [--data DIR] [--presets mlp,mlp-small,cnn] [--seeds 0,1,2]
                                  [--cnn-limit 4000] [--limit N] [--modes plain-tf,tf,jax-fit,auto]
Quick: python benchmarks/speed.py --seeds 0
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = str(REPO.parent / "shared" / "data" / "mnist-20k")  # ../shared beside the repo
sys.path.insert(0, str(REPO))

from mnist_tui.config import preset_config  # noqa: E402  (after the path: run from anywhere)
from mnist_tui.models.spec import summary  # noqa: E402

MODES = ("plain-tf", "tf", "jax-fit", "auto")
DONE = re.compile(r"done: test accuracy ([0-9.]+) .* in ([0-9.]+)s")
IMAGES = re.compile(r"([0-9,]+) train / ")
PLAIN_ACC = re.compile(r"test accuracy ([0-9.]+)")
FIT_SECONDS = re.compile(r"FIT_SECONDS ([0-9.]+)")
ACCURACY_SLACK = 0.005  # 0.5 pp
GOALS = {"mlp": 3.0, "mlp-small": 3.0, "cnn": 2.0}


@dataclass
class Tally:
    """One preset × mode over its seeds."""

    accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    samples: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return sum(self.samples) / sum(self.seconds)

    @property
    def acc(self) -> float:
        return sum(self.accuracy) / len(self.accuracy)


def env_for(mode: str) -> dict[str, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    env.pop("KERAS_BACKEND", None)
    env.pop("MNIST_TUI_STEPS", None)
    if mode == "jax-fit":
        env["MNIST_TUI_STEPS"] = "fit"
    return env


def flags(preset: str, data: str, limit: int | None, seed: int) -> list[str]:
    out = ["--model", preset, "--data", data, "--seed", str(seed)]
    return out + (["--limit", str(limit)] if limit else [])


def plain_script(preset: str, data: str, limit: int | None, seed: int, *, epochs: int | None = None,
                 backend: str = "tensorflow") -> str:
    """``mnist-tui code``'s plain Keras script for the recipe, with its ``fit`` call timed."""
    more = ["--epochs", str(epochs)] if epochs else []
    proc = subprocess.run([sys.executable, "-m", "mnist_tui", "code", *flags(preset, data, limit, seed), *more,
                           "--backend", backend], capture_output=True, text=True, env=env_for("plain-tf"),
                          cwd=REPO, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"mnist-tui code failed: {proc.stderr.strip()[-300:]}")
    lines = []
    for line in proc.stdout.splitlines():
        if line.startswith("model.fit("):
            lines.append("import time as _time; _t0 = _time.perf_counter()")
            lines.append(line)
            lines.append("print(f'FIT_SECONDS {_time.perf_counter() - _t0:.3f}', flush=True)")
        else:
            lines.append(line)
    script = "\n".join(lines) + "\n"
    if "FIT_SECONDS" not in script:
        raise RuntimeError("mnist-tui code printed no model.fit( line to time")
    return script


def run_once(preset: str, mode: str, data: str, limit: int | None, seed: int) -> tuple[float, float, int]:
    """(test accuracy, training seconds, training samples) of one run in a fresh process."""
    cfg = preset_config(preset)
    if mode == "plain-tf":
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(plain_script(preset, data, limit, seed))
        try:
            proc = subprocess.run([sys.executable, f.name], capture_output=True, text=True, env=env_for(mode),
                                  timeout=3600, stdin=subprocess.DEVNULL)
        finally:
            os.unlink(f.name)
        acc, secs = PLAIN_ACC.findall(proc.stdout), FIT_SECONDS.search(proc.stdout)
        if proc.returncode != 0 or not acc or secs is None:
            raise RuntimeError(f"{preset}/{mode} failed: {proc.stderr.strip()[-300:]}")
        n = min(limit, images_in(data)) if limit else images_in(data)
        return float(acc[-1]), float(secs.group(1)), n * cfg.epochs
    backend = "tensorflow" if mode == "tf" else "jax" if mode == "jax-fit" else "auto"
    proc = subprocess.run([sys.executable, "-m", "mnist_tui", "train", *flags(preset, data, limit, seed),
                           "--backend", backend, "--no-save"], capture_output=True, text=True, env=env_for(mode),
                          cwd=REPO, timeout=3600, stdin=subprocess.DEVNULL)
    done, images = DONE.search(proc.stdout), IMAGES.search(proc.stdout)
    if proc.returncode != 0 or done is None or images is None:
        raise RuntimeError(f"{preset}/{mode} failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
    return float(done.group(1)), float(done.group(2)), int(images.group(1).replace(",", "")) * cfg.epochs


_IMAGES: dict[str, int] = {}


def images_in(data: str) -> int:
    """Training images in ``data`` (read as the app reads it), for the plain script's count."""
    if data not in _IMAGES:
        from mnist_tui.data import load_dataset

        _IMAGES[data] = len(load_dataset("mnist", data).x_train)
    return _IMAGES[data]


def train_flops_per_sample(preset: str) -> float:
    """3 × the forward pass's FLOPs (2 per multiply-add): the forward, and the two gradients."""
    macs = 0
    for row in summary(preset_config(preset)):
        if row.params:
            units = row.output_shape[-1]
            spatial = int(np.prod(row.output_shape[:-1])) if len(row.output_shape) > 1 else 1
            macs += (row.params - units) * spatial
    return 3 * 2 * macs


def matmul_peak(n: int = 4096, repeats: int = 5) -> float:
    """GFLOP/s of the best of ``repeats`` float32 n×n matmuls: the FP32 peak within reach."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b  # warm-up: threads, pages
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("MNIST_TUI_DATA", SHARED),
                        help="IDX directory or .npz (default: $MNIST_TUI_DATA, else ../shared/data/mnist-20k)")
    parser.add_argument("--presets", default="mlp,mlp-small,cnn")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds; accuracy is the mean over them")
    parser.add_argument("--cnn-limit", type=int, default=4000, help="train the cnn on the first N images")
    parser.add_argument("--limit", type=int, default=None, help="train the mlps on the first N images (default all)")
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds: comma-separated integers, not {args.seeds!r}")
    presets = [p for p in args.presets.split(",") if p]
    modes = [m for m in args.modes.split(",") if m]
    for name, known, given in (("--presets", GOALS, presets), ("--modes", MODES, modes)):
        bad = [x for x in given if x not in known]
        if bad or not given:
            parser.error(f"{name}: {', '.join(bad) or 'none'} (choose from {', '.join(known)})")
    if "plain-tf" not in modes:
        parser.error("--modes: plain-tf is the baseline every ratio is against")
    if not Path(args.data).exists():
        print(f"speed.py: no data at {args.data} (give --data DIR or set $MNIST_TUI_DATA)", file=sys.stderr)
        return 2
    if importlib.util.find_spec("jax") is None:
        modes = [m for m in modes if m != "jax-fit"]
        print("JAX is not installed: no jax-fit mode; auto resolves to TensorFlow")
    peak = matmul_peak()
    load = os.getloadavg()[0]
    print(f"FP32 peak (best 4096² float32 matmul, NumPy BLAS): {peak:,.0f} GFLOP/s · load {load:.2f} · "
          f"{os.cpu_count()} cores · data {args.data} · seeds {seeds} · cnn on {args.cnn_limit:,} images", flush=True)
    tallies = {(p, m): Tally() for p in presets for m in modes}
    for seed in seeds:
        for preset in presets:
            limit = args.cnn_limit if preset == "cnn" else args.limit
            for mode in modes:
                acc, secs, samples = run_once(preset, mode, args.data, limit, seed)
                t = tallies[(preset, mode)]
                t.accuracy.append(acc)
                t.seconds.append(secs)
                t.samples.append(samples)
                print(f"  seed {seed} {preset:<9} {mode:<8} {samples / secs:>9,.0f} samples/s  acc {acc:.4f}"
                      f"  ({secs:.1f} s)", flush=True)
    print(f"\n{'preset':<10} {'mode':<9} {'samples/s':>10} {'× plain':>8} {'acc':>7} {'Δ pp':>6} {'GFLOP/s':>8} "
          f"{'% peak':>7}")
    fastest: dict[str, str] = {}
    goals: list[str] = []
    for preset in presets:
        base = tallies[(preset, "plain-tf")]
        flops = train_flops_per_sample(preset)
        for mode in modes:
            t = tallies[(preset, mode)]
            gflops = t.rate * flops / 1e9
            print(f"{preset:<10} {mode:<9} {t.rate:>10,.0f} {t.rate / base.rate:>8.2f} {t.acc:>7.2%} "
                  f"{100 * (t.acc - base.acc):>+6.2f} {gflops:>8.1f} {100 * gflops / peak:>6.1f}%")
        holding = [m for m in modes if tallies[(preset, m)].acc >= base.acc - ACCURACY_SLACK]
        fastest[preset] = max(holding, key=lambda m: tallies[(preset, m)].rate)
        if "auto" in modes:
            auto = tallies[(preset, "auto")]
            ratio = auto.rate / base.rate
            ok = ratio >= GOALS[preset] and auto.acc >= base.acc - ACCURACY_SLACK
            goals.append(f"{preset} {ratio:.2f}× (goal ≥ {GOALS[preset]:.1f}×) {'MET' if ok else 'NOT MET'}")
    if goals:
        print("issue-14 goals, auto vs plain-tf: " + "; ".join(goals))
    agree = "auto" in modes and all(m == "auto" for m in fastest.values())
    print("fastest mode holding accuracy (≥ plain-tf − 0.5 pp): "
          + ", ".join(f"{p}: {m}" for p, m in fastest.items())
          + (" — auto is the fastest everywhere: PASS" if agree else " — auto is NOT the fastest everywhere: FAIL"))
    return 0 if agree else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, subprocess.SubprocessError) as err:  # a run that failed: one line, no traceback
        print(f"speed.py: {err}", file=sys.stderr)
        sys.exit(1)
