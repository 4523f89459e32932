"""Tests for the data layer: sources, IDX/npz parsing, validation and preprocessing."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mnist_tui.data import (
    DATA_ENV,
    DATASETS,
    Dataset,
    load_dataset,
    load_npz,
    normalise,
    one_hot,
    parse_idx,
    read_idx_file,
    shape_for,
    sources,
    split_validation,
    take_subset,
)
from mnist_tui.errors import DatasetError
from tests.conftest import REPO_ROOT, idx_bytes, make_split, write_idx
from tests.network_helpers import FixedNetwork

TRAIN_COUNTS = [1994, 2281, 1929, 2076, 1945, 1775, 1971, 2093, 1922, 2014]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No env var, an empty KERAS_HOME, no network, and a Keras download that must not run."""
    monkeypatch.delenv(DATA_ENV, raising=False)
    home = tmp_path / "keras_home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(sources, "_NETWORK", FixedNetwork(online=False))

    def no_download(name: str) -> tuple[np.ndarray, ...]:
        raise AssertionError(f"Keras download attempted for {name}")

    monkeypatch.setattr(sources, "_keras_download", no_download)
    return home


def save_npz(path: Path, **overrides: object) -> Path:
    """Write a Keras-layout npz from the tiny generator, with optional overrides."""
    x_train, y_train = make_split(40, 2)
    x_test, y_test = make_split(20, 3)
    arrays: dict[str, object] = {
        "x_train": x_train,
        "y_train": y_train,
        "x_test": x_test,
        "y_test": y_test,
    }
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


# --- real data --------------------------------------------------------------------


def check_real(ds: Dataset) -> None:
    """Assertions shared by every way of loading the 20k subset."""
    assert ds.x_train.shape == (20000, 28, 28)
    assert ds.x_test.shape == (10000, 28, 28)
    assert ds.y_train.shape == (20000,)
    assert ds.y_test.shape == (10000,)
    for arr in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
        assert arr.dtype == np.uint8
    assert np.bincount(ds.y_train, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(ds.y_test, minlength=10).tolist() == TEST_COUNTS
    assert ds.name == "mnist"
    assert ds.class_names == tuple("0123456789")
    assert 0 < ds.x_train.mean() < 255


def test_real_data_explicit_path(real_data_dir: Path, isolated: Path) -> None:
    ds = load_dataset(path=real_data_dir)
    check_real(ds)
    assert ds.source.startswith("IDX files in ")
    assert str(real_data_dir.resolve()) in ds.source


def test_real_data_via_env(real_data_dir: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_ENV, str(real_data_dir))
    check_real(load_dataset())


def test_explicit_path_beats_env(
    tiny_idx_dir: Path, isolated: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "does-not-exist"))
    ds = load_dataset(path=tiny_idx_dir)
    assert len(ds.x_train) == 64


def test_real_data_npz_round_trip(real_data_dir: Path, isolated: Path, tmp_path: Path) -> None:
    ds = load_dataset(path=real_data_dir)
    npz = tmp_path / "mnist.npz"
    np.savez_compressed(npz, x_train=ds.x_train, y_train=ds.y_train, x_test=ds.x_test, y_test=ds.y_test)
    again = load_dataset(path=npz)
    check_real(again)
    assert again.source == f"npz {npz.resolve()}"
    np.testing.assert_array_equal(again.x_train, ds.x_train)
    np.testing.assert_array_equal(again.y_test, ds.y_test)


# --- tiny data, layouts, sources --------------------------------------------------


def test_tiny_dir_loads(tiny_idx_dir: Path, isolated: Path) -> None:
    ds = load_dataset(path=str(tiny_idx_dir))
    assert ds.x_train.shape == (64, 28, 28)
    assert ds.x_test.shape == (32, 28, 28)
    x_train, y_train = make_split(64, 0)
    np.testing.assert_array_equal(ds.x_train, x_train)
    np.testing.assert_array_equal(ds.y_train, y_train)


