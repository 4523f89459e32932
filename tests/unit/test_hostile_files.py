"""Hostile data and model files: each is one clear error line, fast, and read within bounds.

Every hostile input is generated here, in ``tmp_path``: gzip and zip bombs (small on disk,
huge inflated), FIFOs, devices and sockets where a file should be, symlink loops, names
too long for the OS, foreign zips, and models that load but are not MNIST classifiers.
The property-based tests feed each reader arbitrary and mutated bytes: only the reader's
documented error (or success) may come out.
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnist_tui import fsguard
from mnist_tui.data.idx import MAX_IDX_ITEMS, read_idx_file
from mnist_tui.data.npz import load_npz
from mnist_tui.data.sources import FULL_TRAIN_SIZE, load_dataset, peek_train_count
from mnist_tui.errors import DatasetError, MnistTuiError, ModelFileError
from mnist_tui.models.saved import check_model_path, load_model
from mnist_tui.models.scratch import ScratchNet
from tests.conftest import IDX_FILES, REPO_ROOT, idx_bytes, make_split, write_idx

TRAIN_IMAGES = IDX_FILES["train"][0] + ".gz"
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# --- helpers ----------------------------------------------------------------------


def one_line(err: BaseException, *needles: str) -> str:
    """The error is one line holding every needle (case-insensitive)."""
    text = str(err)
    assert "\n" not in text and "Traceback" not in text, text
    for needle in needles:
        assert needle.lower() in text.lower(), (needle, text)
    return text


def call_within(fn: Callable[[], Any], seconds: float = 1.0, fifo: Path | None = None) -> Any:
    """``fn()``'s result or raised exception, failing the test if it blocks for ``seconds``.

    A reader stuck opening a FIFO is released by opening its other end, so a failing test
    does not leave a thread blocked forever.
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # returned to the test, which asserts on it
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if fifo is not None:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5)
        pytest.fail(f"blocked for more than {seconds} s")
    return box.get("error", box.get("value"))


def idx_header(kind: str, count: int) -> bytes:
    fields = [2051, count, 28, 28] if kind == "images" else [2049, count]
    return b"".join(v.to_bytes(4, "big") for v in fields)


def gzip_stream(head: bytes, zeros: int, level: int = 6) -> bytes:
    """One gzip member: ``head`` then ``zeros`` zero bytes, compressed in 1 MB steps."""
    c = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(min(zeros, 1 << 20))
    parts = [c.compress(head)]
    left = zeros
    while left > 0:
        parts.append(c.compress(chunk[: min(left, len(chunk))]))
        left -= len(chunk)
    parts.append(c.flush())
    return b"".join(parts)


def declare_size(path: Path, member: str, size: int) -> None:
    """Rewrite ``member``'s uncompressed size in the zip's central directory (a crafted bomb)."""
    data = bytearray(path.read_bytes())
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        name_len = int.from_bytes(data[pos + 28 : pos + 30], "little")
        if data[pos + 46 : pos + 46 + name_len].decode() == member:
            data[pos + 24 : pos + 28] = size.to_bytes(4, "little")
        pos = data.find(b"PK\x01\x02", pos + 4)
    path.write_bytes(bytes(data))


def save_data_npz(path: Path, n: int = 20) -> Path:
    x, y = make_split(n, 3)
    np.savez(path, x_train=x, y_train=y, x_test=x[:10], y_test=y[:10])
    return path


