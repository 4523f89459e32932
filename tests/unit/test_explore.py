"""The Explore view's pure helpers: dataset facts, one-hot, activations, softmax overflow, batches."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mnist_tui.models.scratch import softmax
from mnist_tui.render.explore import (
    activation_curves,
    count_ticks,
    dataset_facts,
    digits_row_text,
    downsample2,
    format_vector,
    one_hot_text,
    sample_grid,
    softmax_naive,
    softmax_stable,
    steps_per_epoch,
)
from tests.ui.fakes import sample_digits


def test_dataset_facts_on_the_200_sample_digits() -> None:
    x, y = sample_digits()
    facts = dataset_facts(x, y, x[:50], y[:50])
    assert facts["arrays"]["x_train"] == ((200, 28, 28), "uint8")
    assert facts["arrays"]["y_train"] == ((200,), str(y.dtype))
    assert facts["arrays"]["x_test"] == ((50, 28, 28), "uint8")
    assert (facts["raw_min"], facts["raw_max"], facts["raw_dtype"]) == (0, 255, "uint8")
    assert (facts["norm_min"], facts["norm_max"], facts["norm_dtype"]) == (0.0, 1.0, "float32")
    counts = facts["train_counts"]
    assert counts.shape == (10,) and counts.sum() == 200
    assert counts.tolist() == [int((y == k).sum()) for k in range(10)]
    assert facts["test_counts"].sum() == 50


def test_normalised_range_matches_really_normalising() -> None:
    x, y = sample_digits()
    x = (x // 2).astype(np.uint8)  # max 127, so the range is not trivially 0..1
    facts = dataset_facts(x, y, x, y)
    real = x.astype(np.float32) / np.float32(255)
    assert facts["raw_max"] == 127
    assert facts["norm_max"] == float(real.max()) and facts["norm_min"] == float(real.min())


def test_one_hot_text_shows_both_forms() -> None:
    assert one_hot_text(7) == "sparse   7\none-hot  [0 0 0 0 0 0 0 1 0 0]"
    assert one_hot_text(0).endswith("[1 0 0 0 0 0 0 0 0 0]")


def test_naive_softmax_overflows_and_stable_does_not() -> None:
    big = np.array([1000.0, 1001.0, 1002.0])
    naive = softmax_naive(big)
    assert not np.isfinite(naive).all()  # inf/inf = nan
    stable = softmax_stable(big)
    assert np.isfinite(stable).all() and stable.sum() == pytest.approx(1.0)
    assert stable == pytest.approx([0.0900306, 0.2447285, 0.6652410], abs=1e-6)
    small = np.array([1.0, 2.0, 3.0])
    assert softmax_naive(small) == pytest.approx(softmax_stable(small))
    assert stable == pytest.approx(softmax_stable(small))  # shift invariance: z − 999 = small
    assert softmax_stable is softmax  # the model's own softmax, not a copy
    with np.errstate(all="raise"):
        softmax_naive(big)  # warnings are silenced inside, even when the caller raises on them


def test_activation_values_at_known_points() -> None:
    xs = np.array([-1.0, 0.0, 2.0, -1000.0, 1000.0])
    c = activation_curves(xs)
    assert c["relu"].tolist() == [0.0, 0.0, 2.0, 0.0, 1000.0]
    assert c["sigmoid"][1] == 0.5 and c["sigmoid"][2] == pytest.approx(1 / (1 + math.exp(-2)))
    assert c["sigmoid"][3] == 0.0 and c["sigmoid"][4] == 1.0  # saturates without overflowing
    assert c["tanh"][1] == 0.0 and c["tanh"][0] == pytest.approx(math.tanh(-1))
    assert c["softmax"].sum() == pytest.approx(1.0) and np.isfinite(c["softmax"]).all()


def test_steps_per_epoch_is_ceil() -> None:
    assert steps_per_epoch(60000, 128) == 469
    assert steps_per_epoch(60000, 100) == 600
    assert steps_per_epoch(200, 32) == 7
    assert steps_per_epoch(1, 512) == 1 and steps_per_epoch(0, 32) == 0
    with pytest.raises(ValueError):
        steps_per_epoch(100, 0)


def test_sample_grid_picks_each_class_and_wraps() -> None:
    x, y = sample_digits()
    grid = sample_grid(x, y, per_class=3)
    assert grid.shape == (10, 3)
    for k in range(10):
        assert (y[grid[k]] == k).all()
        assert grid[k].tolist() == np.flatnonzero(y == k)[:3].tolist()
    n8 = int((y == 8).sum())
    assert sample_grid(x, y, per_class=1, start=n8)[8, 0] == np.flatnonzero(y == 8)[0]  # wraps
    missing = sample_grid(x[y != 3], y[y != 3], per_class=2)
    assert missing[3].tolist() == [-1, -1] and (missing[4] >= 0).all()


def test_downsample2_and_small_digit_row() -> None:
    img = np.zeros((28, 28), dtype=np.uint8)
    img[:2, :2] = [[255, 255], [255, 0]]
    small = downsample2(img)
    assert small.shape == (14, 14) and small[0, 0] == 191 and small[1:, :].max() == 0
    x, _ = sample_digits()
    text = digits_row_text([x[0], x[1], x[2]], ["7", "2", "1"], "ascii")
    lines = text.plain.split("\n")
    assert len(lines) == 1 + 7 and all(len(line) == 3 * 14 + 2 for line in lines)
    assert lines[0].split() == ["7", "2", "1"]


def test_small_formatting_helpers() -> None:
    assert format_vector(np.array([1000.0, 1001.0]), 0) == "[1000 1001]"
    assert format_vector(np.array([np.nan, np.inf, 0.5])) == "[nan inf 0.500]"
    assert count_ticks(28) == [0, 10, 20] and count_ticks(6742) == [0, 2000, 4000, 6000]
    assert count_ticks(0) == [0]


def test_explore_helpers_import_neither_textual_nor_tensorflow() -> None:
    from tests.unit.test_import_hygiene import loaded_after

    top = loaded_after(["mnist_tui.render.explore"])
    assert "numpy" in top and not top & {"textual", "tensorflow", "keras"}, top
