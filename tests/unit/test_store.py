"""Tests for the run store: listing, status, sorting, lookup, metrics, export and delete.

Runs come from the real trainer (scratch on the real data) where the format matters, and
from ``write_run`` (hand-made directories in RunRecorder's format) where exact values,
start times or broken files are needed.
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mnist_tui.config import preset_config
from mnist_tui.data import load_dataset
from mnist_tui.runs import store
from mnist_tui.runs.rundir import METRICS_COLUMNS, RunStoreError, process_start_ticks
from mnist_tui.runs.store import RunInfo, delete_run, export_run, list_runs, read_metrics, resolve_run, sort_runs
from mnist_tui.training.trainer import train
from tests.conftest import paused_child

T0 = datetime(2026, 1, 2, 12, 0, 0, tzinfo=timezone.utc)


def write_run(parent: Path, name: str, *, preset: str = "mlp", status: str | None = "done", acc: float | None = 0.9,
              total: float = 10.0, minutes: int = 0, epochs: int = 2, steps: int = 10, batch_size: int = 128,
              lr: float = 1e-3, owner: dict[str, Any] | None = None) -> Path:
    """A run directory as RunRecorder writes it; ``status=None`` leaves it without a summary."""
    path = parent / name
    path.mkdir(parents=True)
    cfg = preset_config(preset).with_changes(epochs=epochs, batch_size=batch_size, learning_rate=lr)
    started = (T0 + timedelta(minutes=minutes)).isoformat(timespec="seconds")
    (path / "config.json").write_text(json.dumps(cfg.to_dict()))
    (path / "run.json").write_text(json.dumps(owner or {"pid": 999_999_999, "host": "elsewhere", "started": started}))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(METRICS_COLUMNS)
    for e in range(1, epochs + 1):
        for s in range(1, steps + 1):
            loss = 2.0 / (e * steps + s)
            writer.writerow(("batch", e, s, steps, s * batch_size, f"{loss:.6g}", "0.5", f"{loss:.6g}", "0.75", "",
                             "", "1000.0", f"{(e - 1) * steps + s:.3f}"))
        writer.writerow(("epoch", e, "", "", "", "0.5", "0.5", "", "", "0.4", "0.8", "", f"{e * steps:.3f}"))
    (path / "metrics.csv").write_text(buf.getvalue())
    if status is not None:
        summary = {"status": status, "reason": "", "preset": preset, "config": cfg.to_dict(),
                   "epochs_completed": epochs, "test_loss": 0.3, "test_accuracy": acc,
                   "timings": {"started": started, "total_seconds": total}, "model_file": None}
        (path / "summary.json").write_text(json.dumps(summary))
    return path


def csv_rows(run_dir: Path) -> list[list[str]]:
    with open(run_dir / "metrics.csv", newline="") as fh:
        return list(csv.reader(fh))


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real scratch runs: 2 epochs at batch 64 (32 batches) and 1 epoch at batch 32."""
    from tests.conftest import SHARED_DATA

    data = Path(os.environ.get("MNIST_TUI_DATA") or SHARED_DATA)
    if not data.is_dir():
        pytest.skip("real MNIST data not available (set MNIST_TUI_DATA)")
    ds = load_dataset("mnist", data)
    runs = tmp_path_factory.mktemp("store") / "runs"
    for epochs, batch in ((2, 64), (1, 32)):
        train(preset_config("scratch").with_changes(epochs=epochs, limit=1000, batch_size=batch), runs_dir=runs,
              dataset=ds)
    return runs


# ----------------------------------------------------------------------- real runs
def test_real_runs_listed_with_summary_values(real_runs: Path) -> None:
    runs = list_runs(real_runs)
    assert len(runs) == 2
    newest, oldest = runs
    assert newest.config["batch_size"] == 32 and oldest.config["batch_size"] == 64  # newest first
    for run in runs:
        summary = json.loads((run.path / "summary.json").read_text())
        assert run.status == "done" and run.reason == "" and run.preset == "scratch"
        assert run.config == json.loads((run.path / "config.json").read_text())
        assert run.test_accuracy == summary["test_accuracy"] and 0.3 < run.test_accuracy < 1.0  # chance: 0.1
        assert run.duration_s == summary["timings"]["total_seconds"]
        assert run.epochs_completed == run.config["epochs"]
        assert run.model_file == run.path / "model.npz" and run.model_file.is_file()
        owner = json.loads((run.path / "run.json").read_text())
        assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
        assert run.started == owner["started"] and datetime.fromisoformat(run.started).tzinfo is not None