@pytest.mark.parametrize("dotted", [False, True])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_name_variants(tmp_path: Path, isolated: Path, dotted: bool, gz: bool) -> None:
    for base, n, seed in (
        ("train-images-idx3-ubyte", 12, 0),
        ("t10k-images-idx3-ubyte", 6, 1),
    ):
        images, labels = make_split(n, seed)
        name = base.replace("-idx", ".idx") if dotted else base
        write_idx(tmp_path / name, images, "images", gz=gz)
        label_name = name.replace("images", "labels").replace("idx3", "idx1")
        write_idx(tmp_path / label_name, labels, "labels", gz=gz)
    ds = load_dataset(path=tmp_path)
    assert len(ds.x_train) == 12 and len(ds.y_test) == 6


def test_npz_accepts_integer_and_integral_float(tmp_path: Path, isolated: Path) -> None:
    x_train, _ = make_split(40, 2)
    npz = save_npz(
        tmp_path / "a.npz",
        x_train=x_train.astype(np.int64),
        y_train=(np.arange(40) % 10).astype(np.float64),
    )
    ds = load_dataset(path=npz)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.uint8
    np.testing.assert_array_equal(ds.x_train, x_train)


def test_keras_mnist_cache_used_without_keras(isolated: Path) -> None:
    cache = isolated / "datasets"
    cache.mkdir()
    save_npz(cache / "mnist.npz")
    ds = load_dataset()
    assert ds.x_train.shape == (40, 28, 28)
    assert ds.source == f"Keras cache {cache / 'mnist.npz'}"


def test_keras_cache_does_not_import_keras(isolated: Path) -> None:
    cache = isolated / "datasets"
    cache.mkdir()
    save_npz(cache / "mnist.npz")
    code = (
        "import sys; from mnist_tui.data import load_dataset; "
        "ds = load_dataset(); assert len(ds.x_train) == 40; "
        "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules"
    )
    env = {**os.environ, "KERAS_HOME": str(isolated)}
    env.pop(DATA_ENV, None)
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_keras_fashion_cache(tiny_idx_dir: Path, isolated: Path) -> None:
    cache = isolated / "datasets" / "fashion-mnist"
    cache.mkdir(parents=True)
    for f in tiny_idx_dir.iterdir():
        (cache / f.name).write_bytes(f.read_bytes())
    ds = load_dataset("fashion-mnist")
    assert ds.class_names == DATASETS["fashion-mnist"]
    assert ds.class_names[9] == "Ankle boot"
    assert len(ds.x_train) == 64
    assert ds.source.startswith("Keras cache ")


def test_broken_keras_cache_is_error(isolated: Path) -> None:
    cache = isolated / "datasets"
    cache.mkdir()
    (cache / "mnist.npz").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match=r"mnist\.npz"):
        load_dataset()


