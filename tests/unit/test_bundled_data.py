"""The bundled MNIST subset, the bounded network probe and describe_source.

Issue 10: on a fresh offline machine `mnist-tui` must train on the first try, and the Setup
screen must say which data a run will use before it starts. Nothing here touches the network:
the probe is aimed at a local socket that never answers, or at an unroutable address.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.data import sources
from mnist_tui.data.sources import (
    BUNDLED_SHA256,
    DATA_ENV,
    DataSource,
    NetworkProbe,
    describe_source,
    load_dataset,
    peek_train_count,
    verify_bundled,
)
from mnist_tui.errors import DatasetError
from tests.conftest import REPO_ROOT
from tests.network_helpers import FixedNetwork

# Class counts from the bundled README (and shared/data/mnist-20k's).
TRAIN_COUNTS = [1994, 2281, 1929, 2076, 1945, 1775, 1971, 2093, 1922, 2014]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
PROXY_VARS = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")


@pytest.fixture
def silent_server() -> Iterator[str]:
    """An HTTPS URL whose server accepts the TCP connection and then never says a word:
    what a stalled proxy or a half-dead network looks like to the probe."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)  # never accept(): the kernel completes the handshake, nobody answers the TLS hello
    yield f"https://127.0.0.1:{server.getsockname()[1]}/tensorflow/tf-keras-datasets/mnist.npz"
    server.close()


@pytest.fixture
def fresh_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty HOME and KERAS_HOME, no $MNIST_TUI_DATA, no proxy: a first-time user's machine."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KERAS_HOME", str(home / ".keras"))
    monkeypatch.delenv(DATA_ENV, raising=False)
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)

    def no_download(name: str) -> None:
        raise AssertionError(f"Keras download attempted for {name} although the network did not answer")

    monkeypatch.setattr(sources, "_keras_download", no_download)
    return home


def _offline(monkeypatch: pytest.MonkeyPatch, url: str, timeout: float = 0.5) -> NetworkProbe:
    probe = NetworkProbe(url, timeout=timeout)
    monkeypatch.setattr(sources, "_NETWORK", probe)
    return probe


def _tiny_npz(path: Path, n_train: int, n_test: int) -> Path:
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
             y_train=(np.arange(n_train) % 10).astype(np.uint8),
             x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
             y_test=(np.arange(n_test) % 10).astype(np.uint8))
    return path