def fake_keras(path: Path) -> Path:
    """A zip with a .keras archive's members (check_model_path reads only the directory)."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3"}))
        zf.writestr("config.json", json.dumps({"class_name": "Sequential"}))
        zf.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(100))
    return path


def idx_dir(tmp_path: Path) -> Path:
    d = tmp_path / "idx"
    d.mkdir()
    for split, n in (("train", 12), ("test", 6)):
        images, labels = make_split(n, 1)
        write_idx(d / IDX_FILES[split][0], images, "images")
        write_idx(d / IDX_FILES[split][1], labels, "labels")
    return d


# --- A1: gzip bombs: the header is read first, then only what it declares ----------


def test_gzip_stream_past_its_header_is_refused_after_reading_what_it_declares(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bomb-images.gz"
    path.write_bytes(gzip_stream(idx_header("images", 10), 20 << 20))  # 20 MB inflated, ~20 KB on disk
    inflated: list[int] = []
    real_read = fsguard.BoundedGunzip.read

    def counting_read(self: fsguard.BoundedGunzip, n: int) -> bytearray:
        out = real_read(self, n)
        inflated.append(len(out))
        return out

    monkeypatch.setattr(fsguard.BoundedGunzip, "read", counting_read)
    with pytest.raises(DatasetError) as info:
        read_idx_file(path, "images")
    one_line(info.value, "more data than its header declares", "10 images")
    assert sum(inflated) == 16 + 10 * 784 + 1  # the header, the declared payload, one byte more


def test_raw_file_past_its_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "long-labels"
    path.write_bytes(idx_header("labels", 3) + bytes(2 << 20))
    with pytest.raises(DatasetError) as info:
        read_idx_file(path, "labels")
    one_line(info.value, "more data than its header declares", "trailing")


@pytest.mark.parametrize("kind", ["images", "labels"])
@pytest.mark.parametrize("gz", [False, True])
def test_a_header_cannot_declare_more_than_a_dataset_holds(tmp_path: Path, kind: str, gz: bool) -> None:
    head = idx_header(kind, 0xFFFFFFFF)
    path = tmp_path / ("huge.gz" if gz else "huge")
    path.write_bytes(gzip.compress(head) if gz else head)
    with pytest.raises(DatasetError) as info:
        read_idx_file(path, kind)  # type: ignore[arg-type]
    one_line(info.value, f"more than the {MAX_IDX_ITEMS:,}")


def test_too_many_gzip_members_are_refused(tmp_path: Path) -> None:
    images = idx_bytes(make_split(2, 0)[0], "images")
    path = tmp_path / "members.gz"
    path.write_bytes(gzip.compress(images[:16]) + gzip.compress(b"") * 100 + gzip.compress(images[16:]))
    with pytest.raises(DatasetError) as info:
        read_idx_file(path, "images")
    one_line(info.value, "more than 64 gzip members")


def test_multi_member_gzip_within_the_limit_still_reads(tmp_path: Path) -> None:
    images = make_split(3, 0)[0]
    data = idx_bytes(images, "images")
    path = tmp_path / "split.gz"
    path.write_bytes(gzip.compress(data[:100]) + b"\0\0\0" + gzip.compress(data[100:]))
    np.testing.assert_array_equal(read_idx_file(path, "images"), images)


BOMB_CHILD = r"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))  # 1.5 GB: a 6 GB inflate cannot fit
from mnist_tui.data.idx import read_idx_file
from mnist_tui.errors import DatasetError
for path in sys.argv[1:]:
    try:
        read_idx_file(path, "images")
    except DatasetError as err:
        print(err)
"""


def test_six_gb_gzip_bombs_are_refused_in_a_process_limited_to_1_5_gb(tmp_path: Path) -> None:
    """A 6 MB file inflating to 6 GB, with headers of 20,000 and 60,000 images: refused."""
    zeros = gzip_stream(b"", 100 << 20, level=9)  # one member: 100 MB of zeros in ~100 KB
    paths = []
    for count in (20_000, 60_000):
        path = tmp_path / f"bomb-{count}.gz"
        with path.open("wb") as fh:
            fh.write(gzip.compress(idx_header("images", count)))
            for _ in range(60):  # 60 more members: 6 GB inflated
                fh.write(zeros)
        assert path.stat().st_size < 8 << 20
        paths.append(str(path))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", BOMB_CHILD, *paths], capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2 and all("more data than its header declares" in line for line in lines), lines
    assert time.monotonic() - start < 30


# --- A2: zip bombs: declared sizes are checked before anything is read -------------


HUGE = 3_000_000_000  # 2.8 GB declared, a few KB on disk