def test_real_run_metrics_and_exports_match_metrics_csv(real_runs: Path, tmp_path: Path) -> None:
    run = list_runs(real_runs)[1]  # 2 epochs × 16 batches of 64
    rows = csv_rows(run.path)
    header, body = rows[0], rows[1:]
    batches = [r for r in body if r[0] == "batch"]
    epochs = [r for r in body if r[0] == "epoch"]
    assert (len(batches), len(epochs)) == (32, 2)

    m = read_metrics(run)
    assert m["columns"] == header and (m["n_batches"], m["n_epochs"]) == (32, 2)
    assert m["batches"]["step"].tolist() == [float(r[2]) for r in batches]
    assert np.allclose(m["batches"]["batch_loss"], [float(r[7]) for r in batches])
    assert np.allclose(m["epochs"]["val_accuracy"], [float(r[10]) for r in epochs])
    assert np.isnan(m["batches"]["val_loss"]).all()  # empty cells
    x = store.epoch_positions(m["batches"])
    assert x[0] == pytest.approx(1 / 16) and x[15] == 1.0 and x[-1] == 2.0

    assert export_run(run, "csv") == (run.path / "metrics.csv").read_text()
    doc = json.loads(str(export_run(run, "json")))
    assert doc["config"] == run.config and doc["status"] == "done"
    assert doc["summary"] == json.loads((run.path / "summary.json").read_text())
    assert len(doc["batches"]) == 32 and len(doc["epochs"]) == 2
    for got, row in zip(doc["batches"] + doc["epochs"], batches + epochs, strict=True):
        assert list(got) == header[1:]
        for col, cell in zip(header[1:], row[1:], strict=True):
            assert got[col] == (None if cell == "" else pytest.approx(float(cell))), col
    assert isinstance(doc["batches"][0]["step"], int)

    out = export_run(run, "json", tmp_path / "x.json")
    assert out == tmp_path / "x.json" and json.loads(out.read_text()) == doc
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]  # no temp file left
    assert export_run(run.path, "csv", tmp_path / "x.csv").read_text() == (run.path / "metrics.csv").read_text()
    with pytest.raises(RunStoreError, match="unknown export format"):
        export_run(run, "xml")


# ----------------------------------------------------------------------- sorting
def test_sort_orders_and_unknown_values_last(tmp_path: Path) -> None:
    write_run(tmp_path, "a-mlp", preset="mlp", acc=0.90, total=50, minutes=0)
    write_run(tmp_path, "b-cnn", preset="cnn", acc=0.99, total=300, minutes=10)
    write_run(tmp_path, "c-scratch", preset="scratch", acc=0.80, total=5, minutes=20)
    write_run(tmp_path, "d-mlp-small", preset="mlp-small", status=None, acc=None, minutes=30)  # killed: no summary
    runs = list_runs(tmp_path)
    ids = [r.id for r in runs]
    assert ids == ["d-mlp-small", "c-scratch", "b-cnn", "a-mlp"]  # newest first
    assert [r.id for r in sort_runs(runs, "accuracy")] == ["b-cnn", "a-mlp", "c-scratch", "d-mlp-small"]
    assert [r.id for r in sort_runs(runs, "accuracy", descending=False)][-1] == "d-mlp-small"  # None stays last
    # The killed run's duration is its training seconds so far (last elapsed_s): 20.
    assert [r.id for r in sort_runs(runs, "duration")] == ["c-scratch", "d-mlp-small", "a-mlp", "b-cnn"]
    assert [r.id for r in sort_runs(runs, "preset")] == ["b-cnn", "a-mlp", "d-mlp-small", "c-scratch"]
    assert [r.id for r in sort_runs(runs, "started", descending=False)] == ids[::-1]
    with pytest.raises(RunStoreError):
        sort_runs(runs, "colour")


