"""Opening saved models: safe loading, clear errors, evaluation events."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from mnist_tui.config import preset_config
from mnist_tui.errors import ModelFileError
from mnist_tui.events import DataReady, Predictions, RunFinished
from mnist_tui.models.forward import load_checkpoint
from mnist_tui.runs.process import run_job
from mnist_tui.runs.rundir import create_run_dir
from tests.runs_helpers import train_run


@pytest.fixture(scope="module")
def trained_runs(real_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, SimpleNamespace]:
    out = tmp_path_factory.mktemp("runs")
    runs = {}
    for preset in ("mlp", "scratch"):
        cfg = preset_config(preset).with_changes(data_path=str(real_data_dir), limit=3000, epochs=1)
        path = train_run(out, cfg)
        runs[preset] = SimpleNamespace(run_dir=str(path), **json.loads((path / "summary.json").read_text()))
    return runs


@pytest.mark.parametrize("preset", ["mlp", "scratch"])
def test_open_saved_model_reproduces_the_runs_test_accuracy(trained_runs, real_data_dir: Path, tmp_path: Path,
                                                            preset: str) -> None:
    """``open`` evaluates in a run directory of its own, as a trainer process would, and
    leaves a checkpoint the app can run in NumPy for draw-a-digit."""
    trained = trained_runs[preset]
    model_file = next(Path(trained.run_dir).glob("model.*"))
    events: list[object] = []
    scratch_dir = create_run_dir(tmp_path, preset_config("mlp").with_changes(data_path=str(real_data_dir)))
    result = run_job(scratch_dir, "open", emit=events.append, model=str(model_file))
    assert result.test_accuracy == pytest.approx(trained.test_accuracy, abs=1e-6)
    assert [list(r) for r in result.confusion] == trained.confusion_matrix
    kinds = [type(e) for e in events]
    assert kinds.index(DataReady) < kinds.index(Predictions) < kinds.index(RunFinished)
    data = next(e for e in events if isinstance(e, DataReady))
    probs = next(e for e in events if isinstance(e, Predictions)).probabilities
    forward = load_checkpoint(scratch_dir / "checkpoint.npz")
    assert np.allclose(forward.predict(data.x_test[:200]), probs[:200], atol=1e-5)


def test_lambda_layer_is_refused_by_safe_mode(tmp_path: Path) -> None:
    import keras

    from mnist_tui.models.saved import load_model

    inp = keras.Input((784,))
    out = keras.layers.Dense(10, activation="softmax")(keras.layers.Lambda(lambda t: t * 2)(inp))
    path = tmp_path / "lambda.keras"
    keras.Model(inp, out).save(path)
    with pytest.raises(ModelFileError, match="Lambda layer"):
        load_model(path)


def test_bad_model_files_give_one_line_errors(trained_runs, tmp_path: Path) -> None:
    from mnist_tui.models.saved import load_model

    good = next(Path(trained_runs["mlp"].run_dir).glob("model.keras"))
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(good.read_bytes()[:4096])
    not_a_model = tmp_path / "notes.keras"
    not_a_model.write_text("hello")
    wrong_suffix = tmp_path / "model.h5"
    wrong_suffix.write_bytes(b"\x89HDF")
    bad_npz = tmp_path / "bad.npz"
    np.savez(bad_npz, W1=np.zeros(3))
    cases = {
        truncated: "not a Keras model", not_a_model: "not a Keras model", wrong_suffix: "expected .keras or .npz",
        tmp_path / "missing.keras": "no such file", tmp_path: "is a directory", bad_npz: "bad.npz",
    }
    for path, message in cases.items():
        with pytest.raises(ModelFileError) as info:
            load_model(path)
        text = str(info.value)
        assert message in text and "\n" not in text, text


def test_model_with_wrong_shapes_is_refused(tmp_path: Path) -> None:
    import keras

    from mnist_tui.models.saved import load_model

    wide = keras.Sequential([keras.Input((100,)), keras.layers.Dense(10, activation="softmax")])
    wide.save(tmp_path / "wide.keras")
    with pytest.raises(ModelFileError, match="not an MNIST image"):
        load_model(tmp_path / "wide.keras")
    five = keras.Sequential([keras.Input((784,)), keras.layers.Dense(5, activation="softmax")])
    five.save(tmp_path / "five.keras")
    with pytest.raises(ModelFileError, match="not 10 classes"):
        load_model(tmp_path / "five.keras")
