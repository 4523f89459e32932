"""Tests for the run store: listing, status, sorting, lookup, metrics, export and delete.

Runs come from the real trainer (scratch on the real data) where the format matters, and
from ``write_run`` (the real recorder fed synthetic events) where exact values, start
times or broken files are needed.
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import textwrap
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.events import BatchEnd, EpochEnd, TrainerStarted
from mnist_tui.runs import store
from mnist_tui.runs.follow import LogReader
from mnist_tui.runs.rundir import OWNER, RunStoreError, process_start_ticks
from mnist_tui.runs.store import (
    METRICS_COLUMNS,
    RunInfo,
    delete_run,
    export_run,
    list_runs,
    read_metrics,
    resolve_run,
    sort_runs,
)
from tests.conftest import paused_child
from tests.runs_helpers import T0, scratch, train_run, write_run


def csv_rows(run_dir: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(str(export_run(run_dir, "csv")))))


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real scratch runs: 2 epochs at batch 64 (32 batches) and 1 epoch at batch 32."""
    from tests.conftest import SHARED_DATA

    data = Path(os.environ.get("MNIST_TUI_DATA") or SHARED_DATA)
    if not data.is_dir():
        pytest.skip("real MNIST data not available (set MNIST_TUI_DATA)")
    runs = tmp_path_factory.mktemp("store") / "runs"
    for epochs, batch in ((2, 64), (1, 32)):
        train_run(runs, scratch(epochs=epochs, limit=1000, batch_size=batch, data_path=str(data)))
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


def test_real_run_metrics_and_exports_match_the_log(real_runs: Path, tmp_path: Path) -> None:
    run = list_runs(real_runs)[1]  # 2 epochs × 16 batches of 64
    events = LogReader(run.path).read_all()
    batches = [e for e in events if isinstance(e, BatchEnd)]
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert (len(batches), len(epochs)) == (32, 2)

    m = read_metrics(run)
    assert (m["n_batches"], m["n_epochs"]) == (32, 2)
    assert m["batches"]["step"].tolist() == [float(e.step) for e in batches]
    assert np.allclose(m["batches"]["batch_loss"], [e.batch_loss for e in batches])
    assert np.allclose(m["epochs"]["val_accuracy"], [e.val_accuracy for e in epochs])
    x = store.epoch_positions(m["batches"])
    assert x[0] == pytest.approx(1 / 16) and x[15] == 1.0 and x[-1] == 2.0

    rows = csv_rows(run.path)
    header, body = rows[0], rows[1:]
    assert tuple(header) == METRICS_COLUMNS
    assert [r[0] for r in body] == (["batch"] * 16 + ["epoch"]) * 2  # in log order
    for row, e in zip([r for r in body if r[0] == "batch"], batches, strict=True):
        assert (int(row[1]), int(row[2]), int(row[4])) == (e.epoch, e.step, e.seen)
        assert float(row[7]) == pytest.approx(e.batch_loss, rel=1e-5) and row[9] == ""
    doc = json.loads(str(export_run(run, "json")))
    assert doc["config"] == run.config and doc["status"] == "done"
    assert doc["summary"] == json.loads((run.path / "summary.json").read_text())
    assert len(doc["batches"]) == 32 and len(doc["epochs"]) == 2
    for got, row in zip(doc["batches"] + doc["epochs"], [r for r in body if r[0] == "batch"]
                        + [r for r in body if r[0] == "epoch"], strict=True):
        assert list(got) == header[1:]
        for col, cell in zip(header[1:], row[1:], strict=True):
            assert got[col] == (None if cell == "" else pytest.approx(float(cell))), col
    assert isinstance(doc["batches"][0]["step"], int)

    out = export_run(run, "json", tmp_path / "x.json")
    assert out == tmp_path / "x.json" and json.loads(out.read_text()) == doc
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]  # no temp file left
    assert export_run(run.path, "csv", tmp_path / "x.csv").read_text() == export_run(run, "csv")
    with pytest.raises(RunStoreError, match="unknown export format"):
        export_run(run, "xml")


def test_resumed_runs_count_each_epoch_once(tmp_path: Path) -> None:
    """Rows of an attempt that a resume abandoned stay in the log but are not counted."""
    partial = [BatchEnd(3, s, 10, s * 128, 1.0, 0.5, 9.0, 0.5, 1000.0, 30.0 + s) for s in (1, 2, 3)]
    again = [TrainerStarted(2, "test", "tensorflow", 2, 3)]
    redo = [BatchEnd(3, s, 10, s * 128, 1.0, 0.5, 0.1, 0.5, 1000.0, 40.0 + s) for s in range(1, 11)]
    run = write_run(tmp_path, "resumed", epochs=2, extra=[*partial, *again, *redo,
                                                            EpochEnd(3, 3, 0.4, 0.9, 0.3, 0.9, 9.0)])
    m = read_metrics(run)
    assert (m["n_batches"], m["n_epochs"]) == (30, 3)  # 3 epochs × 10, the abandoned 3 left out
    assert 9.0 not in m["batches"]["batch_loss"].tolist()
    assert m["epochs"]["epoch"].tolist() == [1.0, 2.0, 3.0]
    rows = csv_rows(run)
    assert rows[0][-1] == "abandoned"
    batches = [r for r in rows[1:] if r[0] == "batch"]
    assert len(batches) == 33 and sum(r[-1] == "1" for r in batches) == 3  # kept in the export, marked
    assert [r[7] for r in batches if r[-1] == "1"] == ["9"] * 3


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
    remote = {**me, "host": "not-" + socket.gethostname()}
    write_run(tmp_path, "other-host-fresh", status=None, owner=remote)  # heartbeat just now: alive over there
    stale = write_run(tmp_path, "other-host", status=None, owner=remote)
    old = time.time() - 120
    os.utime(stale / OWNER, (old, old))  # no heartbeat for two minutes: gone
    write_run(tmp_path, "dead", status=None)
    write_run(tmp_path, "finished", status="stopped", owner=me)  # a summary wins over a live owner
    status = {r.id: r.status for r in list_runs(tmp_path)}
    assert status == {"alive": "running", "reused-pid": "incomplete", "other-host": "incomplete",
                      "other-host-fresh": "running",
                      "dead": "incomplete", "finished": "stopped"}


