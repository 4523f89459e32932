"""A sweep is a process too: a real 2×2 sweep of the NumPy net, killed halfway (SIGKILL of
the runner and of its current trainer) and resumed; a detached sweep stopped from the CLI
and resumed. Every grid point must end with exactly one run, finished runs reused, killed
or stopped ones resumed in their own directory, and every run's epochs counted once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mnist_tui.events import TrainerStarted
from mnist_tui.runs import store
from mnist_tui.runs import sweep as sw
from mnist_tui.runs.follow import LogReader
from tests.conftest import REPO_ROOT
from tests.process.test_process_runs import cli, env_for, owner_pid, pid_alive, wait

pytestmark = pytest.mark.xdist_group("processes")  # real trainers and ptys: one after another, on one worker

# 4,000 images: a run's epoch lasts long enough (~0.3 s) that the kill lands inside the third run
# (with 1,000 it sometimes finished first on a fast machine; the test handles both).
LIMIT = 4000
GRID = ("--model", "scratch", "--lr", "0.1,0.5", "--batch-size", "32,64", "--limit", str(LIMIT))


def starts(run: Path) -> list[TrainerStarted]:
    return [e for e in LogReader(run).read_all() if isinstance(e, TrainerStarted)]


def check_every_point_once(runs: Path, record: dict, epochs: list[int]) -> None:
    """Each grid point has one run of its own, done, with its epochs counted once."""
    dirs = sorted(p for p in runs.iterdir() if store.is_run_dir(p))
    names = [p["run"] for p in record["points"]]
    assert sorted(names) == [d.name for d in dirs] and len(set(names)) == 4  # one run per point, no extra
    assert [p["state"] for p in record["points"]] == ["done"] * 4
    for point, want in zip(record["points"], epochs, strict=True):
        run = runs / point["run"]
        ref = json.loads((run / sw.RUN_REF).read_text())
        assert ref["sweep"] == record["id"] and ref["point"] == point["index"]
        cfg = json.loads((run / "config.json").read_text())
        assert {k: cfg[k] for k in point["values"]} == point["values"]
        metrics = store.read_metrics(run)
        assert metrics["epochs"]["epoch"].tolist() == [float(e) for e in range(1, want + 1)]  # each epoch once
        steps = -(-cfg["limit"] // cfg["batch_size"])  # every run here trains on a --limit slice
        assert metrics["n_batches"] == want * steps
        info = store.load_run(run)
        assert info.status == "done" and info.epochs_completed == want and point["epochs"] == want


def test_a_killed_sweep_resumes_where_it_was(real_data_dir: Path, tmp_path: Path) -> None:
    env, runs = env_for(real_data_dir, tmp_path), tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "mnist_tui", "sweep", *GRID, "--epochs", "2", "--runs-dir",
                             str(runs)], env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("[3/4]") and ": training " in line:
            break
    third = lines[-1].rsplit(" ", 1)[1].strip()
    trainer = owner_pid(runs / third)
    wait(lambda: b'{"epoch":[1,' in (runs / third / "events.jsonl").read_bytes()
         if (runs / third / "events.jsonl").exists() else False, 30, "the third run's first epoch")
    os.kill(proc.pid, signal.SIGKILL)  # the runner, then its current trainer: a crash of both
    if pid_alive(trainer):
        os.kill(trainer, signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()
    assert proc.stderr is not None
    proc.stderr.close()
    wait(lambda: not pid_alive(trainer), 5, "the killed trainer to be gone")
    killed_midway = store.load_run(runs / third).status != "done"  # else it had just finished

    (info,) = sw.list_sweeps(runs)
    assert info.state == "incomplete"  # recorded as running, its runner gone
    before = {p["index"]: p["run"] for p in info.points}
    assert [p["state"] for p in info.points][:2] == ["done", "done"] and before[2] == third
    assert before[3] is None  # never started
    finished = {i: (runs / before[i] / "events.jsonl").stat().st_mtime_ns for i in (0, 1)}

    resumed = cli("sweep", "--resume", info.id[:12], "--runs-dir", str(runs), env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count("finished earlier, reused") == (2 if killed_midway else 3)
    if killed_midway:
        assert f"resuming {third}" in resumed.stdout
    record = sw.read_sweep(info.path)
    assert record["state"] == "done" and sw.sweep_state(record) == "done"
    check_every_point_once(runs, record, [2, 2, 2, 2])
    assert [record["points"][i]["run"] for i in range(3)] == [before[i] for i in range(3)]  # same runs, in place
    for i in (0, 1):  # reused: not trained again
        assert (runs / before[i] / "events.jsonl").stat().st_mtime_ns == finished[i]
        assert len(starts(runs / before[i])) == 1
    if killed_midway:  # resumed in its own directory (from its checkpoint), not started over elsewhere
        assert len(starts(runs / third)) == 2
    listed = cli("sweep", "--list", "--runs-dir", str(runs), env=env)
    assert f"{info.id}  done" in listed.stdout and "4/4 done" in listed.stdout


def test_a_detached_sweep_stops_cleanly_and_resumes(real_data_dir: Path, tmp_path: Path) -> None:
    env, runs = env_for(real_data_dir, tmp_path), tmp_path / "runs"
    # The first point trains long enough to be stopped halfway; the others are short.
    started = cli("sweep", "--model", "scratch", "--lr", "0.1,0.5", "--epochs", "40,2", "--limit", "1000",
                  "--runs-dir", str(runs), "--detach", env=env)
    assert started.returncode == 0, started.stderr
    assert "sweeping in the background" in started.stdout
    (info,) = sw.list_sweeps(runs)
    wait(lambda: sw.read_sweep(info.path)["points"][0]["run"] is not None, 30, "the first run")
    first = runs / sw.read_sweep(info.path)["points"][0]["run"]
    wait(lambda: store.load_run(first).epochs_completed >= 2, 60, "two epochs of the first run")
    stop = cli("sweep", "--stop", info.id, "--runs-dir", str(runs), env=env)
    assert stop.returncode == 0 and "stopping" in stop.stdout, stop.stderr
    runner = sw.read_sweep(info.path)["owner"]["pid"]
    wait(lambda: not pid_alive(runner), 30, "the sweep runner to stop")
    record = sw.read_sweep(info.path)
    assert record["state"] == "stopped" and record["reason"] == "4 of 4 runs left (1 stopped, 3 queued)"
    assert record["points"][0]["state"] == "stopped" and store.load_run(first).status == "stopped"
    assert [p["state"] for p in record["points"][1:]] == ["queued"] * 3  # the rest stays queued
    assert "4 of 4 runs left" in (info.path / sw.SWEEP_LOG).read_text()
    stopped_at = store.load_run(first).epochs_completed
    assert 2 <= stopped_at < 40

    t0 = time.monotonic()
    resumed = cli("sweep", "--resume", info.id, "--runs-dir", str(runs), env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr + f" after {time.monotonic() - t0:.0f} s"
    record = sw.read_sweep(info.path)
    assert record["points"][0]["run"] == first.name
    check_every_point_once(runs, record, [40, 2, 40, 2])
    first_start, second_start = starts(first)  # resumed in its directory, not restarted
    assert first_start.from_epoch == 0 and 0 < second_start.from_epoch <= stopped_at
