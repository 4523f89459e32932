"""Shared fixtures: a tiny generated IDX dataset and the real MNIST subset."""

from __future__ import annotations

import contextlib
import gzip
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The suite's expectations were measured on TensorFlow, and one pytest process holds one Keras
# backend: pin "auto" to it here (and in every child). Tests of auto itself clear this.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_SUITE_BACKEND = os.environ["KERAS_BACKEND"]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Importing the test modules must leave the suite's backend alone (a helper module that set
    KERAS_BACKEND at import once sent every child process to JAX)."""
    if os.environ.get("KERAS_BACKEND") != _SUITE_BACKEND:
        raise pytest.UsageError(f"a test module changed KERAS_BACKEND at import: {os.environ.get('KERAS_BACKEND')!r}"
                                f" instead of {_SUITE_BACKEND!r}")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared/data/mnist-20k"

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def idx_bytes(array: np.ndarray, kind: Literal["images", "labels"]) -> bytes:
    """Uncompressed IDX encoding of uint8 images (N,28,28) or labels (N,)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = [2051, *array.shape] if kind == "images" else [2049, array.shape[0]]
    return b"".join(v.to_bytes(4, "big") for v in header) + array.tobytes()


def write_idx(
    path: str | os.PathLike[str],
    array: np.ndarray,
    kind: Literal["images", "labels"],
    gz: bool = True,
) -> Path:
    """Write a valid IDX file (gzipped if ``gz``; ``.gz`` is appended if missing)."""
    p = Path(path)
    data = idx_bytes(array, kind)
    if gz:
        if not p.name.endswith(".gz"):
            p = p.with_name(p.name + ".gz")
        p.write_bytes(gzip.compress(data, mtime=0))
    else:
        p.write_bytes(data)
    return p


def make_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 images and labels 0..9 covering every class."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


@pytest.fixture
def tiny_idx_dir(tmp_path: Path) -> Path:
    """A directory with a valid 64-train / 32-test dataset as .gz IDX files."""
    d = tmp_path / "tiny"
    d.mkdir()
    for split, n, seed in (("train", 64, 0), ("test", 32, 1)):
        images, labels = make_split(n, seed)
        image_name, label_name = IDX_FILES[split]
        write_idx(d / image_name, images, "images")
        write_idx(d / label_name, labels, "labels")
    return d


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real 20k-train MNIST subset ($MNIST_TUI_DATA or ../shared), else skip."""
    env = os.environ.get("MNIST_TUI_DATA")
    if env and Path(env).is_dir():
        return Path(env)
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    pytest.skip("real MNIST data not available (set MNIST_TUI_DATA)")


@pytest.fixture(autouse=True, scope="session")
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never read or write the real user's run store (~/.local/share/mnist-tui)."""
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("xdg-data"))


@contextlib.contextmanager
def paused_child(code: str, args: list[str], data_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """Run ``code`` (a trainer that prints SLEEPING and sleeps mid-run) in a child process.

    Yields once the child is asleep mid-run; on exit it is killed with SIGKILL, the crash the
    run store must survive.
    """
    env = {**os.environ, "MNIST_TUI_DATA": str(data_dir), "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "SLEEPING", (line, proc.stderr.read() if proc.stderr else "")
        yield proc
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