def test_npz_dataset_declaring_gigabytes_is_refused_from_its_directory(tmp_path: Path) -> None:
    path = save_data_npz(tmp_path / "bomb.npz")
    declare_size(path, "x_train.npy", HUGE)
    with pytest.raises(DatasetError) as info:
        load_npz(path)
    one_line(info.value, "bomb.npz", "more than the 512 MB limit")
    with pytest.raises(DatasetError) as info:
        load_dataset(path=path)
    one_line(info.value, "512 MB limit")


@pytest.mark.parametrize("reader", ["check_model_path", "ScratchNet.load", "load_model"])
def test_scratch_model_declaring_gigabytes_is_refused(tmp_path: Path, reader: str) -> None:
    path = tmp_path / "model.npz"
    ScratchNet(784, 4, 10).save(path)
    declare_size(path, "W1.npy", HUGE)
    fn = {"check_model_path": check_model_path, "ScratchNet.load": ScratchNet.load, "load_model": load_model}[reader]
    with pytest.raises(ModelFileError) as info:
        fn(path)
    one_line(info.value, "model.npz", "more than the 512 MB limit")


def test_keras_model_declaring_gigabytes_is_refused_without_tensorflow(tmp_path: Path) -> None:
    path = fake_keras(tmp_path / "bomb.keras")
    declare_size(path, "model.weights.h5", HUGE)
    with pytest.raises(ModelFileError) as info:
        check_model_path(path)
    one_line(info.value, "bomb.keras", "more than the 512 MB limit", "Keras model")
    config_bomb = fake_keras(tmp_path / "config.keras")
    declare_size(config_bomb, "config.json", 100 << 20)
    with pytest.raises(ModelFileError) as info:
        check_model_path(config_bomb)
    one_line(info.value, "config.json is 100 MB")


