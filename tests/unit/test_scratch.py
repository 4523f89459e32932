"""Tests for the NumPy-only two-layer network: maths, training on real MNIST, file IO."""

from __future__ import annotations

import functools
import gzip
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.errors import ModelFileError
from mnist_tui.models.scratch import (
    ACTIVATIONS,
    ScratchNet,
    cross_entropy,
    softmax,
)

# Defaults proposed for the ``scratch`` preset: plain SGD, no momentum.
SCRATCH_LR = 0.5
SCRATCH_BATCH = 32
SCRATCH_EPOCHS = 3
SHARED_MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist-20k"  # ../shared beside the repo
IDX_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


# ---------------------------------------------------------------- helpers
def _read_idx_images(path: Path) -> np.ndarray:
    """Parse a gzipped IDX3 image file into (N, 784) float32 in [0, 1]."""
    raw = gzip.decompress(path.read_bytes())
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 784).astype(
        np.float32
    ) / np.float32(255.0)


def _read_idx_labels(path: Path) -> np.ndarray:
    """Parse a gzipped IDX1 label file into int64 labels."""
    raw = gzip.decompress(path.read_bytes())
    return np.frombuffer(raw, dtype=np.uint8, offset=8).astype(np.int64)


@functools.cache
def _load_mnist(data_dir: Path) -> tuple[np.ndarray, ...]:
    """Parse the four IDX files once per session; both real-data tests share them."""
    files = [data_dir / name for name in IDX_NAMES]
    if not all(f.is_file() for f in files):
        pytest.skip(f"real MNIST files not found in {data_dir}")
    x_tr, x_te = _read_idx_images(files[0]), _read_idx_images(files[2])
    y_tr, y_te = _read_idx_labels(files[1]), _read_idx_labels(files[3])
    assert x_tr.shape[0] == y_tr.shape[0] and x_te.shape[0] == y_te.shape[0]
    return x_tr, y_tr, x_te, y_te


@pytest.fixture
def mnist(request: pytest.FixtureRequest) -> tuple[np.ndarray, ...]:
    """Real MNIST arrays; prefers the shared ``real_data_dir`` fixture when it exists."""
    try:
        data_dir = Path(request.getfixturevalue("real_data_dir"))
    except pytest.FixtureLookupError:
        data_dir = SHARED_MNIST
    return _load_mnist(data_dir)


def _fit(
    net: ScratchNet,
    x: np.ndarray,
    y: np.ndarray,
    *,
    lr: float,
    batch: int,
    epochs: int,
    momentum: float = 0.0,
    seed: int = 0,
) -> list[float]:
    """Shuffled mini-batch SGD; returns the mean training loss of each epoch."""
    eye = np.eye(net.n_out, dtype=np.float32)
    rng = np.random.default_rng(seed)
    epoch_losses = []
    for _ in range(epochs):
        order = rng.permutation(x.shape[0])
        losses = []
        for start in range(0, order.size, batch):
            idx = order[start : start + batch]
            loss, acc = net.train_batch(x[idx], eye[y[idx]], lr, momentum)
            assert np.isfinite(loss) and 0.0 <= acc <= 1.0
            losses.append(loss)
        epoch_losses.append(float(np.mean(losses)))
    return epoch_losses


def _tiny_problem(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((8, 6))
    y = np.eye(4)[rng.integers(0, 4, size=8)]
    return x, y


# ------------------------------------------------------------------ maths
def test_softmax_stable_for_huge_inputs() -> None:
    z = np.array([[1000.0, 1001.0], [-1e4, 1e4], [3e38, 3e38]], dtype=np.float32)
    p = softmax(z)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    e = np.exp(-1.0)
    np.testing.assert_allclose(p[0], [e / (1 + e), 1 / (1 + e)], rtol=1e-5)
    np.testing.assert_allclose(p[1], [0.0, 1.0], atol=1e-7)


def test_softmax_matches_naive_on_small_inputs() -> None:
    z = np.random.default_rng(0).normal(size=(5, 7))
    naive = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(softmax(z), naive, rtol=1e-12)


def test_cross_entropy_mean_and_clipping() -> None:
    probs = np.array([[0.5, 0.5], [0.0, 1.0]])
    y = np.array([[1.0, 0.0], [1.0, 0.0]])
    expected = (-np.log(0.5) - np.log(1e-12)) / 2
    assert cross_entropy(probs, y) == pytest.approx(expected)
    assert cross_entropy(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]])) == 0.0


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_numerical_gradient_check(activation: str) -> None:
    net = ScratchNet(6, 5, 4, activation=activation, seed=3, dtype=np.float64)
    # Non-zero biases so their gradients and the relu kinks are exercised properly.
    rng = np.random.default_rng(7)
    net.params["b1"] = rng.normal(scale=0.3, size=5)
    net.params["b2"] = rng.normal(scale=0.3, size=4)
    x, y = _tiny_problem()
    loss, grads, probs = net.loss_and_grads(x, y)
    assert probs.shape == (8, 4) and loss == pytest.approx(cross_entropy(probs, y))
    assert set(grads) == set(net.params)
    eps = 1e-5
    for key, param in net.params.items():
        assert grads[key].shape == param.shape and grads[key].dtype == np.float64
        numeric = np.zeros_like(param)
        for i in np.ndindex(param.shape):
            orig = param[i]
            param[i] = orig + eps
            plus = net.loss_and_grads(x, y)[0]
            param[i] = orig - eps
            minus = net.loss_and_grads(x, y)[0]
            param[i] = orig
            numeric[i] = (plus - minus) / (2 * eps)
        denom = np.maximum(np.abs(numeric) + np.abs(grads[key]), 1e-8)
        rel = np.abs(numeric - grads[key]) / denom
        assert rel.max() < 1e-4, f"{activation} {key}: rel err {rel.max():.2e}"


