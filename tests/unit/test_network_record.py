"""The per-epoch network record: its size per preset, dead units against a direct NumPy pass,
histograms that count every weight in fixed bins, update sizes, and the recorder's side of it
(written after the checkpoint, read back by the follower, resumed runs, switched off)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.config import TrainConfig, preset_config
from mnist_tui.events import Checkpointed, DataReady, NetworkSaved
from mnist_tui.history import RunHistory
from mnist_tui.models import network_record as nr
from mnist_tui.models.spec import layers_for
from mnist_tui.runs.follow import RunFollower
from mnist_tui.runs.recorder import NETWORK_ENV, RunRecorder
from mnist_tui.runs.rundir import INITIAL_CHECKPOINT, create_run_dir, network_file
from tests.runs_helpers import train_run
from tests.ui.fakes import fake_snapshot as snapshot
from tests.ui.fakes import sample_digits


# ----------------------------------------------------------------------------- the record
@pytest.mark.parametrize(("preset", "most"), [("mlp", 120_000), ("mlp-small", 90_000), ("scratch", 90_000),
                                              ("cnn", 10_000)])
def test_the_record_is_small_and_keeps_what_the_tab_shows(preset: str, most: int) -> None:
    cfg = preset_config(preset)
    x, _ = sample_digits()
    record = nr.network_record(snapshot(cfg), x, nr.kernels(snapshot(cfg, seed=1)))
    size = nr.record_size(record)
    assert size < most, size
    meta = nr.record_meta(record)
    assert [layer["kind"] for layer in meta["layers"]] == [la.kind for la in layers_for(cfg) if la.kind in
                                                             ("dense", "conv")]
    if preset == "cnn":
        assert record["filters"].shape == (32, 5, 5) and "units" not in record and meta["hidden"] is None
        assert sum(a.nbytes for a in record.values()) < 10_000  # never the 3.1 M dense weights
    else:
        units = cfg.hidden_units
        assert record["units"].shape == (min(units, nr.MAX_UNITS), 28, 28) and record["dead"].shape == (units,)
        images = nr.unit_images(record)
        kernel = snapshot(cfg)["w000"]
        first = kernel[:, :len(images)].T.reshape(-1, 28, 28)
        assert np.abs(images - first).max() <= np.abs(first).max() / 127  # int8 with a per-unit scale


def test_histograms_count_every_weight_in_the_same_bins_at_every_epoch() -> None:
    cfg = preset_config("mlp-small")
    early, late = (nr.network_record(snapshot(cfg, scale=s)) for s in (1.0, 6.0))  # the weights spread
    for record, arrays in ((early, snapshot(cfg)), (late, snapshot(cfg, scale=6.0))):
        sizes = [layer.kernel.size for layer in nr.weight_layers(arrays)]
        assert record["hist_counts"].sum(axis=1).tolist() == sizes
        for counts, edges, layer in zip(record["hist_counts"], record["hist_edges"], nr.weight_layers(arrays),
                                        strict=True):
            inside, _ = np.histogram(layer.kernel, edges)
            assert counts[1:-1].tolist() == inside.tolist()
            assert counts[0] == (layer.kernel < edges[0]).sum() and counts[-1] == (layer.kernel > edges[-1]).sum()
    assert np.array_equal(early["hist_edges"], late["hist_edges"])
    assert early["hist_counts"][:, [0, -1]].sum() == 0 and late["hist_counts"][:, [0, -1]].sum() > 0


def test_non_finite_weights_count_as_beyond_the_edges() -> None:
    edges = nr.histogram_edges((784, 100))
    counts = nr.histogram(np.array([np.nan, np.inf, -np.inf, 0.0], np.float32), edges)
    assert counts.sum() == 4 and counts[-1] == 3


def test_update_sizes_are_the_relative_change_of_each_kernel() -> None:
    cfg = preset_config("scratch")
    before = snapshot(cfg)
    after = {k: v.copy() for k, v in before.items()}
    after["w000"] = before["w000"] * 1.1  # 10 % larger
    record = nr.network_record(after, previous=nr.kernels(before))
    assert record["updates"][0] == pytest.approx(0.1, rel=1e-4) and record["updates"][1] == 0.0
    assert np.isnan(nr.network_record(after)["updates"]).all()  # no previous epoch: unknown
    assert record["norms"][0] == pytest.approx(np.linalg.norm(after["w000"]), rel=1e-5)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_dead_units_are_exactly_those_a_full_pass_finds(activation: str) -> None:
    x, _ = sample_digits()
    x = np.concatenate([x] * 8)  # 1,600 images: past both first chunks
    rng = np.random.default_rng(3)
    kernel = rng.normal(0, 0.05, (784, 300)).astype(np.float32)
    bias = rng.normal(0, 0.5, 300).astype(np.float32)
    bias[:40] = -50.0  # dead: relu always 0, sigmoid and tanh saturated low
    bias[40:50] = 50.0  # saturated high: dead for sigmoid and tanh, alive for relu
    kernel[:, 50] = 0.0
    bias[50] = -1e-3  # dead for relu only
    flat = x.reshape(len(x), -1)
    flat[:, 0] = 0
    flat[1500, 0] = 255  # past the first 1,280: only the last pass can find unit 60 alive
    kernel[:, 60], bias[60] = 0.0, -1.0
    kernel[0, 60] = 3.0
    z = (x.reshape(len(x), -1).astype(np.float32) / 255) @ kernel + bias
    direct = ~nr.responsive(z, activation).any(axis=0)
    found = nr.dead_units(x, kernel, bias, activation)
    assert np.array_equal(found, direct)
    assert found[:40].all()
    assert found[40:50].all() == (activation != "relu") and found[50] == (activation == "relu")
    assert not found[60]  # alive: found by the last pass (relu), or responsive anywhere (sigmoid, tanh)
    dead, witness = nr.find_dead_units(x, kernel, bias, activation)
    alive = np.flatnonzero(~dead)
    assert np.array_equal(dead, direct) and (witness[dead] == -1).all()
    assert nr.responsive(z[witness[alive], alive], activation).all()  # each witness really wakes its unit
    moved = kernel + rng.normal(0, 0.02, kernel.shape).astype(np.float32)  # the next epoch: witnesses mostly hold
    z2 = (x.reshape(len(x), -1).astype(np.float32) / 255) @ moved + bias
    again, _ = nr.find_dead_units(nr.scaled_images(x), moved, bias, activation, witness)
    assert np.array_equal(again, ~nr.responsive(z2, activation).any(axis=0))


# ----------------------------------------------------------------------------- the recorder
def recorder_run(tmp_path: Path, cfg: TrainConfig) -> tuple[Path, RunRecorder]:
    path = create_run_dir(tmp_path, cfg)
    rec = RunRecorder(path, cfg)
    x, y = sample_digits()
    rec(DataReady(64, 0, len(y), 2, 2, 32, tuple("0123456789"), "test", "test set", x, y))
    return path, rec


def test_the_recorder_writes_records_after_each_checkpoint_and_the_follower_reads_them(tmp_path: Path) -> None:
    cfg = preset_config("mlp-small").with_changes(epochs=2)
    path, rec = recorder_run(tmp_path, cfg)
    rec.initial_weights(snapshot(cfg, epoch=0) | {"o000": np.zeros(3, np.float32)})
    rec.checkpoint(1, snapshot(cfg, epoch=1, seed=1))
    rec.checkpoint(2, snapshot(cfg, epoch=2, seed=2))
    rec.close()
    with np.load(path / INITIAL_CHECKPOINT) as npz:
        assert "o000" not in npz.files and np.array_equal(npz["w000"], snapshot(cfg, epoch=0)["w000"])
    events = RunFollower(path).read()
    kinds = [(type(e).__name__, e.epoch) for e in events if isinstance(e, (Checkpointed, NetworkSaved))]
    assert kinds == [("NetworkSaved", 0), ("Checkpointed", 1), ("NetworkSaved", 1), ("Checkpointed", 2),
                     ("NetworkSaved", 2)]
    history = RunHistory()
    for event in events:
        history.record(event)
    assert history.network_epochs() == [0, 1, 2]
    one = history.network_by_epoch[1].record
    assert one is not None and np.isfinite(one["updates"]).all()  # measured against the initial weights
    expected = nr.network_record(snapshot(cfg, epoch=1, seed=1), sample_digits()[0],
                                 nr.kernels(snapshot(cfg, epoch=0)))
    assert np.array_equal(one["dead"], expected["dead"]) and np.allclose(one["updates"], expected["updates"])


def test_a_resumed_run_measures_its_first_update_against_the_checkpoint_it_resumed(tmp_path: Path) -> None:
    cfg = preset_config("scratch").with_changes(epochs=3)
    path, rec = recorder_run(tmp_path, cfg)
    rec.checkpoint(1, snapshot(cfg, epoch=1, seed=1))
    rec.close()
    again = RunRecorder(path, cfg)  # a new trainer process: nothing in memory
    again.checkpoint(2, snapshot(cfg, epoch=2, seed=2))
    again.close()
    record = nr.read_record(path / network_file(2))
    assert record is not None
    expected = nr.network_record(snapshot(cfg, epoch=2, seed=2), None, nr.kernels(snapshot(cfg, epoch=1, seed=1)))
    assert np.allclose(record["updates"], expected["updates"])


def test_the_record_can_be_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NETWORK_ENV, "0")
    cfg = preset_config("scratch")
    path, rec = recorder_run(tmp_path, cfg)
    rec.initial_weights(snapshot(cfg, epoch=0))
    rec.checkpoint(1, snapshot(cfg))
    rec.close()
    assert not (path / "network").exists() and not (path / INITIAL_CHECKPOINT).exists()
    assert not any(isinstance(e, NetworkSaved) for e in RunFollower(path).read())


def test_a_torn_or_foreign_record_file_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "torn.npz").write_bytes(b"PK\x03\x04 half")
    assert nr.read_record(tmp_path / "torn.npz") is None
    np.savez(tmp_path / "other.npz", meta=np.array(json.dumps({"format": "something else"})))
    assert nr.read_record(tmp_path / "other.npz") is None
    assert nr.read_record(tmp_path / "missing.npz") is None


def test_a_real_scratch_run_records_every_epoch_and_its_dead_units_are_right(real_data_dir: Path,
                                                                              tmp_path: Path) -> None:
    cfg = preset_config("scratch").with_changes(data_path=str(real_data_dir), limit=1000, epochs=2,
                                                activation="relu", learning_rate=2.0)
    run = train_run(tmp_path, cfg)
    assert sorted(p.name for p in (run / "network").iterdir()) == ["epoch-0000.npz", "epoch-0001.npz",
                                                                   "epoch-0002.npz"]
    with np.load(run / "test-set.npz") as npz:
        x_test = npz["x_test"]
    for epoch, source in ((0, INITIAL_CHECKPOINT), (2, "checkpoint.npz")):
        record = nr.read_record(run / network_file(epoch))
        assert record is not None and nr.record_meta(record)["epoch"] == epoch
        with np.load(run / source) as npz:
            w, b = npz["w000"], npz["w001"]
        z = (x_test.reshape(len(x_test), -1).astype(np.float32) / 255) @ w + b
        assert np.array_equal(record["dead"], ~(z > 0).any(axis=0))
        assert nr.record_meta(record)["hidden"]["dead"] == int(record["dead"].sum())
    last = nr.read_record(run / network_file(2))
    assert last is not None and np.isfinite(last["updates"]).all() and (last["updates"] > 0).all()

