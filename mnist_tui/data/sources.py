"""Where the data comes from: explicit path, environment variable, Keras, or the bundled subset.

The order lets tests and offline users point at local files, gives first-time users online
the full download, and still trains on a fresh offline machine: the package ships a genuine
20k MNIST subset as the last resort. Nothing here imports Keras unless a download is needed
(importing TensorFlow costs seconds), and nothing waits on the network for more than a short,
bounded probe.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
import urllib.parse
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from mnist_tui.errors import DatasetError
from mnist_tui.fsguard import (
    ARCHIVE_ERRORS,
    CHUNK,
    open_regular,
    open_zip,
    read_upto,
    require_regular,
    stat_path,
    user_path,
)

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


def local_source(name: str = "mnist", path: str | os.PathLike[str] | None = None) -> Path | None:
    """What ``load_dataset(name, path)`` would read from disk, without asking the network;
    None if it would try a download (or fall back to the bundled subset after one)."""
    if path is not None and str(path) != "":
        return user_path(path)
    env_value = os.environ.get(DATA_ENV, "").strip()
    if env_value:
        return user_path(env_value)
    cached = _keras_cache_path(name)
    return cached if cached.exists() else None


def source_stamp(path: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of a data file or of a directory's files: a copy
    loaded earlier stands for the data only while this is unchanged. Empty if unreadable."""
    try:
        if path.is_dir():
            entries = sorted(os.scandir(path), key=lambda e: e.name)
            return tuple((e.name, (st := e.stat()).st_size, st.st_mtime_ns) for e in entries)
        st = path.stat()
        return ((path.name, st.st_size, st.st_mtime_ns),)
    except (OSError, ValueError):
        return ()


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


# --------------------------------------------------------------------------- the network probe
# Keras downloads both datasets from here (keras/src/datasets/{mnist,fashion_mnist}.py).
DOWNLOAD_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
PROBE_TIMEOUT = 3.0  # seconds: an offline machine must not wait longer than this for "no"
PROBE_TTL = 30.0  # seconds an answer stays valid: the form asks as the user types


class NetworkProbe:
    """Would Keras's download work now? Asked at most once per ``ttl``, never for longer than ``timeout``.

    The probe is an HTTPS HEAD of the file Keras fetches, through the same proxy settings
    (``$https_proxy``) urllib gives Keras: a bare TCP connect is not enough, because an
    intercepting proxy or a captive portal accepts any connection and then fails (or stalls)
    the download. It runs in a daemon thread that the caller waits on for at most
    ``timeout``, because a socket timeout does not cover name resolution, which can hang
    for much longer on a machine with a dead DNS server.
    """

    def __init__(self, url: str = DOWNLOAD_URL, *, timeout: float = PROBE_TIMEOUT, ttl: float = PROBE_TTL) -> None:
        self.url, self.timeout, self.ttl = url, timeout, ttl
        self.host = urllib.parse.urlsplit(url).hostname or url
        self._lock = threading.Lock()
        self._answer: bool | None = None
        self._answered_at = 0.0
        self._thread: threading.Thread | None = None

    def _ask(self) -> None:
        import urllib.request  # ~30 ms, and only once something asks

        try:
            with urllib.request.urlopen(urllib.request.Request(self.url, method="HEAD"),
                                        timeout=self.timeout) as response:
                answer = 200 <= response.status < 400
        except Exception:  # DNS, refused, unreachable, timeout, TLS, HTTP errors: all mean "no download"
            answer = False
        with self._lock:
            self._answer, self._answered_at = answer, time.monotonic()

    def _fresh(self) -> bool:
        return self._answer is not None and time.monotonic() - self._answered_at < self.ttl

    def answer(self, *, wait: bool = True) -> bool | None:
        """True if the download URL answered; ``wait=False`` never blocks and gives None while unknown."""
        with self._lock:
            if self._fresh():
                return self._answer
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._ask, name="mnist-tui-net-probe", daemon=True)
                self._thread.start()
            thread = self._thread
        if not wait:
            return None
        thread.join(self.timeout + 0.25)
        with self._lock:
            return bool(self._answer) if self._fresh() else False


