"""MNIST-style pre-processing of drawings: fit to 20×20, centre by mass, keep grey edges."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.data import load_dataset, one_hot
from mnist_tui.models.scratch import ScratchNet
from mnist_tui.render.preprocess import (
    brush_coverage,
    centre_of_mass,
    mnist_preprocess,
    resample_matrix,
    stamp,
    stamp_line,
)

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "mnist-test-200.npz"


def ink_box(img: np.ndarray) -> tuple[int, int]:
    """(height, width) of the bounding box of every non-zero pixel."""
    rows, cols = np.flatnonzero(img.any(axis=1)), np.flatnonzero(img.any(axis=0))
    return (len(rows) and rows[-1] - rows[0] + 1), (len(cols) and cols[-1] - cols[0] + 1)


def assert_centred(img: np.ndarray, tol: float = 1.0) -> None:
    cy, cx = centre_of_mass(img)
    assert abs(cy - 14) <= tol and abs(cx - 14) <= tol, (cy, cx)


def drawing(strokes: list[list[tuple[float, float]]], radius: float = 1, size: int = 28) -> np.ndarray:
    """A canvas with polylines painted by the same brush the draw view uses."""
    canvas = np.zeros((size, size), dtype=np.float32)
    for stroke in strokes:
        for a, b in itertools.pairwise(stroke):
            stamp_line(canvas, a, b, radius)
    return canvas


def test_an_l_drawn_in_a_corner_is_fitted_and_centred() -> None:
    canvas = drawing([[(1, 1), (9, 1), (9, 7)]])  # a small L in the top-left corner
    out = mnist_preprocess(canvas)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert_centred(out)
    assert max(ink_box(out)) in (19, 20, 21)
    assert out.max() == 255


def test_a_tall_thin_stroke_keeps_its_aspect_ratio() -> None:
    canvas = np.zeros((28, 28), dtype=np.float32)
    canvas[20:24, 2:18] = 1.0  # 4 tall, 16 wide, bottom-left
    wide = mnist_preprocess(canvas)
    assert ink_box(wide) == (5, 20)  # 4 × 20/16 = 5
    canvas = canvas.T.copy()  # 16 tall, 4 wide
    tall = mnist_preprocess(canvas)
    assert ink_box(tall) == (20, 5)
    assert_centred(tall)
    assert_centred(wide)


def test_grey_levels_are_anti_aliased() -> None:
    canvas = np.zeros((28, 28), dtype=np.uint8)
    canvas[3:26, 10:13] = 255  # hard-edged, 23 tall: shrinking must leave grey edge pixels
    out = mnist_preprocess(canvas)
    grey = (out > 0) & (out < 255)
    assert grey.any()
    assert ink_box(out)[0] == 20


def test_an_empty_canvas_gives_zeros() -> None:
    for empty in (np.zeros((28, 28)), np.zeros((28, 28), dtype=np.uint8), np.zeros((40, 10))):
        out = mnist_preprocess(empty)
        assert out.shape == (28, 28) and out.dtype == np.uint8 and not out.any()
    with pytest.raises(ValueError, match="2-D"):
        mnist_preprocess(np.zeros((28, 28, 1)))


def test_any_canvas_size_and_a_single_dot() -> None:
    big = drawing([[(10, 30), (90, 40)]], radius=4, size=100)
    assert_centred(mnist_preprocess(big))
    assert max(ink_box(mnist_preprocess(big))) == 20
    dot = np.zeros((28, 28))
    dot[0, 27] = 0.5
    out = mnist_preprocess(dot)  # one pixel blown up to 20×20, in the middle
    assert ink_box(out) == (20, 20) and out.max() == 255
    assert_centred(out, tol=0.5)


def test_centre_of_mass() -> None:
    img = np.zeros((28, 28))
    img[2, 3] = 1
    img[4, 7] = 3
    assert centre_of_mass(img) == pytest.approx((3.5, 6.0))
    assert centre_of_mass(np.zeros((28, 28))) == (13.5, 13.5)


def test_resample_matrix_is_identity_at_scale_one_and_keeps_mass() -> None:
    np.testing.assert_allclose(resample_matrix(20, 20), np.eye(20))
    for n_in, n_out in ((28, 20), (5, 20), (100, 20), (1, 20)):
        w = resample_matrix(n_in, n_out)
        assert w.shape == (n_out, n_in) and (w >= 0).all()
        assert (w.sum(axis=1) <= 1 + 1e-9).all()  # edges fade into the background
        if n_out < n_in:
            np.testing.assert_allclose(w.sum(), n_out, rtol=0.1)  # a flat source stays (nearly) flat
    edge = resample_matrix(3, 3, 20 / 23)  # 3 px shrunk to 2.6: both edge pixels part-covered
    assert edge.sum(axis=1)[[0, 2]].max() < 0.9 and edge.sum(axis=1)[1] == pytest.approx(1)


def test_real_mnist_digits_are_left_as_they_are() -> None:
    """MNIST was made this way, so its digits are (almost) fixed points."""
    with np.load(SAMPLE, allow_pickle=False) as npz:
        x = npz["x"][:20]
    for digit in x:
        out = mnist_preprocess(digit)
        assert_centred(out)
        corr = np.corrcoef(out.ravel().astype(float), digit.ravel().astype(float))[0, 1]
        assert corr > 0.9
        assert np.abs(out.astype(int) - digit).max() <= 1  # only the stretch of max to 255


def test_stamp_radius_and_soft_edge() -> None:
    sizes = []
    for radius in (1, 2, 3, 4):
        canvas = np.zeros((28, 28), dtype=np.float32)
        assert stamp(canvas, 14, 14, radius)
        full = canvas == 1.0
        sizes.append(int(full.sum()))
        rows = np.flatnonzero(full.any(axis=1))
        assert rows[-1] - rows[0] + 1 == 2 * radius - 1  # a solid core of diameter 2r − 1
        assert ((canvas > 0) & (canvas < 1)).any()  # and an anti-aliased rim
        assert not canvas[14, 14 + radius + 1 :].any()  # nothing beyond radius + 0.5
    assert sizes == sorted(sizes) and len(set(sizes)) == 4
    assert brush_coverage(1, np.array([0.0, 1.0, 1.5, 2.0])).tolist() == [1.0, 0.5, 0.0, 0.0]


def test_stamp_clips_at_the_edges_erases_and_never_exceeds_value() -> None:
    canvas = np.zeros((28, 28), dtype=np.float32)
    assert stamp(canvas, 0, 0, 3)
    assert canvas[0, 0] == 1.0 and canvas.max() == 1.0
    assert not stamp(canvas, 0, 0, 3)  # the same dab again changes nothing
    assert not stamp(canvas, -20, -20, 2)  # off the canvas entirely
    assert stamp(canvas, 0, 0, 3, erase=True)
    assert not canvas.any()  # erasing with the same brush leaves no ghost
    grey = np.zeros((28, 28), dtype=np.float32)
    stamp(grey, 5.5, 5, 2, value=0.4)
    assert grey.max() == pytest.approx(0.4) and grey[5, 5] == grey[6, 5]  # between two rows: both


def test_stamp_line_leaves_no_gaps() -> None:
    canvas = drawing([[(2, 2), (25, 20)]])
    for t in np.linspace(0, 1, 50):
        r, c = 2 + t * 23, 2 + t * 18
        assert canvas[round(r), round(c)] > 0.3


def test_preprocessing_keeps_real_digits_recognisable(real_data_dir: Path) -> None:
    """A scratch net trained on MNIST still reads digits after preprocessing, even moved and shrunk."""
    ds = load_dataset(path=real_data_dir)
    x = ds.x_train[:5000].reshape(-1, 784).astype(np.float32) / 255
    y = one_hot(ds.y_train[:5000])
    net = ScratchNet(seed=0)
    rng = np.random.default_rng(0)
    for _epoch in range(2):  # the scratch preset's recipe: SGD, lr 0.5, batch 32
        order = rng.permutation(len(x))
        for i in range(0, len(x), 32):
            batch = order[i : i + 32]
            net.train_batch(x[batch], y[batch], 0.5)

    def predict(images: np.ndarray) -> np.ndarray:
        return net.predict_proba(images.reshape(len(images), -1).astype(np.float32) / 255).argmax(axis=1)

    x_test, y_test = ds.x_test[:200], ds.y_test[:200]
    as_given = (predict(x_test) == y_test).mean()
    processed = np.stack([mnist_preprocess(d) for d in x_test])
    accuracy = (predict(processed) == y_test).mean()
    assert accuracy >= 0.85 and accuracy >= as_given - 0.01

    # The same digits drawn smaller in a corner, as a user might: unreadable until preprocessed
    # (which costs a little: shrinking and re-enlarging blurs them).
    shrink = resample_matrix(28, 20)
    moved = np.zeros_like(x_test)
    moved[:, :20, :20] = np.rint(np.einsum("ij,njk,lk->nil", shrink, x_test.astype(float), shrink))
    assert (predict(moved) == y_test).mean() < 0.3
    fixed = np.stack([mnist_preprocess(d) for d in moved])
    assert all(abs(c - 14) <= 1 for d in fixed for c in centre_of_mass(d))
    assert (predict(fixed) == y_test).mean() >= min(0.85, as_given - 0.05)

    # And digits drawn with the canvas brush come out as themselves.
    strokes = {
        1: [[(3, 14), (24, 14)]],
        4: [[(3, 8), (15, 8), (15, 22)], [(5, 18), (25, 18)]],
        7: [[(4, 6), (4, 21), (24, 10)]],
    }
    drawn = np.stack([mnist_preprocess(drawing(s)) for s in strokes.values()])
    assert predict(drawn).tolist() == list(strokes)
