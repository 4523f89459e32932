"""The NumPy interpreter runs every preset's checkpoint exactly as Keras runs the model.

The app never imports TensorFlow: draw-a-digit and the network's activations come from
``mnist_tui.models.forward`` reading the trainer's checkpoint.npz. Each preset trains for a
few batches in a real run directory; the checkpoint's NumPy outputs must equal Keras's own
predictions of the saved model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mnist_tui.config import preset_config
from mnist_tui.data import load_dataset
from mnist_tui.errors import ModelFileError
from mnist_tui.models.forward import ForwardModel, check_spec, load_checkpoint
from mnist_tui.models.saved import load_model
from tests.runs_helpers import train_run


@pytest.mark.parametrize("preset", ["mlp", "mlp-small", "cnn", "scratch"])
def test_checkpoint_in_numpy_equals_the_trained_model(real_data_dir: Path, tmp_path: Path, preset: str) -> None:
    cfg = preset_config(preset).with_changes(data_path=str(real_data_dir), limit=640, epochs=1)
    run = train_run(tmp_path, cfg)
    forward = load_checkpoint(run / "checkpoint.npz")
    assert forward.epoch == 1
    x = load_dataset("mnist", real_data_dir).x_test[:64]
    expected = load_model(next(run.glob("model.*"))).predict(x)  # the final model = the epoch-1 end
    got = forward.predict(x)
    assert got.shape == (64, 10)
    assert np.allclose(got, expected, atol=2e-5), np.abs(got - expected).max()
    layers = forward.activations(x[:1])
    assert len(layers) == len(forward.layers) and layers[-1].shape == (1, 10)


def test_bad_checkpoints_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.npz")
    with pytest.raises(ModelFileError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="unsupported layer"):
        check_spec([{"kind": "lstm"}], [], "flat")
    with pytest.raises(ValueError, match="weight arrays"):
        check_spec([{"kind": "dense", "activation": "softmax"}], [np.zeros((784, 10))], "flat")
    with pytest.raises(ValueError, match="not 10 classes"):
        check_spec([{"kind": "dense", "activation": "softmax"}], [np.zeros((784, 5)), np.zeros(5)], "flat")


def test_same_padding_matches_keras_for_even_kernels() -> None:
    """Keras pads an even kernel's extra row/column after, not before: a 2×2 kernel that
    picks the bottom-right neighbour shows on which side the padding went."""
    kernel = np.zeros((2, 2, 1, 1), np.float32)
    kernel[1, 1, 0, 0] = 1.0
    model = ForwardModel(({"kind": "conv", "activation": "linear", "padding": "same"}, {"kind": "flatten"}),
                         (kernel, np.zeros(1, np.float32)), "image_channels")
    img = np.zeros((1, 28, 28), np.uint8)
    img[0, 5, 7] = 255
    out = model.activations(img)[0][0, :, :, 0]
    assert out[4, 6] == 1.0 and out.sum() == 1.0  # (5, 7) is the bottom-right neighbour of (4, 6)