_NETWORK = NetworkProbe()  # tests replace it with one aimed at an unroutable address


def network_answers(*, wait: bool = True) -> bool | None:
    """Whether Keras could download now (bounded by ``PROBE_TIMEOUT``); None if ``wait=False`` and unknown."""
    return _NETWORK.answer(wait=wait)


# --------------------------------------------------------------------------- the bundled subset
BUNDLED_DIR = Path(__file__).resolve().parent / "bundled" / "mnist-20k"
# sha256 of each file as shipped (its README lists the md5s of the source distribution too).
BUNDLED_SHA256 = {
    "train-images-idx3-ubyte.gz": "974fbcbe6e3d03582f521c2a8e1170e0d408f51e7c601a8998015725a4415b8c",
    "train-labels-idx1-ubyte.gz": "50bb2628237e7393e3fe552642c9e87b41d59b27cacaed41786a2a65b91b0e84",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
BUNDLED_TRAIN, BUNDLED_TEST = 20_000, 10_000
BUNDLED_DATASET = "mnist"  # Fashion-MNIST has no bundled copy
_REINSTALL = "reinstall mnist-tui (pip install --force-reinstall mnist-tui), or pass --data PATH"


def bundled_available(name: str = "mnist") -> bool:
    """The package ships data for ``name`` (a repackaging may have dropped the directory)."""
    return name == BUNDLED_DATASET and os.path.isdir(BUNDLED_DIR)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open_regular(path, DatasetError, expected="an IDX file") as fh:
        while chunk := read_upto(fh, CHUNK, DatasetError, path):
            digest.update(chunk)
    return digest.hexdigest()


def verify_bundled(directory: Path | None = None) -> None:
    """Check every bundled file against its sha256, so a damaged install fails with one message
    instead of training on (or half-parsing) garbage."""
    d = BUNDLED_DIR if directory is None else directory
    for filename, expected in BUNDLED_SHA256.items():
        path = d / filename
        try:
            actual = _sha256(path)
        except DatasetError as exc:
            raise DatasetError(f"the bundled MNIST subset is damaged: {exc}; {_REINSTALL}") from None
        if actual != expected:
            raise DatasetError(f"the bundled MNIST subset is damaged: {path}: checksum mismatch "
                               f"(sha256 {actual[:12]}…, expected {expected[:12]}…); {_REINSTALL}")


def _load_bundled() -> tuple[Arrays, str]:
    verify_bundled()
    arrays = load_idx_dir(BUNDLED_DIR)
    return arrays, f"bundled MNIST {len(arrays[0]) // 1000}k subset in {BUNDLED_DIR}"


# --------------------------------------------------------------------------- Keras
def _keras_download(name: str) -> Arrays:
    """Download via Keras (lazy import); tests monkeypatch this to stay offline."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras  # deliberately lazy: TensorFlow takes seconds to import

    module = keras.datasets.mnist if name == "mnist" else keras.datasets.fashion_mnist
    (x_train, y_train), (x_test, y_test) = module.load_data()
    return x_train, y_train, x_test, y_test


def _no_data_message(name: str, why: str = "") -> str:
    """The one-line 'how to get data' help shown when every source failed."""
    return (
        f"No {_DISPLAY_NAMES[name]} data found: pass --data PATH (a directory of IDX "
        f"files or a .npz file), set the {DATA_ENV} environment variable, or connect "
        f"to the internet so Keras can download it into {keras_cache_dir()}" + (f" ({why})" if why else "")
    )


def _offline_reason() -> str:
    return f"offline: {_NETWORK.host} did not answer"


def _load_default(name: str, progress: Callable[[str], None] | None) -> tuple[Arrays, str]:
    """Keras's cache, else Keras's download if the network answers, else the bundled subset."""
    cached = _keras_cache_path(name)
    if cached.exists():
        try:
            arrays, _ = _load_path(cached)
        except DatasetError as exc:
            raise DatasetError(f"Keras cache is broken (delete it to re-download): {exc}") from None
        return arrays, f"Keras cache {cached}"
    why = _offline_reason()
    if _NETWORK.answer(wait=True):
        if progress is not None:
            progress(f"downloading {_DISPLAY_NAMES[name]} via Keras (first run only)…")
        try:
            raw = _keras_download(name)
        except Exception as exc:  # any failure (HTTP, proxy, disk) means "not from Keras": fall back
            why = f"the Keras download failed: {type(exc).__name__}"
        else:
            arrays = validate_arrays(*raw, source=f"Keras download of {name}")
            return arrays, f"Keras download into {keras_cache_dir()}"
    if bundled_available(name):
        if progress is not None:
            progress(f"using the bundled {BUNDLED_TRAIN // 1000}k MNIST subset ({why})")
        return _load_bundled()
    raise DatasetError(_no_data_message(name, why))


def load_dataset(
    name: str = "mnist",
    path: str | os.PathLike[str] | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> Dataset:
    """Load a dataset from ``path``, then ``$MNIST_TUI_DATA``, then Keras, then the bundled subset.

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
        arrays, source = _load_default(name, progress)
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


# --------------------------------------------------------------------------- describing, cheaply
FULL_TRAIN_SIZE = 60_000  # MNIST and Fashion-MNIST
FULL_TEST_SIZE = 10_000

SourceKind = Literal["path", "env", "keras-cache", "download", "bundled", "none"]


@dataclass(frozen=True)
class DataSource:
    """Which data a run would use, told before it starts so the Setup screen can say so.

    ``n_train``/``n_test`` are the image counts before ``--limit`` and the validation split;
    60,000/10,000 when they cannot be read (the run will then say what is wrong). ``problem``
    is set when loading is already known to fail.
    """

    kind: SourceKind
    label: str  # one line, e.g. "MNIST, bundled 20k subset (offline); the full 60k downloads when online"
    n_train: int
    n_test: int
    where: str  # the path read (or, for a download, the cache it goes into); "" when none
    problem: str = ""


def _npy_rows(zf: zipfile.ZipFile, member: str) -> int | None:
    """Rows of one .npy member from its header alone."""
    try:
        with zf.open(member) as fh:
            major, _ = np.lib.format.read_magic(fh)
            read_header = (np.lib.format.read_array_header_1_0 if major == 1
                           else np.lib.format.read_array_header_2_0)
            shape, _, _ = read_header(fh)
    except ARCHIVE_ERRORS:
        return None
    return int(shape[0]) if shape else None


def _npz_counts(p: Path) -> tuple[int, int]:
    """Rows of ``x_train`` and ``x_test`` from the .npy headers inside the zip, without loading them."""
    with open_regular(p, DatasetError) as fh, open_zip(fh, DatasetError, p, "an .npz archive") as zf:
        n_train, n_test = _npy_rows(zf, "x_train.npy"), _npy_rows(zf, "x_test.npy")
    return (FULL_TRAIN_SIZE if n_train is None else n_train), (FULL_TEST_SIZE if n_test is None else n_test)


def _peek_counts(p: Path) -> tuple[str, int, int]:
    """(format, train images, test images) from headers only; DatasetError if unreadable.

    Everything goes through fsguard, so a FIFO, a device or a symlink loop is an error at once.
    """
    mode = stat_path(p, DatasetError).st_mode
    if stat.S_ISDIR(mode):
        n_train = read_idx_header(find_idx_file(p, "train", "images"), "images")
        n_test = read_idx_header(find_idx_file(p, "test", "images"), "images")
        return "IDX files", n_train, n_test
    if stat.S_ISREG(mode) and p.suffix.lower() == ".npz":
        return ".npz", *_npz_counts(p)
    require_regular(p, mode, DatasetError)
    raise DatasetError(f"{p}: is a file, expected a directory of IDX files or a .npz file")


def _counts_text(n_train: int, n_test: int) -> str:
    return f"{n_train:,} train / {n_test:,} test images"


def _describe_path(display: str, raw: str | os.PathLike[str], kind: SourceKind, origin: str,
                   prefix: str = "") -> DataSource:
    """Describe a path source; ``prefix`` starts a problem as loading would (``$MNIST_TUI_DATA=…: ``)."""
    p = user_path(raw)
    try:
        fmt, n_train, n_test = _peek_counts(p)
    except DatasetError as exc:
        problem = f"{prefix}{exc}"
        return DataSource(kind, f"{display}, {origin}: {exc}", FULL_TRAIN_SIZE, FULL_TEST_SIZE, str(p),
                          problem=problem)
    return DataSource(kind, f"{display}, {origin} {p} ({fmt}): {_counts_text(n_train, n_test)}",
                      n_train, n_test, str(p))


def describe_source(dataset: str = "mnist", data_path: str | os.PathLike[str] | None = None, *,
                    online: bool | None = None) -> DataSource:
    """Which data ``load_dataset(dataset, data_path)`` would use, and how big it is.

    Reads headers only, imports no Keras and never waits on the network: ``online=None`` uses
    the probe's last answer and, while there is none, starts one in the background and
    assumes offline when MNIST's bundled copy covers that case (the label says the full set
    downloads when online), or a download otherwise. Call again a few seconds later (or
    pass ``online=network_answers()`` from a worker thread) for the settled answer.
    """
    if dataset not in DATASETS:
        problem = f"unknown dataset {dataset!r}; known datasets: {', '.join(DATASETS)}"
        return DataSource("none", problem, FULL_TRAIN_SIZE, FULL_TEST_SIZE, "", problem=problem)
    display = _DISPLAY_NAMES[dataset]
    env_value = os.environ.get(DATA_ENV, "").strip()
    if data_path is not None and str(data_path) != "":
        return _describe_path(display, data_path, "path", "--data")
    if env_value:
        return _describe_path(display, env_value, "env", f"${DATA_ENV}", prefix=f"{DATA_ENV}={env_value}: ")
    cached = _keras_cache_path(dataset)
    if cached.exists():
        source = _describe_path(display, cached, "keras-cache", "Keras cache")
        if source.problem:
            problem = f"Keras cache is broken (delete it to re-download): {source.problem}"
            return DataSource("keras-cache", f"{display}, {problem}", source.n_train, source.n_test, str(cached),
                              problem=problem)
        return source
    if online is None:
        online = _NETWORK.answer(wait=False)
    bundled = bundled_available(dataset)
    if online or (online is None and not bundled):
        offline = f"; offline, the bundled {BUNDLED_TRAIN // 1000}k subset" if bundled else ""
        return DataSource("download", f"{display}, full {FULL_TRAIN_SIZE // 1000}k downloads via Keras on start "
                          f"(not cached yet){offline}", FULL_TRAIN_SIZE, FULL_TEST_SIZE, str(cached))
    if bundled:
        try:
            n_train = read_idx_header(BUNDLED_DIR / "train-images-idx3-ubyte.gz", "images")
            n_test = read_idx_header(BUNDLED_DIR / "t10k-images-idx3-ubyte.gz", "images")
        except DatasetError as exc:
            problem = f"the bundled MNIST subset is damaged: {exc}; {_REINSTALL}"
            return DataSource("bundled", f"{display}, {problem}", BUNDLED_TRAIN, BUNDLED_TEST, str(BUNDLED_DIR),
                              problem=problem)
        return DataSource("bundled", f"{display}, bundled {n_train // 1000}k subset (offline); the full "
                          f"{FULL_TRAIN_SIZE // 1000}k downloads when online", n_train, n_test, str(BUNDLED_DIR))
    problem = _no_data_message(dataset, _offline_reason())
    return DataSource("none", f"{display}: no data (offline, nothing in the Keras cache): pass --data PATH or set "
                      f"${DATA_ENV}", FULL_TRAIN_SIZE, FULL_TEST_SIZE, "", problem=problem)


def peek_train_count(name: str = "mnist", path: str | os.PathLike[str] | None = None) -> int:
    """How many training images a run would see before ``--limit``: ``describe_source(...).n_train``.

    Cheap enough to call as the user types (reads, or inflates, one or two headers), so the form
    can show steps per epoch before any data is loaded. Unknown or unreadable sources (a FIFO,
    a path too long, anything) count as the full 60,000; nothing here can block or raise.
    """
    try:
        return describe_source(name, path).n_train
    except DatasetError:  # describe_source reports problems in its result; this is belt and braces
        return FULL_TRAIN_SIZE
