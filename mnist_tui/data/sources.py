"""Where the data comes from: explicit path, environment variable, or Keras.

The order lets tests and offline users point at local files while first-time users
get a working download; nothing here imports Keras unless a download is needed,
because importing TensorFlow costs seconds at startup.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_tui.errors import DatasetError
from mnist_tui.fsguard import ARCHIVE_ERRORS, open_regular, open_zip, require_regular, stat_path, user_path

from .idx import find_idx_file, load_idx_dir, read_idx_header
from .npz import load_npz, validate_arrays

DATASETS: dict[str, tuple[str, ...]] = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion-mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
}
DATA_ENV = "MNIST_TUI_DATA"

_DISPLAY_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A validated train/test split; eq=False because arrays have no scalar ``==``."""

    x_train: np.ndarray  # uint8 (N, 28, 28)
    y_train: np.ndarray  # uint8 (N,)
    x_test: np.ndarray  # uint8 (M, 28, 28)
    y_test: np.ndarray  # uint8 (M,)
    name: str
    class_names: tuple[str, ...]
    source: str


def keras_cache_dir() -> Path:
    """Keras's dataset cache, computed without importing Keras."""
    home = os.environ.get("KERAS_HOME")
    base = Path(home) if home else Path.home() / ".keras"
    return base / "datasets"


def _keras_cache_path(name: str) -> Path:
    """The file (mnist) or directory (fashion-mnist) Keras caches a dataset in."""
    cache = keras_cache_dir()
    return cache / "mnist.npz" if name == "mnist" else cache / "fashion-mnist"


def _load_path(path: str | os.PathLike[str], origin: str = "") -> tuple[Arrays, str]:
    """Load a directory of IDX files or a .npz file; ``origin`` prefixes errors.

    The path is classified with one ``stat`` whose every failure (too long a name, a
    symlink loop, no permission) is the message, never a traceback.
    """
    p = user_path(path)
    try:
        mode = stat_path(p, DatasetError).st_mode
        if stat.S_ISDIR(mode):
            return load_idx_dir(p), f"IDX files in {os.path.realpath(p)}"
        if p.suffix.lower() == ".npz":
            return load_npz(p), f"npz {os.path.realpath(p)}"
        require_regular(p, mode, DatasetError)
        raise DatasetError(f"{p}: is a file, expected a directory of IDX files or a .npz file")
    except DatasetError as exc:
        if origin:
            raise DatasetError(f"{origin}: {exc}") from None
        raise


def _keras_download(name: str) -> Arrays:
    """Download via Keras (lazy import); tests monkeypatch this to stay offline."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras  # deliberately lazy: TensorFlow takes seconds to import

    module = keras.datasets.mnist if name == "mnist" else keras.datasets.fashion_mnist
    (x_train, y_train), (x_test, y_test) = module.load_data()
    return x_train, y_train, x_test, y_test


def _no_data_message(name: str) -> str:
    """The one-line 'how to get data' help shown when every source failed."""
    return (
        f"No {_DISPLAY_NAMES[name]} data found: pass --data PATH (a directory of IDX "
        f"files or a .npz file), set the {DATA_ENV} environment variable, or connect "
        f"to the internet so Keras can download it into {keras_cache_dir()}"
    )


def _load_keras(name: str, progress: Callable[[str], None] | None) -> tuple[Arrays, str]:
    """Use Keras's cache if present, else let Keras download."""
    cached = _keras_cache_path(name)
    if cached.exists():
        try:
            arrays, _ = _load_path(cached)
        except DatasetError as exc:
            raise DatasetError(f"Keras cache is broken (delete it to re-download): {exc}") from None
        return arrays, f"Keras cache {cached}"
    if progress is not None:
        progress(f"downloading {_DISPLAY_NAMES[name]} via Keras (first run only)…")
    try:
        raw = _keras_download(name)
    except Exception:  # any failure (offline, HTTP, bad cache) means "no data": give guidance
        raise DatasetError(_no_data_message(name)) from None
    arrays = validate_arrays(*raw, source=f"Keras download of {name}")
    return arrays, f"Keras download into {keras_cache_dir()}"


def load_dataset(
    name: str = "mnist",
    path: str | os.PathLike[str] | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> Dataset:
    """Load a dataset from ``path``, then ``$MNIST_TUI_DATA``, then Keras.

    An explicit or environment path that is broken is an error rather than a silent
    fall-through, so users never train on data they did not ask for.
    """
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    env_value = os.environ.get(DATA_ENV, "").strip()
    if path is not None and str(path) != "":
        arrays, source = _load_path(path)
    elif env_value:
        arrays, source = _load_path(env_value, origin=f"{DATA_ENV}={env_value}")
    else:
        arrays, source = _load_keras(name, progress)
    x_train, y_train, x_test, y_test = arrays
    return Dataset(
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        name=name,
        class_names=DATASETS[name],
        source=source,
    )


FULL_TRAIN_SIZE = 60_000  # MNIST and Fashion-MNIST


def peek_train_count(name: str = "mnist", path: str | os.PathLike[str] | None = None) -> int:
    """How many training images the data source holds, from the IDX header alone.

    Cheap enough to call as the user types (reads, or inflates, one header), so the form can
    show steps per epoch before any data is loaded. Unknown or unreadable sources (a FIFO,
    a path too long, anything) count as the full 60,000; nothing here can block or raise.
    """
    candidates = [path, os.environ.get(DATA_ENV, "").strip() or None]
    for raw in candidates:
        if raw is None or str(raw) == "":
            continue
        try:
            return _peek_count(user_path(raw))
        except DatasetError:
            return FULL_TRAIN_SIZE
    return FULL_TRAIN_SIZE


def _peek_count(p: Path) -> int:
    mode = stat_path(p, DatasetError).st_mode
    if stat.S_ISDIR(mode):
        return read_idx_header(find_idx_file(p, "train", "images"), "images")
    if stat.S_ISREG(mode) and p.suffix.lower() == ".npz":
        return _npz_train_count(p)
    return FULL_TRAIN_SIZE


def _npz_train_count(p: Path) -> int:
    """Rows of ``x_train`` from the .npy header inside the zip, without loading the array."""
    with open_regular(p, DatasetError) as fh, open_zip(fh, DatasetError, p, "an .npz archive") as zf:
        try:
            with zf.open("x_train.npy") as member:
                major, _ = np.lib.format.read_magic(member)
                read_header = (np.lib.format.read_array_header_1_0 if major == 1
                               else np.lib.format.read_array_header_2_0)
                shape, _, _ = read_header(member)
        except ARCHIVE_ERRORS:
            return FULL_TRAIN_SIZE
    return int(shape[0]) if shape else FULL_TRAIN_SIZE
