"""The accelerator path, checked on a machine that has a GPU; one line and exit 0 on one that has none.

Users train on remote GPU boxes. With a GPU, for each Keras preset, one epoch (on the first
``--limit`` images, so the whole check stays under 5 minutes on one GPU):

  app on GPU   ``mnist-tui train --backend auto`` as a user runs it: it must pick a backend that
               sees the GPU, and the trainer must name a GPU as the device it trains on (it asks
               the framework, in the trainer process: the device really used, not a guess)
  app on CPU   the same with every GPU hidden (``CUDA_VISIBLE_DEVICES=`` …): what the GPU buys
  plain Keras  the plain script ``mnist-tui code`` prints for the recipe, on the same backend and
               GPU, its ``fit`` call timed, the device it ran on printed by the framework itself

It prints samples/s of each, the GPU's speed-up over the CPU run, and the app's throughput
ratio to plain Keras on the same GPU. Exit 1 when a GPU is present but a run did not use it.

Usage: python benchmarks/gpu_check.py [--data DIR] [--presets mlp,mlp-small,cnn] [--limit 20000]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = str(REPO.parent / "shared" / "data" / "mnist-20k")  # ../shared beside the repo
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mnist_tui import devices  # noqa: E402  (after the path: run from anywhere)
from mnist_tui.config import preset_config  # noqa: E402

ON = re.compile(r"; on (.+)$", re.M)  # the trainer's first line: "…; on TensorFlow · GPU 0: NVIDIA A100"
DONE = re.compile(r"done: test accuracy ([0-9.]+) .* in ([0-9.]+)s")
IMAGES = re.compile(r"([0-9,]+) train / ")
HIDE = {"CUDA_VISIBLE_DEVICES": "", "HIP_VISIBLE_DEVICES": "", "ROCR_VISIBLE_DEVICES": ""}
# Appended to the plain script: the device the framework put the model's variables on.
DEVICE_PROBE = {
    "jax": "import jax; print('DEVICE', model.trainable_variables[0].value.devices().pop().platform)",
    "tensorflow": "print('DEVICE', model.trainable_variables[0].value.device)",
    "torch": "print('DEVICE', model.trainable_variables[0].value.device)",
}


def gpu_named(where: str) -> bool:
    low = where.lower()
    return any(word in low for word in ("gpu", "cuda", "rocm"))


def env(hide_gpu: bool = False) -> dict[str, str]:
    out = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    out.pop("KERAS_BACKEND", None)
    return out | HIDE if hide_gpu else out


def app_run(preset: str, data: str, limit: int, hide_gpu: bool) -> tuple[float, str]:
    """(samples/s, the device the trainer names) of one epoch of ``mnist-tui train``."""
    proc = subprocess.run([sys.executable, "-m", "mnist_tui", "train", "--model", preset, "--data", data,
                           "--limit", str(limit), "--epochs", "1", "--backend", "auto", "--no-save"],
                          capture_output=True, text=True, env=env(hide_gpu), cwd=REPO, timeout=900,
                          stdin=subprocess.DEVNULL)
    done, images, on = DONE.search(proc.stdout), IMAGES.search(proc.stdout), ON.search(proc.stdout)
    if proc.returncode != 0 or done is None or images is None:
        raise RuntimeError(f"{preset}: mnist-tui train failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
    return int(images.group(1).replace(",", "")) / float(done.group(2)), on.group(1).strip() if on else "?"


def plain_run(preset: str, data: str, limit: int, backend: str) -> tuple[float, str]:
    """(samples/s, the device the framework reports) of the plain Keras script, one epoch."""
    from speed import FIT_SECONDS, images_in, plain_script

    script = plain_script(preset, data, limit, 0, epochs=1, backend=backend) + DEVICE_PROBE[backend] + "\n"
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(script)
    try:
        run = subprocess.run([sys.executable, f.name], capture_output=True, text=True, env=env(), timeout=900,
                             stdin=subprocess.DEVNULL)
    finally:
        os.unlink(f.name)
    secs, device = FIT_SECONDS.search(run.stdout), re.search(r"^DEVICE (.+)$", run.stdout, re.M)
    if run.returncode != 0 or secs is None:
        raise RuntimeError(f"{preset}: the plain Keras script failed: {run.stderr.strip()[-300:]}")
    return min(limit, images_in(data)) / float(secs.group(1)), device.group(1).strip() if device else "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("MNIST_TUI_DATA", SHARED),
                        help="IDX directory or .npz (default: $MNIST_TUI_DATA, else ../shared/data/mnist-20k)")
    parser.add_argument("--presets", default="mlp,mlp-small,cnn")
    parser.add_argument("--limit", type=int, default=20000, help="train on the first N images (one epoch)")
    args = parser.parse_args()
    accelerator = devices.probe_accelerator()
    if accelerator is None:
        print("gpu_check.py: no GPU on this machine (no NVIDIA or ROCm device found): nothing to check, exit 0")
        return 0
    name = ", ".join(accelerator.names) or accelerator.kind
    capable = devices.accelerator_backends(accelerator)
    if not capable:
        print(f"gpu_check.py: a GPU ({name}) but no installed backend can use it "
              "(pip install 'jax[cuda12]' or 'tensorflow[and-cuda]'): NOT MET")
        return 1
    presets = [p for p in args.presets.split(",") if p]
    for preset in presets:
        preset_config(preset)  # a clear error for a name that is no preset
    if not Path(args.data).exists():
        print(f"gpu_check.py: no data at {args.data} (give --data DIR or set $MNIST_TUI_DATA)", file=sys.stderr)
        return 2
    backend = devices.auto_backend(devices.installed_backends(), accelerator)
    print(f"GPU: {name} (found by {accelerator.found_by}); backends that can use it: {', '.join(sorted(capable))};"
          f" auto picks {backend}; one epoch on {args.limit:,} images", flush=True)
    print(f"{'preset':<10} {'GPU app':>9} {'CPU app':>9} {'plain GPU':>10} {'GPU/CPU':>8} {'app/plain':>10}  device")
    failures = []
    for preset in presets:
        gpu_rate, gpu_where = app_run(preset, args.data, args.limit, hide_gpu=False)
        cpu_rate, _ = app_run(preset, args.data, args.limit, hide_gpu=True)
        plain_rate, plain_where = plain_run(preset, args.data, args.limit, backend)
        print(f"{preset:<10} {gpu_rate:>9,.0f} {cpu_rate:>9,.0f} {plain_rate:>10,.0f} {gpu_rate / cpu_rate:>8.2f}"
              f" {gpu_rate / plain_rate:>10.2f}  app: {gpu_where}; plain: {plain_where}", flush=True)
        if not gpu_named(gpu_where):
            failures.append(f"{preset}: the app trained on {gpu_where}")
        if not gpu_named(plain_where):
            failures.append(f"{preset}: plain Keras ran on {plain_where}")
    if failures:
        print("NOT MET: " + "; ".join(failures))
        return 1
    print("every run trained on the GPU: PASS")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, subprocess.SubprocessError) as err:  # a run that failed: one line, no traceback
        print(f"gpu_check.py: {err}", file=sys.stderr)
        sys.exit(1)