def test_broken_runs_are_listed_not_raised(tmp_path: Path) -> None:
    torn = write_run(tmp_path, "torn", status=None, minutes=0)
    with open(torn / "events.jsonl", "a") as fh:
        fh.write('{"batch":[3,1,10,12')  # killed mid-line
    bad_summary = write_run(tmp_path, "bad-summary", minutes=1)
    (bad_summary / "summary.json").write_text('{"status": "do')
    bad_config = write_run(tmp_path, "bad-config", minutes=2)
    (bad_config / "config.json").write_text("\x00garbage")
    only_config = write_run(tmp_path, "20260102-120000-cnn", preset="cnn", status=None, epochs=0, minutes=3)
    (only_config / "events.jsonl").unlink()  # created, then killed before the log
    (tmp_path / "notes.txt").write_text("not a run")
    (tmp_path / "empty-dir").mkdir()
    (tmp_path / ".hidden").mkdir()
    lookalike = tmp_path / "project"  # a config.json is not enough to be a run
    lookalike.mkdir()
    (lookalike / "config.json").write_text("{}")
    (lookalike / "run.json").write_text('{"pid": 1}')

    runs = {r.id: r for r in list_runs(tmp_path)}
    assert set(runs) == {"torn", "bad-summary", "bad-config", "20260102-120000-cnn"}
    assert runs["torn"].status == "incomplete" and runs["torn"].epochs_completed == 2
    assert runs["torn"].duration_s == 20.0  # the last complete row
    m = read_metrics(runs["torn"])
    assert (m["n_batches"], m["n_epochs"]) == (20, 2)
    assert str(export_run(runs["torn"], "csv")).endswith(",20.000,0\n")  # the torn line is dropped
    assert runs["bad-summary"].status == "incomplete" and "summary.json" in runs["bad-summary"].reason
    assert runs["bad-summary"].config["preset"] == "mlp"
    assert runs["bad-config"].status == "done" and runs["bad-config"].preset == "mlp"  # from summary.json
    assert runs["20260102-120000-cnn"].preset == "cnn" and runs["20260102-120000-cnn"].epochs_completed == 0
    assert read_metrics(runs["20260102-120000-cnn"])["n_batches"] == 0
    assert list_runs(tmp_path / "missing") == []


def test_odd_lines_take_the_careful_path(tmp_path: Path) -> None:
    run = write_run(tmp_path, "odd", epochs=1, steps=3)
    lines = (run / "events.jsonl").read_text().splitlines()
    first = next(i for i, ln in enumerate(lines) if ln.startswith('{"batch"'))
    lines.insert(first + 1, '{"batch":[1,9]}')  # a ragged row
    lines.insert(first + 1, "garbage that is not JSON")
    (run / "events.jsonl").write_text("\n".join(lines) + "\n")
    m = read_metrics(run)
    assert m["batches"]["step"].tolist() == [1.0, 2.0, 3.0]
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
    from mnist_tui.events import BatchEnd
    from mnist_tui.runs.process import run_job
    from mnist_tui.runs.rundir import create_run_dir

    def emit(ev):
        if isinstance(ev, BatchEnd) and ev.epoch == 2 and ev.step == 10:
            print("SLEEPING", flush=True)
            time.sleep(120)

    path = create_run_dir(sys.argv[1], preset_config("scratch").with_changes(limit=1000, epochs=3))
    run_job(path, emit=emit)
""")


def test_killed_run_is_running_then_incomplete_with_its_epochs(real_data_dir: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    with paused_child(CHILD, [str(runs)], real_data_dir):
        deadline = time.monotonic() + 1.0  # the writer thread makes rows readable within 0.1 s
        while (live := list_runs(runs)[0]).epochs_completed < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert live.status == "running" and live.epochs_completed == 1
        assert live.progress.startswith("epoch 2/3 · step ")
        with pytest.raises(RunStoreError, match="still running"):
            delete_run(live, runs)
        # The epoch-1 checkpoint is written by the recorder's own thread (it never stalls
        # training), so under load it can land after epoch 2 has begun: kill only once it is there.
        deadline = time.monotonic() + 10.0
        while not (live.path / "checkpoint.npz").is_file() and time.monotonic() < deadline:
            time.sleep(0.02)
    (run,) = list_runs(runs)
    assert run.status == "incomplete" and "crash or kill" in run.reason
    assert run.epochs_completed == 1 and run.test_accuracy is None
    assert run.model_file is None and (run.path / "checkpoint.npz").is_file()  # the epoch-1 checkpoint
    m = read_metrics(run)
    assert m["n_epochs"] == 1 and m["n_batches"] >= 32  # epoch 1 (1000/32 → 32 batches) and what followed
    assert run.duration_s == pytest.approx(float(csv_rows(run.path)[-1][-2]), abs=1e-3)  # at the last written row
    assert resolve_run(runs, run.id[:8]) == run
    delete_run(run, runs)  # a dead run can be deleted
    assert list_runs(runs) == []