# --------------------------------------------------------------------------- loading offline
def test_fresh_offline_machine_trains_on_the_bundled_subset(fresh_machine: Path, silent_server: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _offline(monkeypatch, silent_server)
    messages: list[str] = []
    start = time.perf_counter()
    ds = load_dataset("mnist", progress=messages.append)
    took = time.perf_counter() - start
    assert took < 3.0, f"offline lookup took {took:.1f}s"
    assert ds.x_train.shape == (20_000, 28, 28) and ds.x_test.shape == (10_000, 28, 28)
    assert ds.x_train.dtype == np.uint8 and ds.y_test.dtype == np.uint8
    assert np.bincount(ds.y_train, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(ds.y_test, minlength=10).tolist() == TEST_COUNTS
    assert ds.source == f"bundled MNIST 20k subset in {sources.BUNDLED_DIR}"
    assert messages == ["using the bundled 20k MNIST subset (offline: 127.0.0.1 did not answer)"]


def test_unroutable_download_host_does_not_hang(fresh_machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The brief's blackhole, 10.255.255.1: whatever this network does with it (time out, refuse, or
    an intercepting proxy that accepts and then fails TLS), the lookup ends in the bundled set fast."""
    _offline(monkeypatch, "https://10.255.255.1/tensorflow/tf-keras-datasets/mnist.npz")
    monkeypatch.setattr(sources, "_keras_download", lambda name: (_ for _ in ()).throw(OSError("unreachable")))
    start = time.perf_counter()
    ds = load_dataset("mnist")
    assert time.perf_counter() - start < 3.0
    assert len(ds.x_train) == 20_000 and ds.source.startswith("bundled")


def test_offline_lookup_in_a_fresh_process_imports_no_keras(tmp_path: Path, silent_server: str) -> None:
    code = (
        "import sys, time; from mnist_tui.data import sources; "
        f"sources._NETWORK = sources.NetworkProbe({silent_server!r}, timeout=0.5); "
        "t = time.perf_counter(); ds = sources.load_dataset('mnist'); t = time.perf_counter() - t; "
        "assert (len(ds.x_train), len(ds.x_test)) == (20000, 10000), ds.source; "
        "assert t < 3, t; "
        "assert not {'keras', 'tensorflow', 'jax'} & set(sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != DATA_ENV and k not in PROXY_VARS}
    env.update(HOME=str(tmp_path), KERAS_HOME=str(tmp_path / ".keras"), PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


def test_failed_download_falls_back_to_the_bundled_subset(fresh_machine: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The network answered the probe but the download broke (a proxy, a full disk): still trains."""
    monkeypatch.setattr(sources, "_NETWORK", FixedNetwork(online=True))

    def broken(name: str) -> None:
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(sources, "_keras_download", broken)
    messages: list[str] = []
    ds = load_dataset("mnist", progress=messages.append)
    assert len(ds.x_train) == 20_000
    assert messages[0].startswith("downloading MNIST via Keras")
    assert "the Keras download failed: ConnectionResetError" in messages[1]


def test_fashion_mnist_has_no_bundled_copy(fresh_machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "_NETWORK", FixedNetwork(online=False))
    with pytest.raises(DatasetError) as info:
        load_dataset("fashion-mnist")
    msg = str(info.value)
    assert "\n" not in msg and "No Fashion-MNIST data found" in msg
    assert "--data PATH" in msg and DATA_ENV in msg and "internet" in msg


# --------------------------------------------------------------------------- the probe
def test_probe_never_waits_longer_than_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Name resolution is not covered by socket timeouts: a probe stuck in it must not hold anyone up."""
    probe = NetworkProbe("https://example.invalid/x", timeout=0.3)
    monkeypatch.setattr(probe, "_ask", lambda: time.sleep(5))
    start = time.perf_counter()
    assert probe.answer(wait=False) is None
    assert time.perf_counter() - start < 0.1
    assert probe.answer(wait=True) is False
    assert time.perf_counter() - start < 1.0


def test_probe_answer_is_remembered(silent_server: str) -> None:
    probe = NetworkProbe(silent_server, timeout=0.3)
    assert probe.answer() is False
    start = time.perf_counter()
    assert probe.answer(wait=False) is False  # settled: no second probe within the TTL
    assert probe.answer() is False
    assert time.perf_counter() - start < 0.05


# --------------------------------------------------------------------------- checksums
def _bundled_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "mnist-20k"
    shutil.copytree(sources.BUNDLED_DIR, copy)
    for f in copy.iterdir():
        f.chmod(0o644)
    return copy


def test_the_shipped_files_match_their_checksums() -> None:
    verify_bundled()
    assert {p.name for p in sources.BUNDLED_DIR.iterdir()} == {*BUNDLED_SHA256, "README.md", "LICENSE"}
    readme = (sources.BUNDLED_DIR / "README.md").read_text()
    assert all(digest in readme for digest in BUNDLED_SHA256.values())
    assert "CC BY-SA 3.0" in (sources.BUNDLED_DIR / "LICENSE").read_text()


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "same data re-gzipped", "missing"])
def test_a_damaged_bundled_copy_is_one_clear_error(damage: str, fresh_machine: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    copy = _bundled_copy(tmp_path)
    victim = copy / "train-labels-idx1-ubyte.gz"
    data = victim.read_bytes()
    if damage == "flip a byte":
        victim.write_bytes(data[:5000] + bytes([data[5000] ^ 0xFF]) + data[5001:])
    elif damage == "truncate":
        victim.write_bytes(data[: len(data) // 2])
    elif damage == "same data re-gzipped":  # still valid IDX, still MNIST: but not what was shipped
        victim.write_bytes(gzip.compress(gzip.decompress(data), compresslevel=1, mtime=1))
    else:
        victim.unlink()
    monkeypatch.setattr(sources, "BUNDLED_DIR", copy)
    monkeypatch.setattr(sources, "_NETWORK", FixedNetwork(online=False))
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist")
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("the bundled MNIST subset is damaged: ")
    assert "train-labels-idx1-ubyte.gz" in msg and "reinstall mnist-tui" in msg
    assert ("no such file" in msg) if damage == "missing" else ("checksum mismatch" in msg)


def test_package_data_ships_every_bundled_file() -> None:
    """pyproject's package-data patterns cover the directory, so `pip install .` carries the data
    (checked by hand with `pip wheel` too: the wheel lists all six files)."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["mnist_tui.data"]
    package_dir = REPO_ROOT / "mnist_tui" / "data"
    shipped = {p for pattern in patterns for p in package_dir.glob(pattern)}
    assert shipped == set(sources.BUNDLED_DIR.iterdir())


# --------------------------------------------------------------------------- describe_source
def test_describe_source_in_each_case(fresh_machine: Path, tmp_path: Path, tiny_idx_dir: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "_NETWORK", FixedNetwork(online=False))

    # 1. --data PATH
    src = describe_source("mnist", tiny_idx_dir)
    assert (src.kind, src.n_train, src.n_test, src.problem) == ("path", 64, 32, "")
    assert src.label == f"MNIST, --data {tiny_idx_dir} (IDX files): 64 train / 32 test images"
    # 2. $MNIST_TUI_DATA
    npz = _tiny_npz(tmp_path / "env.npz", 1234, 56)
    monkeypatch.setenv(DATA_ENV, str(npz))
    src = describe_source("mnist", None)
    assert (src.kind, src.n_train, src.n_test, src.where) == ("env", 1234, 56, str(npz))
    assert src.label == f"MNIST, ${DATA_ENV} {npz} (.npz): 1,234 train / 56 test images"
    assert describe_source("mnist", tiny_idx_dir).kind == "path"  # --data beats the variable
    monkeypatch.delenv(DATA_ENV)
    # 5. the bundled subset (offline, nothing cached)
    src = describe_source("mnist")
    assert (src.kind, src.n_train, src.n_test) == ("bundled", 20_000, 10_000)
    assert src.label == "MNIST, bundled 20k subset (offline); the full 60k downloads when online"
    assert src.where == str(sources.BUNDLED_DIR)
    # 4. the Keras download (online, nothing cached)
    src = describe_source("mnist", online=True)
    assert (src.kind, src.n_train, src.n_test) == ("download", 60_000, 10_000)
    assert src.label == ("MNIST, full 60k downloads via Keras on start (not cached yet); "
                         "offline, the bundled 20k subset")
    # 3. the Keras cache
    cache = fresh_machine / ".keras" / "datasets"
    cache.mkdir(parents=True)
    _tiny_npz(cache / "mnist.npz", 300, 40)
    src = describe_source("mnist", online=True)
    assert (src.kind, src.n_train, src.n_test) == ("keras-cache", 300, 40)
    assert src.label == f"MNIST, Keras cache {cache / 'mnist.npz'} (.npz): 300 train / 40 test images"
    # and each one is what load_dataset then loads
    ds = load_dataset("mnist")
    assert (len(ds.x_train), len(ds.x_test)) == (src.n_train, src.n_test)


def test_describe_source_for_fashion_mnist(fresh_machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = describe_source("fashion-mnist", online=False)
    assert src.kind == "none" and src.problem.startswith("No Fashion-MNIST data found")
    assert src.label == ("Fashion-MNIST: no data (offline, nothing in the Keras cache): "
                         f"pass --data PATH or set ${DATA_ENV}")
    src = describe_source("fashion-mnist", online=True)
    assert (src.kind, src.n_train) == ("download", 60_000)
    assert src.label == "Fashion-MNIST, full 60k downloads via Keras on start (not cached yet)"


def test_describe_source_reports_problems_instead_of_raising(fresh_machine: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nowhere"
    src = describe_source("mnist", missing)
    assert src.kind == "path" and src.problem == f"{missing}: no such file or directory"
    monkeypatch.setenv(DATA_ENV, str(missing))
    src = describe_source("mnist")
    assert src.kind == "env" and src.problem == f"{DATA_ENV}={missing}: {missing}: no such file or directory"
    with pytest.raises(DatasetError) as info:  # the same words load_dataset then raises
        load_dataset("mnist")
    assert str(info.value) == src.problem
    monkeypatch.delenv(DATA_ENV)
    cache = fresh_machine / ".keras" / "datasets"
    cache.mkdir(parents=True)
    (cache / "mnist.npz").write_bytes(b"garbage")
    src = describe_source("mnist")
    assert src.kind == "keras-cache" and src.problem.startswith("Keras cache is broken (delete it to re-download)")
    assert describe_source("emnist").problem.startswith("unknown dataset 'emnist'")


def test_describe_source_never_waits_on_the_network(fresh_machine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the probe has no answer yet, MNIST says bundled-or-download at once, without waiting."""
    probe = _offline(monkeypatch, "https://example.invalid/x", timeout=2.0)
    monkeypatch.setattr(probe, "_ask", lambda: time.sleep(5))
    start = time.perf_counter()
    mnist, fashion = describe_source("mnist"), describe_source("fashion-mnist")
    assert time.perf_counter() - start < 0.2
    assert mnist.kind == "bundled" and "the full 60k downloads when online" in mnist.label
    assert fashion.kind == "download"


def test_steps_hint_count_is_describe_sources(fresh_machine: Path, tiny_idx_dir: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The form's steps/epoch hint (peek_train_count) counts what describe_source says a run loads."""
    for online in (False, True):
        monkeypatch.setattr(sources, "_NETWORK", FixedNetwork(online=online))
        for dataset in ("mnist", "fashion-mnist"):
            for path in (None, tiny_idx_dir):
                source: DataSource = describe_source(dataset, path)
                assert peek_train_count(dataset, path) == source.n_train
    monkeypatch.setattr(sources, "_NETWORK", FixedNetwork(online=False))
    assert peek_train_count("mnist") == 20_000
