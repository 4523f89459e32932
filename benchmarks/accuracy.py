"""Do the presets reach what the plain Keras tutorial code reaches, with the same seed?

Goal: each preset's headless run is within 0.5 percentage points of the tutorial code's test
accuracy on the same data with the same seed.

For each preset, in ONE process (so both sides share TensorFlow's threads and versions):

  tutorial  the tutorial recipe written out plainly below: IDX files read with gzip + NumPy,
            ``keras.utils.set_random_seed(seed)``, a ``keras.Sequential`` as in the README's
            presets table, ``compile``, ``fit(verbose=0)`` with the preset's batch size and
            epochs, ``evaluate`` on the test set. (cnn also passes ``validation_data`` like its
            tutorial; it changes no weights.)
  ours      ``mnist_tui.training.trainer.train(preset_config(p).with_changes(data_path=...))``,
            the function the CLI and the app call (no run directory). It also predicts the
            test set every epoch; Keras shuffles with the same seed, so results should agree
            to float noise or exactly.

Usage:  python benchmarks/accuracy.py [--data DIR] [--presets mlp,mlp-small] [--with-cnn] [--repeats 1]
        cnn takes ~2.5 min per run on 2 cores, hence opt-in.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mnist_tui.config import resolve_backend

# The default mode users get ("auto": jax when installed, else tensorflow); KERAS_BACKEND=... picks another.
os.environ["KERAS_BACKEND"] = resolve_backend("auto")

DEFAULT_DATA = str(Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-20k")  # ../shared beside the repo
DATA_ENV = "MNIST_TUI_DATA"
GOAL_PP = 0.5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help=f"IDX directory (default ${DATA_ENV}, else {DEFAULT_DATA})")
    parser.add_argument("--presets", default="mlp,mlp-small", help="comma-separated (default mlp,mlp-small)")
    parser.add_argument("--with-cnn", action="store_true", help="also cnn (~2.5 min per run on 2 cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="alternating (tutorial, ours) pairs per preset")
    args = parser.parse_args(argv)
    args.preset_list = [p.strip() for p in args.presets.split(",") if p.strip()]
    if args.with_cnn and "cnn" not in args.preset_list:
        args.preset_list.append("cnn")
    bad = [p for p in args.preset_list if p not in ("mlp", "mlp-small", "cnn")]
    if bad or args.repeats < 1:
        parser.error(f"unknown preset(s) {bad} (choose from mlp, mlp-small, cnn); --repeats >= 1")
    return args


# ------------------------------------------------------------------ the tutorial, written out
def read_idx(path: Path) -> np.ndarray:
    """An IDX file (plain or .gz) as a uint8 array: magic 0x0000_08_nd, nd big-endian dims, data."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_idx_dir(directory: Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    def get(stem: str) -> np.ndarray:
        plain = directory / stem
        return read_idx(plain if plain.exists() else directory / (stem + ".gz"))

    return ((get("train-images-idx3-ubyte"), get("train-labels-idx1-ubyte")),
            (get("t10k-images-idx3-ubyte"), get("t10k-labels-idx1-ubyte")))