# ----------------------------------------------------------------------- lookup
def test_resolve_exact_prefix_ambiguous_unknown(tmp_path: Path) -> None:
    write_run(tmp_path, "20260102-120000-mlp", minutes=0)
    write_run(tmp_path, "20260102-120000-mlp-1", minutes=1)
    write_run(tmp_path, "20260103-090000-cnn", preset="cnn", minutes=2)
    assert resolve_run(tmp_path, "20260102-120000-mlp").id == "20260102-120000-mlp"  # exact beats prefix
    assert resolve_run(tmp_path, "20260103").id == "20260103-090000-cnn"
    with pytest.raises(RunStoreError) as info:
        resolve_run(tmp_path, "20260102")
    assert "ambiguous" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(RunStoreError, match="no run 'nope'"):
        resolve_run(tmp_path, "nope")
    with pytest.raises(RunStoreError):
        resolve_run(tmp_path, "")
    with pytest.raises(RunStoreError, match="no run"):
        resolve_run(tmp_path / "missing", "x")


# ----------------------------------------------------------------------- delete
def test_delete_removes_only_run_dirs_inside_the_store(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    keep = write_run(runs, "keep", minutes=0)
    gone = write_run(runs, "gone", minutes=1)
    delete_run(resolve_run(runs, "gone"), runs)
    assert not gone.exists() and [r.id for r in list_runs(runs)] == ["keep"]

    outside = write_run(tmp_path / "elsewhere", "run")
    with pytest.raises(RunStoreError, match="not inside"):
        delete_run(outside, runs)
    plain = runs / "photos"
    plain.mkdir()
    (plain / "cat.jpg").write_bytes(b"\xff")
    with pytest.raises(RunStoreError, match="not a run directory"):
        delete_run(plain, runs)
    with pytest.raises(RunStoreError, match="not a run directory"):
        delete_run(runs, runs)
    (runs / "link").symlink_to(keep)
    with pytest.raises(RunStoreError, match="not a run directory"):
        delete_run(runs / "link", runs)
    live = write_run(runs, "live", status=None, owner={"pid": os.getpid(), "host": socket.gethostname(),
                                                        "started": T0.isoformat(), "proc_start": process_start_ticks()})
    with pytest.raises(RunStoreError, match="still running"):
        delete_run(live, runs)
    assert outside.is_dir() and (plain / "cat.jpg").exists() and keep.is_dir() and live.is_dir()


# ----------------------------------------------------------------------- status
def test_status_from_owner_process(tmp_path: Path) -> None:
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": T0.isoformat(),
          "proc_start": process_start_ticks()}
    write_run(tmp_path, "alive", status=None, owner=me)
    write_run(tmp_path, "reused-pid", status=None, owner={**me, "proc_start": (me["proc_start"] or 0) + 1})
    write_run(tmp_path, "other-host", status=None, owner={**me, "host": "not-" + socket.gethostname()})
    write_run(tmp_path, "dead", status=None)
    write_run(tmp_path, "finished", status="stopped", owner=me)  # a summary wins over a live owner
    status = {r.id: r.status for r in list_runs(tmp_path)}
    assert status == {"alive": "running", "reused-pid": "incomplete", "other-host": "incomplete",
                      "dead": "incomplete", "finished": "stopped"}