def test_a_real_deflate_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A genuinely compressed bomb (limit lowered so generating one takes milliseconds)."""
    monkeypatch.setattr(fsguard, "MAX_ARCHIVE_BYTES", 4 << 20)
    path = tmp_path / "real.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("x_train.npy", "w") as fh:
            for _ in range(8):
                fh.write(bytes(1 << 20))
        for key in ("y_train", "x_test", "y_test"):
            zf.writestr(f"{key}.npy", b"")
    assert path.stat().st_size < 64 << 10
    with pytest.raises(DatasetError) as info:
        load_npz(path)
    one_line(info.value, "8 MB uncompressed", "4 MB limit")


def test_npy_header_claiming_more_than_its_member_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|u1", "fortran_order": False, "shape": (10**9, 28, 28)})
    x, y = make_split(4, 0)
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("x_train.npy", b"\x93NUMPY\x01\x00" + buf.getvalue()[8:] + bytes(100))
        for key, arr in (("y_train", y), ("x_test", x), ("y_test", y)):
            arr_buf = io.BytesIO()
            np.save(arr_buf, arr)
            zf.writestr(f"{key}.npy", arr_buf.getvalue())
    with pytest.raises(DatasetError) as info:
        load_npz(path)
    one_line(info.value, "x_train claims shape (1000000000, 28, 28)")


def test_encrypted_and_exotic_zip_members_are_refused(tmp_path: Path) -> None:
    path = save_data_npz(tmp_path / "odd.npz")
    data = bytearray(path.read_bytes())
    cd = data.find(b"PK\x01\x02")
    data[cd + 8] |= 0x1  # general purpose flag: encrypted
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError) as info:
        load_npz(path)
    one_line(info.value, "is encrypted")
    lzma_path = tmp_path / "lzma.npz"
    with zipfile.ZipFile(lzma_path, "w", zipfile.ZIP_LZMA) as zf:
        zf.writestr("x_train.npy", b"x")
    with pytest.raises(DatasetError) as info:
        load_npz(lzma_path)
    one_line(info.value, "compression method 14")


# --- A3: non-regular files are never opened for reading -----------------------------


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def test_fifo_as_an_idx_file_is_refused_at_once(tmp_path: Path) -> None:
    d = idx_dir(tmp_path)
    (d / TRAIN_IMAGES).unlink()
    fifo = _fifo(d / TRAIN_IMAGES)
    err = call_within(lambda: load_dataset(path=d), fifo=fifo)
    assert isinstance(err, DatasetError), err
    one_line(err, TRAIN_IMAGES, "is not a regular file (a FIFO)")
    assert call_within(lambda: peek_train_count(path=d), fifo=fifo) == FULL_TRAIN_SIZE


@pytest.mark.parametrize(("name", "reader", "error"), [
    ("data.npz", lambda p: load_dataset(path=p), DatasetError),
    ("data.npz", load_npz, DatasetError),
    ("train-images", lambda p: read_idx_file(p, "images"), DatasetError),
    ("model.keras", check_model_path, ModelFileError),
    ("model.keras", load_model, ModelFileError),
    ("model.npz", check_model_path, ModelFileError),
    ("model.npz", ScratchNet.load, ModelFileError),
])
def test_fifo_is_refused_at_once_by_every_reader(tmp_path: Path, name: str, reader: Callable[[Path], Any],
                                                 error: type[MnistTuiError]) -> None:
    fifo = _fifo(tmp_path / name)
    err = call_within(lambda: reader(fifo), fifo=fifo)
    assert isinstance(err, error), err
    one_line(err, name, "is not a regular file (a FIFO)")
    assert call_within(lambda: peek_train_count(path=fifo), fifo=fifo) == FULL_TRAIN_SIZE


def test_devices_and_sockets_are_refused(tmp_path: Path) -> None:
    d = idx_dir(tmp_path)
    (d / TRAIN_IMAGES).unlink()
    (d / TRAIN_IMAGES).symlink_to("/dev/zero")  # endless: reading it would never finish
    err = call_within(lambda: load_dataset(path=d))
    one_line(err, "is not a regular file (a character device)")
    err = call_within(lambda: check_model_path("/dev/null"))
    assert isinstance(err, ModelFileError)  # no suffix: refused before it is ever looked at
    os.symlink("/dev/zero", tmp_path / "zero.npz")
    one_line(call_within(lambda: load_npz(tmp_path / "zero.npz")), "a character device")
    one_line(call_within(lambda: check_model_path(tmp_path / "zero.npz")), "a character device")
    sock_path = tmp_path / "s.npz"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        one_line(call_within(lambda: load_npz(sock_path)), "is not a regular file (a socket)")
        one_line(call_within(lambda: ScratchNet.load(sock_path)), "is not a regular file (a socket)")


# --- A4: every OSError from a path check is the message ------------------------------


LONG = "a" * 500


@pytest.mark.parametrize(("reader", "error"), [
    (lambda p: load_dataset(path=p), DatasetError),
    (load_npz, DatasetError),
    (lambda p: read_idx_file(p, "labels"), DatasetError),
    (check_model_path, ModelFileError),
    (ScratchNet.load, ModelFileError),
])
@pytest.mark.parametrize("name", [LONG, LONG + ".npz", LONG + ".keras", "d/" * 2100 + "x.npz"])
def test_a_name_too_long_is_a_clean_message(reader: Callable[[str], Any], error: type[MnistTuiError],
                                            name: str) -> None:
    with pytest.raises(error) as info:
        reader(name)
    one_line(info.value, "file name too long")
    assert peek_train_count(path=name) == FULL_TRAIN_SIZE


def test_symlink_loops_say_so(tmp_path: Path) -> None:
    for a, b in (("loop.npz", "back.npz"), ("loop.keras", "back.keras"), ("loopdir", "backdir")):
        (tmp_path / a).symlink_to(tmp_path / b)
        (tmp_path / b).symlink_to(tmp_path / a)
    for call in (lambda: load_dataset(path=tmp_path / "loopdir"), lambda: load_npz(tmp_path / "loop.npz"),
                 lambda: check_model_path(tmp_path / "loop.keras"), lambda: ScratchNet.load(tmp_path / "loop.npz")):
        with pytest.raises(MnistTuiError) as info:
            call()
        one_line(info.value, "symlink loop")
    d = idx_dir(tmp_path)
    (d / TRAIN_IMAGES).unlink()
    (d / TRAIN_IMAGES).symlink_to(d / TRAIN_IMAGES)
    with pytest.raises(DatasetError) as info:
        load_dataset(path=d)
    one_line(info.value, TRAIN_IMAGES, "symlink loop")
    assert peek_train_count(path=tmp_path / "loopdir") == FULL_TRAIN_SIZE


def test_odd_paths_are_clean_messages(tmp_path: Path) -> None:
    (tmp_path / "dangling.npz").symlink_to(tmp_path / "nowhere.npz")
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: load_dataset(path=tmp_path / "dangling.npz"), "broken symlink"),
        (lambda: check_model_path(tmp_path / "dangling.npz"), "broken symlink"),
        (lambda: load_dataset(path="bad\0name"), "NUL byte"),
        (lambda: check_model_path("bad\0name.keras"), "NUL byte"),
        (lambda: load_dataset(path="~no-such-user-here/data.npz"), "no such file"),
        (lambda: check_model_path(tmp_path / "missing.keras"), "no such file"),
        (lambda: load_npz(tmp_path / "file.npz" / "below.npz"), "no such file"),
    ]
    for call, needle in cases:
        with pytest.raises(MnistTuiError) as info:
            call()
        one_line(info.value, needle)
    (tmp_path / "file.npz").write_bytes(b"x")
    with pytest.raises(DatasetError) as info:
        load_npz(tmp_path / "file.npz" / "below.npz")
    one_line(info.value, "not a directory")


def test_errno_phrases_cover_the_path_failures() -> None:
    for code, phrase in ((errno.ENAMETOOLONG, "too long"), (errno.ELOOP, "symlink loop"),
                         (errno.EACCES, "permission denied"), (errno.EIO, "error")):
        assert phrase in fsguard.describe_os_error(OSError(code, os.strerror(code))).lower()


@pytest.mark.skipif(ROOT, reason="root can read mode-000 files")
def test_mode_000_files_say_permission_denied(tmp_path: Path) -> None:
    model = tmp_path / "model.keras"
    fake_keras(model)
    data = save_data_npz(tmp_path / "data.npz")
    for path in (model, data):
        path.chmod(0)
    try:
        for call in (lambda: check_model_path(model), lambda: load_model(model), lambda: load_npz(data),
                     lambda: load_dataset(path=data)):
            with pytest.raises(MnistTuiError) as info:
                call()
            one_line(info.value, "permission denied")
    finally:
        for path in (model, data):
            path.chmod(0o644)


# --- A5: the cheap model check knows both formats, without TensorFlow --------------


def test_foreign_zips_are_refused_by_the_cheap_check(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.keras"
    with zipfile.ZipFile(foreign, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(ModelFileError) as info:
        check_model_path(foreign)
    one_line(info.value, "not a Keras model", "lacks config.json, model.weights.h5", "found: hello.txt")

    scratch_as_keras = tmp_path / "scratch.keras"
    ScratchNet(784, 4, 10).save(tmp_path / "s.npz")
    (tmp_path / "s.npz").rename(scratch_as_keras)
    with pytest.raises(ModelFileError) as info:
        check_model_path(scratch_as_keras)
    one_line(info.value, "not a Keras model", "found: W1")

    keras_as_npz = fake_keras(tmp_path / "k.keras").rename(tmp_path / "keras.npz")
    with pytest.raises(ModelFileError) as info:
        check_model_path(keras_as_npz)
    one_line(info.value, "not a scratch model", "lacks W1, b1, W2, b2, activation, hidden")

    data_as_model = save_data_npz(tmp_path / "data.npz")
    with pytest.raises(ModelFileError) as info:
        load_model(data_as_model)
    one_line(info.value, "not a scratch model", "found: x_train")

    assert check_model_path(fake_keras(tmp_path / "fine.keras")) == tmp_path / "fine.keras"


def test_the_cheap_check_imports_no_tensorflow(tmp_path: Path) -> None:
    fake = fake_keras(tmp_path / "m.keras")
    code = ("import sys\nfrom mnist_tui.models.saved import check_model_path\n"
            f"check_model_path({str(fake)!r})\n"
            "bad = [m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules]\n"
            "assert not bad, bad\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert proc.returncode == 0, proc.stderr


# --- A6: a scratch model must be an MNIST classifier ---------------------------------


@pytest.mark.parametrize(("n_in", "n_out", "needle"), [
    (100, 10, "input size is 100, not an MNIST image"),
    (784, 3, "output size is 3, not 10 classes"),
])
def test_scratch_model_of_the_wrong_size_is_refused_at_load(tmp_path: Path, n_in: int, n_out: int,
                                                            needle: str) -> None:
    path = tmp_path / "wrong.npz"
    ScratchNet(n_in, 8, n_out).save(path)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    one_line(info.value, "wrong.npz", needle)


def test_scratch_model_with_bad_values_is_refused(tmp_path: Path) -> None:
    net = ScratchNet(784, 4, 10)
    base = {k: v for k, v in net.params.items()}
    cases = {
        "nan.npz": ({**base, "W2": np.full((4, 10), np.nan, np.float32)}, "sigmoid", 4, "NaN or infinity"),
        "act.npz": (base, np.array([1, 2]), 4, "activation is not a name"),
        "hidden.npz": (base, "relu", np.array("four"), "hidden is not an integer"),
    }
    for name, (params, activation, hidden, needle) in cases.items():
        np.savez(tmp_path / name, **params, activation=np.array(activation), hidden=np.array(hidden))
        with pytest.raises(ModelFileError) as info:
            load_model(tmp_path / name)
        one_line(info.value, name, needle)
    np.savez(tmp_path / "ok.npz", **base, activation=np.array("relu"), hidden=np.array(4))
    model = load_model(tmp_path / "ok.npz")
    assert model.predict(np.zeros((3, 28, 28), np.uint8)).shape == (3, 10)


# --- A7: Keras models that load but are not MNIST classifiers -----------------------


@pytest.fixture(scope="module")
def keras_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny Keras models, each wrong in one way (plus a good one), built once."""
    keras = pytest.importorskip("keras")
    d = tmp_path_factory.mktemp("keras-models")
    layers = keras.layers
    a, b = keras.Input((784,)), keras.Input((784,))
    two_in = keras.Model([a, b], layers.Dense(10, activation="softmax")(layers.Concatenate()([a, b])))
    c = keras.Input((784,))
    two_out = keras.Model(c, [layers.Dense(10, activation="softmax")(c), layers.Dense(10, activation="softmax")(c)])
    models = {
        "good": keras.Sequential([keras.Input((784,)), layers.Dense(10, activation="softmax")]),
        "two_inputs": two_in,
        "two_outputs": two_out,
        "logits": keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(10)]),
        "sigmoid": keras.Sequential([keras.Input((784,)), layers.Dense(10, activation="sigmoid")]),
    }
    paths = {}
    for name, model in models.items():
        paths[name] = d / f"{name}.keras"
        model.save(paths[name])
    return paths