def tutorial(preset: str, data_dir: Path, seed: int) -> tuple[float, float]:
    """(test accuracy, fit seconds) of the plain tutorial code for ``preset``."""
    import keras
    from keras import layers

    (x_train, y_train), (x_test, y_test) = load_idx_dir(data_dir)
    keras.utils.set_random_seed(seed)
    if preset == "mlp":  # Chollet, Deep Learning with Python, ch. 2
        x_train = x_train.reshape((len(x_train), 28 * 28)).astype("float32") / 255
        x_test = x_test.reshape((len(x_test), 28 * 28)).astype("float32") / 255
        y_train, y_test = keras.utils.to_categorical(y_train, 10), keras.utils.to_categorical(y_test, 10)
        model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(512, activation="relu"),
                                  layers.Dense(10, activation="softmax")])
        model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
        fit_kwargs: dict = {"epochs": 5, "batch_size": 128}
    elif preset == "mlp-small":
        x_train, x_test = x_train.astype("float32") / 255, x_test.astype("float32") / 255
        y_train, y_test = keras.utils.to_categorical(y_train, 10), keras.utils.to_categorical(y_test, 10)
        model = keras.Sequential([keras.Input(shape=(28, 28)), layers.Flatten(),
                                  layers.Dense(100, activation="relu"), layers.Dense(10, activation="softmax")])
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        fit_kwargs = {"epochs": 10, "batch_size": 100}
    else:  # cnn
        x_train = x_train.reshape((len(x_train), 28, 28, 1)).astype("float32") / 255
        x_test = x_test.reshape((len(x_test), 28, 28, 1)).astype("float32") / 255
        model = keras.Sequential([
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, (5, 5), strides=1, padding="same", activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2), strides=2),
            layers.Conv2D(64, (2, 2), strides=1, padding="same", activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2), strides=2),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(1000, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        fit_kwargs = {"epochs": 5, "batch_size": 32, "validation_data": (x_test, y_test)}
    start = time.perf_counter()
    model.fit(x_train, y_train, verbose=0, **fit_kwargs)
    seconds = time.perf_counter() - start
    _, acc = model.evaluate(x_test, y_test, verbose=0)
    return float(acc), seconds


# ------------------------------------------------------------------ ours
def ours(preset: str, data_dir: Path, seed: int) -> tuple[float, float]:
    from mnist_tui.config import preset_config
    from mnist_tui.training.trainer import train

    cfg = preset_config(preset).with_changes(data_path=str(data_dir), seed=seed)
    fin = train(cfg)
    if fin.status != "done":
        raise RuntimeError(f"{preset}: our run ended {fin.status}: {fin.reason}")
    return fin.test_accuracy, fin.train_seconds


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t_wall = time.perf_counter()
    data_dir = Path(args.data or os.environ.get(DATA_ENV) or DEFAULT_DATA)
    if not data_dir.is_dir():
        print(f"accuracy.py: {data_dir} is not a directory of IDX files (use --data or ${DATA_ENV})",
              file=sys.stderr)
        return 2
    (x_train, _), (x_test, _) = load_idx_dir(data_dir)
    import keras

    print(f"data {data_dir}: {len(x_train):,} train / {len(x_test):,} test; seed {args.seed}; keras "
          f"{keras.__version__} on {keras.config.backend()}; {os.cpu_count()} CPU(s), "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"\n{'run':>3}  {'preset':<10} {'variant':<28} {'test acc':>9} {'fit s':>7}")
    results: dict[str, dict[str, list[float]]] = {}
    for preset in args.preset_list:
        results[preset] = {"tutorial": [], "ours": []}
        for i in range(1, args.repeats + 1):
            for key, fn, label in (("tutorial", tutorial, "plain Keras tutorial code"),
                                   ("ours", ours, "mnist_tui trainer.train()")):
                acc, seconds = fn(preset, data_dir, args.seed)
                results[preset][key].append(acc)
                print(f"{i:>3}  {preset:<10} {label:<28} {acc * 100:>8.2f}% {seconds:>7.1f}", flush=True)

    print()
    all_ok = True
    for preset, res in results.items():
        tut, our = statistics.median(res["tutorial"]), statistics.median(res["ours"])
        diff = (our - tut) * 100
        ok = abs(diff) <= GOAL_PP
        all_ok &= ok
        print(f"{preset}: ours {our * 100:.2f}% vs tutorial {tut * 100:.2f}% = {diff:+.2f} pp "
              f"(ratio {our / tut:.4f});  goal within ±{GOAL_PP} pp: {'PASS' if ok else 'NOT MET'}")
    print(f"overall: {'PASS' if all_ok else 'NOT MET'}")
    print(f"\nwall time {time.perf_counter() - t_wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