def test_float32_default_everywhere() -> None:
    net = ScratchNet(6, 5, 4)
    assert all(p.dtype == np.float32 for p in net.params.values())
    x, y = _tiny_problem()
    _loss, grads, probs = net.loss_and_grads(x, y)  # float64 input gets cast
    assert probs.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    net.train_batch(x, y, lr=0.1, momentum=0.9)
    assert all(p.dtype == np.float32 for p in net.params.values())


# --------------------------------------------------------- construction
def test_param_count_and_summary() -> None:
    net = ScratchNet(hidden=100)
    assert net.param_count == 79510
    rows = net.summary_rows()
    assert rows == [
        ("dense_hidden (sigmoid)", "(None, 100)", 78500),
        ("dense_out (softmax)", "(None, 10)", 1010),
    ]
    assert sum(r[2] for r in rows) == net.param_count
    relu = ScratchNet(hidden=32, activation="relu")
    assert relu.summary_rows()[0][0] == "dense_hidden (relu)"
    assert sum(r[2] for r in relu.summary_rows()) == relu.param_count


def test_shapes_and_init_scales() -> None:
    sig = ScratchNet(activation="sigmoid", seed=0)
    relu = ScratchNet(activation="relu", seed=0)
    assert sig.params["W1"].shape == (784, 100) and sig.params["b1"].shape == (100,)
    assert sig.params["W2"].shape == (100, 10) and sig.params["b2"].shape == (10,)
    assert sig.params["W1"].std() == pytest.approx(np.sqrt(2 / 884), rel=0.05)
    assert relu.params["W1"].std() == pytest.approx(np.sqrt(2 / 784), rel=0.05)
    assert np.all(sig.params["b1"] == 0)
    again = ScratchNet(activation="sigmoid", seed=0)
    np.testing.assert_array_equal(sig.params["W1"], again.params["W1"])
    probs = sig.forward(np.random.default_rng(0).random((3, 784), dtype=np.float32))
    assert probs.shape == (3, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_unknown_activation_raises() -> None:
    with pytest.raises(ValueError, match="tanh"):
        ScratchNet(activation="tanh")


def test_momentum_update_rule() -> None:
    net = ScratchNet(6, 5, 4, seed=2, dtype=np.float64)
    x, y = _tiny_problem()
    before = {k: v.copy() for k, v in net.params.items()}
    g1 = net.loss_and_grads(x, y)[1]
    net.train_batch(x, y, lr=0.1, momentum=0.9)
    mid = {k: v.copy() for k, v in net.params.items()}
    g2 = net.loss_and_grads(x, y)[1]
    net.train_batch(x, y, lr=0.1, momentum=0.9)
    for k, start in before.items():
        v1 = -0.1 * g1[k]
        np.testing.assert_allclose(mid[k], start + v1, rtol=1e-12)
        np.testing.assert_allclose(net.params[k], mid[k] + 0.9 * v1 - 0.1 * g2[k])


def test_train_batch_reports_pre_update_metrics() -> None:
    net = ScratchNet(6, 5, 4, seed=0, dtype=np.float64)
    x, y = _tiny_problem()
    probs = net.forward(x)
    loss, acc = net.train_batch(x, y, lr=0.5)
    assert loss == pytest.approx(cross_entropy(probs, y))
    assert acc == pytest.approx(np.mean(probs.argmax(1) == y.argmax(1)))
    assert net.loss_and_grads(x, y)[0] < loss


def test_predict_proba_chunking_and_evaluate() -> None:
    net = ScratchNet(6, 5, 4, seed=0)
    x = np.random.default_rng(0).random((37, 6), dtype=np.float32)
    np.testing.assert_allclose(net.predict_proba(x, batch_size=5), net.forward(x))
    y = net.forward(x).argmax(axis=1)
    loss, acc = net.evaluate(x, y)
    assert acc == 1.0
    assert loss == pytest.approx(cross_entropy(net.forward(x), np.eye(4)[y]), rel=1e-5)


# -------------------------------------------------------------- real data
def test_sigmoid_reaches_90_percent_on_real_mnist(
    mnist: tuple[np.ndarray, ...],
) -> None:
    x_tr, y_tr, x_te, y_te = mnist
    net = ScratchNet(activation="sigmoid", seed=0)
    start = time.perf_counter()
    losses = _fit(
        net, x_tr, y_tr, lr=SCRATCH_LR, batch=SCRATCH_BATCH, epochs=SCRATCH_EPOCHS
    )
    elapsed = time.perf_counter() - start
    test_loss, test_acc = net.evaluate(x_te, y_te)
    assert x_te.shape[0] >= 10000
    assert test_acc > 0.90, f"test acc {test_acc:.4f} (losses {losses})"
    assert losses[-1] < losses[0]
    assert test_loss < 0.4
    assert elapsed > 0  # speed is benchmarks/'s business, not a timed test's


def test_relu_learns_on_real_mnist(mnist: tuple[np.ndarray, ...]) -> None:
    x_tr, y_tr, x_te, y_te = mnist
    net = ScratchNet(activation="relu", hidden=64, seed=1)
    initial_loss, initial_acc = net.evaluate(x_te, y_te)
    losses = _fit(
        net, x_tr[:5000], y_tr[:5000], lr=0.05, batch=64, epochs=2, momentum=0.9
    )
    loss, acc = net.evaluate(x_te, y_te)
    assert losses[1] < losses[0]
    assert loss < initial_loss
    assert acc > 0.80 and acc > initial_acc + 0.5


# --------------------------------------------------------------------- io
def test_save_load_round_trip(tmp_path: Path) -> None:
    net = ScratchNet(6, 5, 4, activation="relu", seed=4)
    x, y = _tiny_problem()
    net.train_batch(x, y, lr=0.3)
    path = tmp_path / "sub" / "model.npz"
    net.save(path)
    assert path.is_file()
    # The temp file was renamed into place, not left behind.
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.npz"]
    with np.load(path, allow_pickle=False) as data:
        assert set(data.files) == {"W1", "b1", "W2", "b2", "activation", "hidden"}
        assert data["activation"].dtype.kind == "U" and data["activation"].shape == ()
        assert str(data["activation"]) == "relu" and int(data["hidden"]) == 5
    loaded = ScratchNet.load(str(path))
    assert loaded.activation == "relu" and loaded.hidden == 5
    assert (loaded.n_in, loaded.n_out) == (6, 4)
    for k, v in net.params.items():
        np.testing.assert_array_equal(loaded.params[k], v)
        assert loaded.params[k].dtype == np.float32
    np.testing.assert_array_equal(loaded.predict_proba(x), net.predict_proba(x))


def test_save_overwrites_atomically(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    ScratchNet(6, 5, 4, seed=0).save(path)
    second = ScratchNet(6, 3, 4, activation="relu", seed=1)
    second.save(path)
    assert ScratchNet.load(path).hidden == 3
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_load_garbage_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "garbage.npz"
    path.write_bytes(b"this is not a zip file at all\x00\x01")
    with pytest.raises(ModelFileError, match="garbage.npz") as info:
        ScratchNet.load(path)
    assert "\n" not in str(info.value)


def test_load_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="nope.npz"):
        ScratchNet.load(tmp_path / "nope.npz")


def test_load_plain_npy_raises(tmp_path: Path) -> None:
    path = tmp_path / "array.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(ModelFileError, match="array.npy"):
        ScratchNet.load(path)


def test_load_npz_missing_keys_raises(tmp_path: Path) -> None:
    path = tmp_path / "partial.npz"
    np.savez(path, W1=np.zeros((6, 5), np.float32), b1=np.zeros(5, np.float32))
    with pytest.raises(ModelFileError, match="partial.npz.*W2"):
        ScratchNet.load(path)


def test_load_wrong_shapes_raises(tmp_path: Path) -> None:
    path = tmp_path / "shapes.npz"
    np.savez(
        path,
        W1=np.zeros((6, 5), np.float32),
        b1=np.zeros(4, np.float32),
        W2=np.zeros((5, 4), np.float32),
        b2=np.zeros(4, np.float32),
        activation=np.array("sigmoid"),
        hidden=np.array(5),
    )
    with pytest.raises(ModelFileError, match="shapes.npz"):
        ScratchNet.load(path)


def test_load_pickled_npz_raises(tmp_path: Path) -> None:
    path = tmp_path / "pickled.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("W1.npy", b"\x80\x04not really a pickle")
    with pytest.raises(ModelFileError, match="pickled.npz"):
        ScratchNet.load(path)