@pytest.mark.parametrize(("name", "needle"), [
    ("two_inputs", "the model has 2 inputs; an MNIST model takes one image"),
    ("two_outputs", "the model has 2 outputs"),
    ("logits", "outputs are not probabilities (no softmax on the last layer?)"),
    ("sigmoid", "outputs are not probabilities"),
])
def test_keras_models_that_are_not_mnist_classifiers_are_refused(keras_models: dict[str, Path], name: str,
                                                                 needle: str) -> None:
    with pytest.raises(ModelFileError) as info:
        load_model(keras_models[name])
    one_line(info.value, f"{name}.keras", needle)


def test_a_good_keras_model_still_loads(keras_models: dict[str, Path]) -> None:
    model = load_model(keras_models["good"])
    probs = model.predict(np.zeros((2, 28, 28), np.uint8))
    assert probs.shape == (2, 10) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


# --- property-based: only the documented error, or success, ever comes out ---------


FUZZ = settings(max_examples=200, deadline=timedelta(seconds=5),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _mutations(base: bytes) -> st.SearchStrategy[bytes]:
    """``base`` with a few bytes changed (often near the end, where a zip keeps its directory),
    cut short, or extended."""
    n = len(base)
    position = st.one_of(st.integers(0, n - 1), st.integers(max(0, n - 400), n - 1))

    def apply(edits: list[tuple[int, int]], cut: int, extra: bytes) -> bytes:
        data = bytearray(base)
        for pos, value in edits:
            data[pos] = value
        return bytes(data[:cut]) + extra

    return st.builds(apply, st.lists(st.tuples(position, st.integers(0, 255)), max_size=8),
                     st.one_of(st.just(n), st.integers(0, n)), st.binary(max_size=16))


def _bytes_of(write: Callable[[Path], object]) -> bytes:
    """The bytes ``write`` puts in a file: the valid starting points of the mutations."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "base.npz"
        write(path)
        return path.read_bytes()


def _expect_only(error: type[MnistTuiError], call: Callable[[], object]) -> None:
    try:
        call()
    except error as err:
        one_line(err)


_VALID_GZ_IMAGES = gzip.compress(idx_bytes(make_split(3, 7)[0], "images"), mtime=0)


@FUZZ
@given(data=st.one_of(st.binary(max_size=3000), st.binary(max_size=3000).map(gzip.compress),
                      _mutations(_VALID_GZ_IMAGES)),
       kind=st.sampled_from(["images", "labels"]), suffix=st.sampled_from(["", ".gz"]))
def test_idx_file_reader_only_raises_dataset_error(fuzz_dir: Path, data: bytes, kind: str, suffix: str) -> None:
    path = fuzz_dir / f"fuzz-idx{suffix}"
    path.write_bytes(data)
    _expect_only(DatasetError, lambda: read_idx_file(path, kind))  # type: ignore[arg-type]


_VALID_DATA_NPZ = _bytes_of(lambda p: save_data_npz(p, 6))
_VALID_DATA_NPZ_Z = _bytes_of(lambda p: np.savez_compressed(
    p, x_train=make_split(6, 1)[0], y_train=make_split(6, 1)[1], x_test=make_split(3, 2)[0],
    y_test=make_split(3, 2)[1]))


@FUZZ
@given(data=st.one_of(st.binary(max_size=2000), _mutations(_VALID_DATA_NPZ), _mutations(_VALID_DATA_NPZ_Z)))
def test_npz_data_reader_only_raises_dataset_error(fuzz_dir: Path, data: bytes) -> None:
    path = fuzz_dir / "fuzz-data.npz"
    path.write_bytes(data)
    _expect_only(DatasetError, lambda: load_npz(path))


_VALID_SCRATCH = _bytes_of(lambda p: ScratchNet(6, 3, 4, seed=1).save(p))
_VALID_MNIST_SCRATCH = _bytes_of(lambda p: ScratchNet(784, 2, 10, seed=1).save(p))


@FUZZ
@given(data=st.one_of(st.binary(max_size=2000), _mutations(_VALID_SCRATCH)))
def test_scratch_model_loader_only_raises_model_file_error(fuzz_dir: Path, data: bytes) -> None:
    path = fuzz_dir / "fuzz-scratch.npz"
    path.write_bytes(data)
    _expect_only(ModelFileError, lambda: ScratchNet.load(path))


@FUZZ
@given(data=_mutations(_VALID_MNIST_SCRATCH))
def test_load_model_of_a_scratch_npz_only_raises_model_file_error(fuzz_dir: Path, data: bytes) -> None:
    path = fuzz_dir / "fuzz-model.npz"
    path.write_bytes(data)
    _expect_only(ModelFileError, lambda: load_model(path))


_VALID_FAKE_KERAS = _bytes_of(fake_keras)


@FUZZ
@given(data=st.one_of(st.binary(max_size=2000), _mutations(_VALID_FAKE_KERAS), _mutations(_VALID_SCRATCH)),
       suffix=st.sampled_from([".keras", ".npz"]))
def test_check_model_path_only_raises_model_file_error(fuzz_dir: Path, data: bytes, suffix: str) -> None:
    path = fuzz_dir / f"fuzz-check{suffix}"
    path.write_bytes(data)
    _expect_only(ModelFileError, lambda: check_model_path(path))
