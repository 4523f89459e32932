"""A warm trainer told the form's run (``hint``) readies its data and model before ``s``:
the job takes that data only while the files are unchanged, and the model built early
leaves the run's own weights as they would have been."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.config import preset_config
from mnist_tui.errors import DatasetError
from mnist_tui.runs import process
from mnist_tui.runs.process import _Lines, _Prefetch, run_job
from mnist_tui.runs.rundir import create_run_dir


def test_lines_say_whether_another_is_already_waiting() -> None:
    read, write = os.pipe()
    try:
        lines = _Lines(read)
        os.write(write, b"hint {}\nhint {\"a\": 1}\n")
        assert lines.next() == "hint {}"
        assert lines.pending()  # the newer hint is there: the first one is skipped
        assert lines.next() == 'hint {"a": 1}'
        assert not lines.pending()
        os.write(write, b'{"run": "x"}')
        os.close(write)
        write = -1
        assert lines.next() == '{"run": "x"}'  # the last line needs no newline
        assert lines.next() is None
    finally:
        os.close(read)
        if write >= 0:
            os.close(write)


def hint_text(data: Path, **changes: object) -> str:
    return json.dumps(preset_config("scratch").with_changes(data_path=str(data), **changes).to_dict())


def test_the_prefetched_data_stands_only_while_its_files_are_unchanged(tiny_idx_dir: Path, tmp_path: Path) -> None:
    fetch = _Prefetch()
    assert fetch.hint(hint_text(tiny_idx_dir), "none") == ["data"]
    assert fetch.hint(hint_text(tiny_idx_dir, limit=32), "none") == []  # the same files: nothing to redo
    cfg = preset_config("scratch").with_changes(data_path=str(tiny_idx_dir), limit=16)
    assert fetch.dataset_for(cfg) is fetch.dataset  # a subset is taken later, from the same arrays
    assert len(fetch.dataset.x_train) == 64
    other = tmp_path / "other"
    other.mkdir()
    assert fetch.dataset_for(cfg.with_changes(data_path=str(other))) is None
    train_file = next(tiny_idx_dir.glob("train-images*"))
    st = train_file.stat()
    os.utime(train_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # rewritten since
    assert fetch.dataset_for(cfg) is None
    assert fetch.hint(hint_text(tiny_idx_dir), "none") == ["data"]
    assert fetch.dataset_for(cfg) is fetch.dataset


def test_a_bad_hint_readies_nothing(tiny_idx_dir: Path) -> None:
    fetch = _Prefetch()
    assert fetch.hint("not json", "none") == []
    assert fetch.hint(json.dumps({"epochs": "many"}), "none") == []
    assert fetch.dataset is None
    assert fetch.hint(hint_text(tiny_idx_dir / "missing"), "none") == []  # the job's error to report, in its run
    assert fetch.dataset is None


def test_a_hung_data_path_does_not_hold_back_the_job(tiny_idx_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The data is read in a thread: when the next line (the job) arrives while that read
    hangs (a dead NFS mount), the hint gives up on it and the job goes ahead."""
    import threading

    from mnist_tui.data.sources import load_dataset

    entered, release = threading.Event(), threading.Event()

    def hanging_load(*args: object, **kwargs: object) -> object:
        entered.set()
        release.wait(30)
        return load_dataset(*args, **kwargs)

    monkeypatch.setattr(process, "load_dataset", hanging_load)
    fetch = _Prefetch()
    assert fetch.hint(hint_text(tiny_idx_dir), "none", pending=entered.is_set) == []  # the job "arrived"
    assert not release.is_set() and fetch.dataset is None
    release.set()  # the mount comes back: the read finishes on its own
    deadline = time.monotonic() + 10
    while fetch.dataset is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fetch.dataset is not None and len(fetch.dataset.x_train) == 64


def test_the_job_trains_on_the_prefetched_data_and_reloads_changed_files(
        real_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fetch = _Prefetch()
    fetch.hint(hint_text(real_data_dir), "none")
    monkeypatch.setattr(process, "_PREFETCH", fetch)

    def no_load(*args: object, **kwargs: object) -> None:
        raise DatasetError("loaded again")

    monkeypatch.setattr("mnist_tui.training.trainer.load_dataset", no_load)
    cfg = preset_config("scratch").with_changes(data_path=str(real_data_dir), limit=500, epochs=1)
    done = run_job(create_run_dir(tmp_path / "runs", cfg))
    assert done.status == "done" and done.epochs_completed == 1

    copy = tmp_path / "copy"  # the same data in other files: not what was prefetched
    copy.mkdir()
    for f in real_data_dir.glob("*.gz"):
        (copy / f.name).write_bytes(f.read_bytes())
    with pytest.raises(DatasetError, match="loaded again"):
        run_job(create_run_dir(tmp_path / "runs", cfg.with_changes(data_path=str(copy))))


def test_a_model_built_early_leaves_the_runs_own_weights_and_names_unchanged() -> None:
    import keras

    from mnist_tui.models.keras_models import build_model
    from mnist_tui.training.trainer import warm_model

    cfg = preset_config("mlp-small")
    keras.backend.clear_session()
    keras.utils.set_random_seed(cfg.seed)
    cold = build_model(cfg)
    keras.backend.clear_session()
    warm_model(cfg)
    keras.utils.set_random_seed(cfg.seed)
    warm = build_model(cfg)
    assert [v.path for v in warm.weights] == [v.path for v in cold.weights]
    for a, b in zip(cold.weights, warm.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a.numpy()), np.asarray(b.numpy()))