def test_keras_download_used_when_no_cache(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = make_split(30, 5)
    monkeypatch.setattr(sources, "_NETWORK", FixedNetwork(online=True))
    monkeypatch.setattr(sources, "_keras_download", lambda name: (x, y, x[:10], y[:10]))
    messages: list[str] = []
    ds = load_dataset(progress=messages.append)
    assert len(ds.x_train) == 30 and len(ds.x_test) == 10
    assert messages and "downloading MNIST via Keras" in messages[0]


@pytest.mark.parametrize("name", ["fashion-mnist", "mnist"])
def test_no_data_anywhere_lists_three_ways(name: str, isolated: Path, monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    """Fashion-MNIST has no bundled copy; MNIST gets here only if its bundled copy is gone."""
    monkeypatch.setattr(sources, "BUNDLED_DIR", tmp_path / "not-shipped")
    monkeypatch.setattr(sources, "_NETWORK", FixedNetwork(online=True))  # it answers, then the download fails

    def offline(name: str) -> tuple[np.ndarray, ...]:
        raise OSError("network unreachable")

    monkeypatch.setattr(sources, "_keras_download", offline)
    with pytest.raises(DatasetError) as info:
        load_dataset(name)
    msg = str(info.value)
    assert "\n" not in msg
    assert f"No {'Fashion-MNIST' if name == 'fashion-mnist' else 'MNIST'} data found" in msg
    assert "--data PATH" in msg and ".npz" in msg
    assert DATA_ENV in msg
    assert "internet" in msg and str(isolated / "datasets") in msg
    assert "download failed" in msg


def test_offline_skips_the_download(isolated: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No network: Keras is not even imported, and the message says the host did not answer."""
    monkeypatch.setattr(sources, "BUNDLED_DIR", tmp_path / "not-shipped")
    with pytest.raises(DatasetError, match=r"No Fashion-MNIST data found.*did not answer"):
        load_dataset("fashion-mnist")


def test_unknown_dataset_names_known(isolated: Path) -> None:
    with pytest.raises(DatasetError, match="mnist, fashion-mnist"):
        load_dataset("cifar10")


def test_broken_env_is_error_not_fallthrough(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cache = isolated / "datasets"
    cache.mkdir()
    save_npz(cache / "mnist.npz")  # a working fallback that must NOT be used
    missing = tmp_path / "nowhere"
    monkeypatch.setenv(DATA_ENV, str(missing))
    with pytest.raises(DatasetError) as info:
        load_dataset()
    assert DATA_ENV in str(info.value) and "nowhere" in str(info.value)


# --- failure kinds ----------------------------------------------------------------

Breaker = Callable[[Path], Path]


def _gz_write(path: Path, data: bytes) -> None:
    path.write_bytes(gzip.compress(data, mtime=0))


def _nonexistent(d: Path) -> Path:
    return d / "missing-dir"


def _plain_file(d: Path) -> Path:
    target = d / "data.txt"
    target.write_text("hello")
    return target


def _empty_dir(d: Path) -> Path:
    for f in d.iterdir():
        f.unlink()
    return d


def _missing_labels(d: Path) -> Path:
    (d / TRAIN_LABELS).unlink()
    return d


def _zero_byte(d: Path) -> Path:
    (d / TRAIN_IMAGES).write_bytes(b"")
    return d


def _truncated_gzip(d: Path) -> Path:
    f = d / TRAIN_IMAGES
    f.write_bytes(f.read_bytes()[:200])
    return d


def _corrupt_gzip(d: Path) -> Path:
    f = d / TRAIN_IMAGES
    data = bytearray(f.read_bytes())
    for i in range(20, 60):
        data[i] ^= 0xFF
    f.write_bytes(bytes(data))
    return d


def _not_gzip(d: Path) -> Path:
    f = d / TRAIN_IMAGES
    f.write_bytes(gzip.decompress(f.read_bytes()))
    return d


def _wrong_magic(d: Path) -> Path:
    _gz_write(d / TRAIN_IMAGES, idx_bytes(np.zeros(64, np.uint8), "labels"))
    return d


def _wrong_dims(d: Path) -> Path:
    _gz_write(d / TRAIN_IMAGES, idx_bytes(np.zeros((64, 32, 32), np.uint8), "images"))
    return d


def _truncated_payload(d: Path) -> Path:
    f = d / TRAIN_IMAGES
    _gz_write(f, gzip.decompress(f.read_bytes())[:-100])
    return d


def _trailing_bytes(d: Path) -> Path:
    f = d / TEST_LABELS
    _gz_write(f, gzip.decompress(f.read_bytes()) + b"\x00\x01")
    return d


def _bad_label(d: Path) -> Path:
    labels = np.zeros(64, np.uint8)
    labels[5] = 10
    _gz_write(d / TRAIN_LABELS, idx_bytes(labels, "labels"))
    return d


def _count_mismatch(d: Path) -> Path:
    _gz_write(d / TRAIN_LABELS, idx_bytes(np.zeros(63, np.uint8), "labels"))
    return d


def _npz_missing_key(d: Path) -> Path:
    return save_npz(d / "m.npz", y_test=None)


def _npz_object(d: Path) -> Path:
    obj = np.empty(40, dtype=object)
    obj[:] = [np.zeros(3)] * 40
    return save_npz(d / "o.npz", y_train=obj)


def _npz_bad_shape(d: Path) -> Path:
    return save_npz(d / "s.npz", x_train=np.zeros((40, 784), np.uint8))


def _npz_float(d: Path) -> Path:
    return save_npz(d / "f.npz", x_train=np.full((40, 28, 28), 0.5))


def _npz_out_of_range(d: Path) -> Path:
    return save_npz(d / "r.npz", x_train=np.full((40, 28, 28), 300, np.int32))


def _npz_not_zip(d: Path) -> Path:
    target = d / "g.npz"
    target.write_bytes(b"this is not a zip archive at all")
    return target


def _npz_truncated(d: Path) -> Path:
    target = save_npz(d / "t.npz")
    target.write_bytes(target.read_bytes()[:3000])
    return target


def _npz_single_npy(d: Path) -> Path:
    target = d / "single.npz"
    with target.open("wb") as fh:
        np.save(fh, np.zeros(3))
    return target


FAILURES: list[tuple[str, Breaker, str, str]] = [
    ("nonexistent", _nonexistent, "missing-dir", "no such file"),
    ("plain-file", _plain_file, "data.txt", "is a file"),
    ("empty-dir", _empty_dir, "tiny", "empty"),
    ("missing-file", _missing_labels, "train-labels-idx1-ubyte", "missing"),
    ("zero-byte", _zero_byte, TRAIN_IMAGES, "empty"),
    ("truncated-gzip", _truncated_gzip, TRAIN_IMAGES, "gzip"),
    ("corrupt-gzip", _corrupt_gzip, TRAIN_IMAGES, "gzip"),
    ("not-gzip", _not_gzip, TRAIN_IMAGES, "not gzip"),
    ("wrong-magic", _wrong_magic, TRAIN_IMAGES, "expected 2051"),
    ("wrong-dims", _wrong_dims, TRAIN_IMAGES, "32x32"),
    ("truncated-payload", _truncated_payload, TRAIN_IMAGES, "truncated"),
    ("trailing-bytes", _trailing_bytes, TEST_LABELS, "trailing"),
    ("bad-label", _bad_label, TRAIN_LABELS, "label value 10"),
    ("count-mismatch", _count_mismatch, TRAIN_LABELS, "63 labels"),
    ("npz-missing-key", _npz_missing_key, "m.npz", "y_test"),
    ("npz-object", _npz_object, "o.npz", "pickle"),
    ("npz-bad-shape", _npz_bad_shape, "s.npz", "shape"),
    ("npz-float", _npz_float, "f.npz", "float64"),
    ("npz-out-of-range", _npz_out_of_range, "r.npz", "0..255"),
    ("npz-not-zip", _npz_not_zip, "g.npz", "not a zip"),
    ("npz-truncated", _npz_truncated, "t.npz", "corrupt"),
    ("npz-single-npy", _npz_single_npy, "single.npz", "not an .npz"),
]


@pytest.mark.parametrize(
    ("breaker", "filename", "reason"),
    [pytest.param(b, f, r, id=i) for i, b, f, r in FAILURES],
)
def test_failure_kinds(
    tiny_idx_dir: Path, isolated: Path, breaker: Breaker, filename: str, reason: str
) -> None:
    target = breaker(tiny_idx_dir)
    with pytest.raises(DatasetError) as info:
        load_dataset(path=target)
    msg = str(info.value)
    assert filename in msg
    assert reason.lower() in msg.lower()
    assert "\n" not in msg


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can read chmod-000 files")
def test_unreadable_file(tiny_idx_dir: Path, isolated: Path) -> None:
    f = tiny_idx_dir / TRAIN_IMAGES
    f.chmod(0)
    try:
        with pytest.raises(DatasetError, match="permission denied") as info:
            load_dataset(path=tiny_idx_dir)
        assert TRAIN_IMAGES in str(info.value)
    finally:
        f.chmod(0o644)


def test_read_idx_file_direct(tiny_idx_dir: Path) -> None:
    labels = read_idx_file(tiny_idx_dir / TRAIN_LABELS, "labels")
    assert labels.shape == (64,) and labels.dtype == np.uint8
    with pytest.raises(DatasetError, match="expected 2051"):
        read_idx_file(tiny_idx_dir / TRAIN_LABELS, "images")


def test_load_npz_direct(tmp_path: Path) -> None:
    x_train, y_train, x_test, y_test = load_npz(save_npz(tmp_path / "d.npz"))
    assert x_train.shape == (40, 28, 28) and y_train.shape == (40,)
    assert x_test.shape == (20, 28, 28) and y_test.shape == (20,)
    assert zipfile.is_zipfile(tmp_path / "d.npz")


# --- property-based parse_idx -----------------------------------------------------

VALID_IMAGES = idx_bytes(make_split(3, 7)[0], "images")
VALID_LABELS = idx_bytes(np.array([0, 5, 9], np.uint8), "labels")


def _parse_or_error(data: bytes, kind: str) -> None:
    """parse_idx must return a well-formed uint8 array or raise DatasetError."""
    try:
        arr = parse_idx(data, kind, "fuzz.idx")  # type: ignore[arg-type]
    except DatasetError as exc:
        assert "fuzz.idx" in str(exc)
        return
    assert arr.dtype == np.uint8
    if kind == "images":
        assert arr.ndim == 3 and arr.shape[1:] == (28, 28)
    else:
        assert arr.ndim == 1 and (arr.size == 0 or arr.max() <= 9)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=2000), kind=st.sampled_from(["images", "labels"]))
def test_parse_idx_random_bytes(data: bytes, kind: str) -> None:
    _parse_or_error(data, kind)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["images", "labels"]),
    edits=st.lists(st.tuples(st.integers(0, 2400), st.integers(0, 255)), max_size=6),
    cut=st.integers(0, 2400),
    extra=st.binary(max_size=20),
)
def test_parse_idx_mutated_valid(kind: str, edits: list[tuple[int, int]], cut: int, extra: bytes) -> None:
    data = bytearray(VALID_IMAGES if kind == "images" else VALID_LABELS)
    for pos, value in edits:
        if pos < len(data):
            data[pos] = value
    _parse_or_error(bytes(data[: max(cut, 0)]) + extra, kind)


def test_parse_idx_valid_round_trip() -> None:
    arr = parse_idx(VALID_IMAGES, "images", "x")
    np.testing.assert_array_equal(arr, make_split(3, 7)[0])
    assert parse_idx(VALID_LABELS, "labels", "y").tolist() == [0, 5, 9]


# --- Debian fashion-mnist ---------------------------------------------------------


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="dataset-fashion-mnist not installed")
def test_debian_fashion_mnist(isolated: Path) -> None:
    ds = load_dataset("fashion-mnist", DEBIAN_FASHION)
    assert ds.x_train.shape == (60000, 28, 28) and ds.x_test.shape == (10000, 28, 28)
    assert np.bincount(ds.y_train, minlength=10).tolist() == [6000] * 10
    assert np.bincount(ds.y_test, minlength=10).tolist() == [1000] * 10
    assert ds.class_names[0] == "T-shirt/top" and len(ds.class_names) == 10


# --- preprocessing ----------------------------------------------------------------


@pytest.fixture
def tiny_ds(tiny_idx_dir: Path, isolated: Path) -> Dataset:
    return load_dataset(path=tiny_idx_dir)


def test_normalise_range_and_dtype() -> None:
    x = np.array([[0, 128, 255]], np.uint8)
    out = normalise(x)
    assert out.dtype == np.float32
    assert out.min() == 0.0 and out.max() == 1.0
    assert out[0, 1] == pytest.approx(128 / 255)


@pytest.mark.parametrize(
    ("layout", "shape"),
    [("flat", (64, 784)), ("image", (64, 28, 28)), ("image_channels", (64, 28, 28, 1))],
)
def test_shape_for(tiny_ds: Dataset, layout: str, shape: tuple[int, ...]) -> None:
    out = shape_for(tiny_ds.x_train, layout)  # type: ignore[arg-type]
    assert out.shape == shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_allclose(out.reshape(64, 28, 28) * 255, tiny_ds.x_train, atol=1e-3)


def test_one_hot(tiny_ds: Dataset) -> None:
    oh = one_hot(tiny_ds.y_train)
    assert oh.shape == (64, 10) and oh.dtype == np.float32
    np.testing.assert_array_equal(oh.sum(axis=1), np.ones(64))
    np.testing.assert_array_equal(oh.argmax(axis=1), tiny_ds.y_train)


def test_take_subset(tiny_ds: Dataset) -> None:
    sub = take_subset(tiny_ds, 10)
    assert len(sub.x_train) == len(sub.y_train) == 10
    assert len(sub.x_test) == 32
    np.testing.assert_array_equal(sub.x_train, tiny_ds.x_train[:10])
    assert take_subset(tiny_ds, None) is tiny_ds
    assert len(take_subset(tiny_ds, 64).x_train) == 64


@pytest.mark.parametrize(("limit", "reason"), [(0, "positive"), (-3, "positive"), (65, "64")])
def test_take_subset_bad_limit(tiny_ds: Dataset, limit: int, reason: str) -> None:
    with pytest.raises(DatasetError, match=reason):
        take_subset(tiny_ds, limit)


def test_split_validation(tiny_ds: Dataset) -> None:
    (xt, yt), (xv, yv) = split_validation(tiny_ds.x_train, tiny_ds.y_train, 0.25)
    assert len(xt) == len(yt) == 48 and len(xv) == len(yv) == 16
    np.testing.assert_array_equal(xv, tiny_ds.x_train[48:])
    (xt, _), (xv, yv) = split_validation(tiny_ds.x_train, tiny_ds.y_train, 0.0)
    assert len(xt) == 64 and len(xv) == 0 and len(yv) == 0


@pytest.mark.parametrize("fraction", [1.0, -0.1, 1.5])
def test_split_validation_bad_fraction(tiny_ds: Dataset, fraction: float) -> None:
    with pytest.raises(DatasetError):
        split_validation(tiny_ds.x_train, tiny_ds.y_train, fraction)


def test_split_validation_keeps_one_train_sample() -> None:
    x, y = make_split(1, 0)
    (xt, _), (xv, _) = split_validation(x, y, 0.9)
    assert len(xt) == 1 and len(xv) == 0


def test_peek_train_count_reads_only_headers(tiny_idx_dir: Path, tmp_path: Path) -> None:
    from mnist_tui.data.sources import FULL_TRAIN_SIZE, peek_train_count

    assert peek_train_count("mnist", tiny_idx_dir) == 64
    npz = tmp_path / "small.npz"
    np.savez(npz, x_train=np.zeros((1234, 28, 28), np.uint8), y_train=np.zeros(1234, np.uint8),
             x_test=np.zeros((10, 28, 28), np.uint8), y_test=np.zeros(10, np.uint8))
    assert peek_train_count("mnist", npz) == 1234
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip")
    assert peek_train_count("mnist", bad) == FULL_TRAIN_SIZE
    assert peek_train_count("mnist", tmp_path / "missing") == FULL_TRAIN_SIZE