def test_broken_runs_are_listed_not_raised(tmp_path: Path) -> None:
    torn = write_run(tmp_path, "torn", status=None, minutes=0)
    with open(torn / "metrics.csv", "a") as fh:
        fh.write("batch,3,1,10,12")  # killed mid-line
    bad_summary = write_run(tmp_path, "bad-summary", minutes=1)
    (bad_summary / "summary.json").write_text('{"status": "do')
    bad_config = write_run(tmp_path, "bad-config", minutes=2)
    (bad_config / "config.json").write_text("\x00garbage")
    only_config = tmp_path / "20260102-120000-cnn"  # created, then killed before metrics.csv
    only_config.mkdir()
    (only_config / "config.json").write_text(json.dumps(preset_config("cnn").to_dict()))
    (tmp_path / "notes.txt").write_text("not a run")
    (tmp_path / "empty-dir").mkdir()
    (tmp_path / ".hidden").mkdir()

    runs = {r.id: r for r in list_runs(tmp_path)}
    assert set(runs) == {"torn", "bad-summary", "bad-config", "20260102-120000-cnn"}
    assert runs["torn"].status == "incomplete" and runs["torn"].epochs_completed == 2
    assert runs["torn"].duration_s == 20.0  # the last complete row
    m = read_metrics(runs["torn"])
    assert (m["n_batches"], m["n_epochs"]) == (20, 2)
    assert export_run(runs["torn"], "csv").endswith(",20.000\n")  # the torn line is dropped
    assert runs["bad-summary"].status == "incomplete" and "summary.json" in runs["bad-summary"].reason
    assert runs["bad-summary"].config["preset"] == "mlp"
    assert runs["bad-config"].status == "done" and runs["bad-config"].preset == "mlp"  # from summary.json
    assert runs["20260102-120000-cnn"].preset == "cnn" and runs["20260102-120000-cnn"].epochs_completed == 0
    assert read_metrics(runs["20260102-120000-cnn"])["n_batches"] == 0
    assert list_runs(tmp_path / "missing") == []


def test_odd_cells_take_the_careful_path(tmp_path: Path) -> None:
    run = write_run(tmp_path, "odd", epochs=1, steps=3)
    lines = (run / "metrics.csv").read_text().splitlines()
    lines[2] = lines[2].replace(",0.75,", ",oops,")  # a garbage cell
    lines.insert(3, "batch,1,9")  # a ragged row
    (run / "metrics.csv").write_text("\n".join(lines) + "\n")
    m = read_metrics(run)
    assert m["batches"]["step"].tolist() == [1.0, 2.0, 3.0]
    assert m["batches"]["batch_accuracy"][0] == 0.75 and np.isnan(m["batches"]["batch_accuracy"][1])
    assert m["epochs"]["val_accuracy"].tolist() == [0.8]


def test_runinfo_json_is_serialisable(tmp_path: Path) -> None:
    run = store.load_run(write_run(tmp_path, "r"))
    assert isinstance(run, RunInfo)
    doc = json.loads(json.dumps(run.to_json()))
    assert doc["id"] == "r" and doc["path"] == str(tmp_path / "r") and doc["config"]["preset"] == "mlp"


# ----------------------------------------------------------------------- kill -9
CHILD = textwrap.dedent("""
    import sys, time
    from mnist_tui.config import preset_config
    from mnist_tui.training.events import BatchEnd
    from mnist_tui.training.trainer import train

    def emit(ev):
        if isinstance(ev, BatchEnd) and ev.epoch == 2 and ev.step == 10:
            print("SLEEPING", flush=True)
            time.sleep(120)

    train(preset_config("scratch").with_changes(limit=1000, epochs=3), emit, runs_dir=sys.argv[1])
""")


def test_killed_run_is_running_then_incomplete_with_its_epochs(real_data_dir: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    with paused_child(CHILD, [str(runs)], real_data_dir):
        (live,) = list_runs(runs)
        assert live.status == "running" and live.epochs_completed == 1
        with pytest.raises(RunStoreError, match="still running"):
            delete_run(live, runs)
    (run,) = list_runs(runs)
    assert run.status == "incomplete" and "crash or kill" in run.reason
    assert run.epochs_completed == 1 and run.test_accuracy is None
    assert run.model_file == run.path / "model.npz"  # the epoch-1 checkpoint
    m = read_metrics(run)
    assert m["n_epochs"] == 1 and m["n_batches"] == 32  # epoch 1 (1000/32 → 32 batches), flushed at its end
    assert run.duration_s == float(csv_rows(run.path)[-1][-1])  # training seconds at the last flushed row
    assert resolve_run(runs, run.id[:8]) == run
    delete_run(run, runs)  # a dead run can be deleted
    assert list_runs(runs) == []
