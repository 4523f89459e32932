"""Every run is a process: real trainer processes, real signals, real terminals.

Start a run detached, follow it with two followers at once, pause, resume, checkpoint and
stop it from the CLI; SIGKILL the trainer and resume it; SIGKILL or hang up the app and
attach to the run again. The NumPy net (scratch) keeps most of these fast; the resume
accuracy test trains the real mlp recipe.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mnist_tui.events import BatchEnd, Checkpointed, ControlApplied, EpochEnd, Event, RunFinished, TrainerStarted
from mnist_tui.runs.follow import FollowThread, LogReader, RunFollower, counted
from mnist_tui.runs.store import list_runs, read_metrics
from tests.conftest import REPO_ROOT
from tests.ptyapp import PtyApp

pytestmark = pytest.mark.xdist_group("processes")  # real trainers and ptys: one after another, on one worker


def env_for(data: Path, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "MNIST_TUI_DATA": str(data), "XDG_DATA_HOME": str(tmp_path / "xdg"),
            "PYTHONPATH": str(REPO_ROOT), "TERM": "xterm-256color"}


def cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mnist_tui", *args], capture_output=True, text=True, env=env,
                          cwd=REPO_ROOT, timeout=timeout, stdin=subprocess.DEVNULL)


def wait(condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Poll until ``condition``; returns how long it took (fails the test after ``seconds``)."""
    t0 = time.monotonic()
    while not condition():
        if time.monotonic() - t0 > seconds:
            pytest.fail(f"{what}: not within {seconds} s")
        time.sleep(0.02)
    return time.monotonic() - t0


def owner_pid(run: Path) -> int:
    return int(json.loads((run / "run.json").read_text())["pid"])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (not yet reaped) is dead too
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def batches_in(run: Path) -> int:
    return sum(1 for e in LogReader(run).read_all() if isinstance(e, BatchEnd))


class Collector:
    def __init__(self, run: Path) -> None:
        self.events: list[Event] = []
        self.thread = FollowThread(RunFollower(run), self.events.extend).start()

    def of(self, kind: type) -> list[Event]:
        return [e for e in list(self.events) if isinstance(e, kind)]


def detach(env: dict[str, str], runs: Path, *args: str) -> Path:
    proc = cli("train", "--model", "scratch", "--out", str(runs), "--detach", *args, env=env)
    assert proc.returncode == 0, proc.stderr
    (run,) = list(runs.iterdir())
    assert proc.stdout.splitlines()[0].startswith(f"{run.name}: training in the background (pid ")
    assert f"mnist-tui attach {run.name}" in proc.stdout
    return run


# ----------------------------------------------------------------------------- the CLI
def test_detached_run_followed_twice_and_controlled_from_the_cli(real_data_dir: Path, tmp_path: Path) -> None:
    env, runs = env_for(real_data_dir, tmp_path), tmp_path / "runs"
    run = detach(env, runs, "--limit", "5000", "--epochs", "400")
    pid = owner_pid(run)
    first, second = Collector(run), Collector(run)  # two followers at once
    wait(lambda: len(first.of(BatchEnd)) > 20, 30, "batches from the detached trainer")

    listed = cli("runs", "list", "--runs-dir", str(runs), env=env)
    assert re.search(rf"{run.name}\s+running \(epoch \d+/400 · step \d+/157, unwatched\)", listed.stdout), listed.stdout

    t0 = time.monotonic()
    paused = cli("runs", "pause", run.name, "--runs-dir", str(runs), env=env)
    took = time.monotonic() - t0
    assert paused.returncode == 0 and paused.stdout.strip() == f"{run.name}: paused", paused.stderr
    assert took < 2.0  # a new interpreter, the request, the trainer's poll and its acknowledgement
    time.sleep(0.3)
    held = batches_in(run)
    time.sleep(0.6)
    assert batches_in(run) == held, "batches went on while paused"

    assert cli("runs", "resume", run.name, "--runs-dir", str(runs), env=env).returncode == 0
    wait(lambda: batches_in(run) > held + 10, 10, "batches after resume")
    saved = cli("runs", "checkpoint", run.name, "--runs-dir", str(runs), env=env)
    assert saved.returncode == 0 and "saving the model" in saved.stdout
    wait(lambda: any(e.epoch == -1 for e in first.of(Checkpointed)), 5, "the checkpoint-now save")
    assert (run / "model.npz").is_file()

    stopped = cli("runs", "stop", run.name, "--runs-dir", str(runs), env=env)
    assert stopped.returncode == 0, stopped.stderr
    exit_time = wait(lambda: not pid_alive(pid), 5, "the trainer to exit after stop")
    assert exit_time < 2.0, f"the trainer took {exit_time:.2f} s to stop"
    for collector in (first, second):
        collector.thread.join(5)
        assert collector.thread.done.is_set()
    fin = first.of(RunFinished)[-1]
    assert fin.status == "stopped" and not fin.evaluated
    assert [type(e) for e in first.events] == [type(e) for e in second.events]  # both saw the same record
    acks = [e.command for e in first.of(ControlApplied)]
    assert acks == ["pause", "resume", "checkpoint", "stop"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "stopped" and summary["model_file"] == "model.npz"
    assert cli("runs", "pause", run.name, "--runs-dir", str(runs), env=env).returncode == 1  # not running any more


def test_sigkill_of_the_trainer_is_reported_and_resume_continues_the_count(real_data_dir: Path,
                                                                          tmp_path: Path) -> None:
    env, runs = env_for(real_data_dir, tmp_path), tmp_path / "runs"
    run = detach(env, runs, "--limit", "2000", "--epochs", "400", "--batch-size", "50")  # 40 steps an epoch
    follower = Collector(run)
    wait(lambda: len(follower.of(EpochEnd)) >= 3, 30, "three epochs")
    os.kill(owner_pid(run), signal.SIGKILL)
    t0 = time.monotonic()
    wait(lambda: bool(follower.of(RunFinished)), 3, "the follower to report the death")
    assert time.monotonic() - t0 < 1.0
    notice = follower.of(RunFinished)[-1]
    assert notice.status == "failed" and "trainer process" in notice.reason and f"resume {run.name}" in notice.reason
    (info,) = list_runs(runs)
    assert info.status == "incomplete" and info.epochs_completed >= 3
    before = read_metrics(run)
    assert before["n_epochs"] >= 3 and before["n_batches"] >= 3 * 40  # every row written before the kill
    with np.load(run / "checkpoint.npz") as npz:  # the last epoch end whose checkpoint reached the disk
        checkpointed = int(json.loads(str(npz["meta"]))["epoch"])
    assert checkpointed >= 2

    done = cli("resume", run.name, "--epochs", str(info.epochs_completed + 2), "--runs-dir", str(runs), env=env)
    assert done.returncode == 0, done.stderr
    events = LogReader(run).read_all()
    starts = [e for e in events if isinstance(e, TrainerStarted)]
    assert [s.from_epoch for s in starts] == [0, checkpointed]  # from the last checkpoint
    after = read_metrics(run)
    total = info.epochs_completed + 2
    assert after["epochs"]["epoch"].tolist() == [float(e) for e in range(1, total + 1)]  # each epoch once
    assert after["n_batches"] == total * 40  # abandoned rows are not counted
    assert sorted(set(after["batches"]["epoch"].tolist())) == [float(e) for e in range(1, total + 1)]
    raw = [e for e in events if isinstance(e, BatchEnd)]
    assert len(raw) == before["n_batches"] + (total - checkpointed) * 40  # the log keeps the abandoned rows too
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "done" and [e["epoch"] for e in summary["epochs"]] == list(range(1, total + 1))


def test_stopped_and_resumed_mlp_matches_a_straight_run(real_data_dir: Path, tmp_path: Path) -> None:
    """2 epochs, stop, resume for 2 more: within 0.5 pp of 4 epochs straight, and exactly 4
    epochs of batch rows counted (the partial epoch the stop cut short is abandoned)."""
    from mnist_tui.config import preset_config
    from tests.runs_helpers import train_run

    env = {**env_for(real_data_dir, tmp_path), "KERAS_BACKEND": "tensorflow"}
    runs = tmp_path / "runs"
    # The straight run in this process (its Keras is loaded already: a trainer process's import saved).
    straight = train_run(tmp_path / "straight", preset_config("mlp").with_changes(
        epochs=4, data_path=str(real_data_dir), backend="tensorflow"))
    straight_acc = json.loads((straight / "summary.json").read_text())["test_accuracy"]

    proc = subprocess.Popen([sys.executable, "-m", "mnist_tui", "train", "--model", "mlp", "--epochs", "4",
                             "--out", str(runs)], env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("epoch 2/4 "):
            break
    proc.send_signal(signal.SIGINT)  # after epoch 2: the stop lands early in epoch 3
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    (run,) = list(runs.iterdir())
    assert json.loads((run / "summary.json").read_text())["epochs_completed"] == 2
    resumed = cli("resume", run.name, "--runs-dir", str(runs), env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "done" and summary["epochs_completed"] == 4
    assert abs(summary["test_accuracy"] - straight_acc) <= 0.005, (summary["test_accuracy"], straight_acc)
    m = read_metrics(run)
    assert m["n_batches"] == 4 * 157 and m["n_epochs"] == 4
    assert [e.epoch for e in counted(LogReader(run).read_all()) if isinstance(e, EpochEnd)] == [1, 2, 3, 4]


# ----------------------------------------------------------------------------- the app
def start_app_run(env: dict[str, str], *args: str) -> PtyApp:
    app = PtyApp(["--model", "scratch", *args], env, session=True)
    app.read_until(b"Hidden units", 30)
    time.sleep(0.5)
    app.write(b"s")
    return app


def test_ssh_drop_keeps_the_run_training_and_attach_picks_it_up(real_data_dir: Path, tmp_path: Path) -> None:
    env = env_for(real_data_dir, tmp_path)
    runs = tmp_path / "xdg" / "mnist-tui" / "runs"
    app = start_app_run(env, "--limit", "5000", "--epochs", "400")
    try:
        wait(lambda: runs.is_dir() and any(runs.iterdir()), 30, "the run directory")
        (run,) = list(runs.iterdir())
        wait(lambda: batches_in(run) > 50, 30, "batches")
        trainer = owner_pid(run)
        app.hangup()  # the SSH connection drops
        gone = wait(lambda: app.proc.poll() is not None, 5, "the app to end on the hang-up")
        assert gone < 2.0
    finally:
        app.close()
    seen = batches_in(run)
    wait(lambda: batches_in(run) > seen + 50, 10, "the run to keep training with nobody watching")
    assert pid_alive(trainer)
    detached = [e for e in LogReader(run).read_all() if isinstance(e, ControlApplied) and e.command == "detach"]
    assert detached and "hang-up" in detached[-1].detail  # it records that nobody watches it
    (info,) = list_runs(runs)
    assert info.status == "running"

    attach = subprocess.run([sys.executable, "-c", ATTACH_AND_STOP, str(runs), run.name], capture_output=True,
                            text=True, env=env, cwd=REPO_ROOT, timeout=120, stdin=subprocess.DEVNULL)
    assert attach.returncode == 0, attach.stderr[-3000:]
    result = json.loads(attach.stdout.strip().splitlines()[-1])
    assert result["history_at_once"] >= seen  # the whole history so far, straight away
    assert result["live"] > result["history_at_once"]  # then live batches
    assert result["status"] == "stopped"
    wait(lambda: not pid_alive(trainer), 5, "the trainer to exit after the attached app stopped it")


ATTACH_AND_STOP = """
import asyncio, json, sys, time
from pathlib import Path
from mnist_tui.app import make_app

async def main():
    runs, name = Path(sys.argv[1]), sys.argv[2]
    app = make_app(runs_dir=runs, warm=False, attach=runs / name)
    async with app.run_test(size=(110, 34)) as pilot:
        for _ in range(200):
            await pilot.pause(0.02)
            if app.history.batches:
                break
        at_once = app.history.batches
        await pilot.pause(1.0)
        live = app.history.batches
        await pilot.press("x")
        for _ in range(300):
            await pilot.pause(0.02)
            if app.history.finished is not None:
                break
        status = app.history.finished.status if app.history.finished else None
    print(json.dumps({"history_at_once": at_once, "live": live, "status": status}))

asyncio.run(main())
"""


def test_sigkill_of_the_app_leaves_the_run_attachable_and_no_idle_trainer(real_data_dir: Path,
                                                                          tmp_path: Path) -> None:
    env = env_for(real_data_dir, tmp_path)
    runs = tmp_path / "xdg" / "mnist-tui" / "runs"
    app = start_app_run(env, "--limit", "5000", "--epochs", "400")
    try:
        wait(lambda: runs.is_dir() and any(runs.iterdir()) and batches_in(next(runs.iterdir())) > 20, 30,
             "batches")
        (run,) = list(runs.iterdir())
        trainer = owner_pid(run)
        children = trainer_processes(tmp_path)
        app.proc.send_signal(signal.SIGKILL)
        app.proc.wait(5)
    finally:
        app.close()
    idle = [pid for pid in children if pid != trainer]
    wait(lambda: not any(pid_alive(p) for p in idle), 30, "the idle warm trainer to leave with its app")
    seen = batches_in(run)
    wait(lambda: batches_in(run) > seen + 20, 10, "the run to carry on")
    (info,) = list_runs(runs)
    assert info.status == "running"
    assert cli("runs", "stop", run.name, "--runs-dir", str(runs), env=env).returncode == 0
    wait(lambda: not pid_alive(trainer), 5, "the trainer to stop")
    assert json.loads((run / "summary.json").read_text())["status"] == "stopped"


def trainer_processes(tmp_path: Path) -> list[int]:
    """This test's trainer processes: those whose environment names its temporary directory
    (the app and its trainers inherit XDG_DATA_HOME under it), never another test's."""
    out = subprocess.run(["pgrep", "-f", "mnist_tui.runs.process"], capture_output=True, text=True).stdout
    mine = []
    for pid in (int(p) for p in out.split()):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if str(tmp_path).encode() in environ:
            mine.append(pid)
    return mine


def test_control_is_acknowledged_within_half_a_second_and_only_for_the_owner(real_data_dir: Path,
                                                                            tmp_path: Path) -> None:
    from mnist_tui.runs import control

    env, runs = env_for(real_data_dir, tmp_path), tmp_path / "runs"
    run = detach(env, runs, "--limit", "5000", "--epochs", "400")
    reader = LogReader(run)
    wait(lambda: any(isinstance(e, BatchEnd) for e in reader.read()), 30, "batches")
    for command in ("pause", "resume", "checkpoint"):
        t0 = time.monotonic()
        request = control.send(run, command)
        acks: list[ControlApplied] = []

        def acked(request: str = request, acks: list[ControlApplied] = acks) -> bool:
            acks.extend(e for e in reader.read() if isinstance(e, ControlApplied) and e.request == request)
            return bool(acks)

        wait(acked, 2, f"the {command} acknowledgement")
        assert time.monotonic() - t0 < 0.5, f"{command} took {time.monotonic() - t0:.2f} s"
        assert acks[0].command == command
    # A request that belongs to another user is refused (the directory is 0700 besides).
    stranger = control.send(run, "stop")
    os.chown(run / "control" / stranger, 12345, 12345)
    refusals: list[ControlApplied] = []
    wait(lambda: bool(refusals.extend(e for e in reader.read() if isinstance(e, ControlApplied)
                                      and e.request == stranger) or refusals), 2, "the refusal")
    assert refusals[0].command == "refused" and "uid 12345" in refusals[0].detail
    assert pid_alive(owner_pid(run))  # not stopped by a stranger
    (info,) = list_runs(runs)
    assert info.status == "running" and info.watchers == 0  # nobody has attached to this detached run
    assert "unwatched" in cli("runs", "list", "--runs-dir", str(runs), env=env).stdout
    assert cli("runs", "stop", run.name, "--runs-dir", str(runs), env=env).returncode == 0


def test_runs_evaluate_completes_what_a_stop_skipped(real_data_dir: Path, tmp_path: Path) -> None:
    env, runs = env_for(real_data_dir, tmp_path), tmp_path / "runs"
    run = detach(env, runs, "--limit", "2000", "--epochs", "400")
    wait(lambda: sum(isinstance(e, EpochEnd) for e in LogReader(run).read_all()) >= 1, 30, "an epoch")
    assert cli("runs", "stop", run.name, "--runs-dir", str(runs), env=env).returncode == 0
    wait(lambda: (run / "summary.json").is_file(), 10, "the summary")
    skipped = json.loads((run / "summary.json").read_text())
    assert skipped["evaluated"] is False and "final test evaluation skipped" in skipped["reason"]
    done = cli("runs", "evaluate", run.name, "--runs-dir", str(runs), env=env)
    assert done.returncode == 0, done.stderr
    assert re.match(rf"{run.name}: test accuracy 0\.\d+ loss \d", done.stdout)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["evaluated"] is True and summary["status"] == "stopped"
    assert 0.5 < summary["test_accuracy"] < 1.0 and sum(map(sum, summary["confusion_matrix"])) == 10_000
    assert "evaluated afterwards" in summary["reason"]
    (info,) = list_runs(runs)
    assert info.evaluated and info.test_accuracy == summary["test_accuracy"]


@pytest.mark.parametrize(("how", "delay"), [("hang-up", 0.3), ("SIGTERM", 0.55)])
def test_the_app_always_leaves_within_two_seconds(real_data_dir: Path, tmp_path: Path, how: str,
                                                  delay: float) -> None:
    """A hang-up or SIGTERM moments after s (trainer still starting, Keras still importing in
    it, at two moments of that): the app is gone within 2 s, and leaves no idle trainer behind."""
    env = {**env_for(real_data_dir, tmp_path), "KERAS_BACKEND": "tensorflow"}
    before = set(trainer_processes(tmp_path))
    app = PtyApp(["--model", "mlp", "--epochs", "1", "--limit", "2000"], env, session=True)
    try:
        app.read_until(b"Hidden units", 30)
        time.sleep(delay)  # the warm trainer is importing Keras meanwhile
        app.write(b"s")
        time.sleep(0.3)
        t0 = time.monotonic()
        if how == "hang-up":
            app.hangup()
        else:
            app.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 5
            while app.proc.poll() is None and time.monotonic() < deadline:
                app.drain()
        app.proc.wait(timeout=10)
        took = time.monotonic() - t0
    finally:
        app.close()
    assert took < 2.0, f"the app took {took:.2f} s to leave after a {how}"
    runs = tmp_path / "xdg" / "mnist-tui" / "runs"
    wait(lambda: not (set(trainer_processes(tmp_path)) - before), 180,
         "the runs to finish and idle trainers to leave")
    # A start that reached a trainer before the hang-up trained on and ended well; one that had not, never began.
    assert not runs.is_dir() or all(json.loads((r / "summary.json").read_text())["status"] in ("done", "stopped")
                                    for r in runs.iterdir() if (r / "summary.json").exists())


def test_a_hinted_warm_trainer_readies_data_and_model_and_trains_the_same_run(real_data_dir: Path,
                                                                              tmp_path: Path) -> None:
    """The app hints the form's run to its warm trainer (data loaded, model built, its JAX
    code compiled before ``s``); the run it then trains is the one an unhinted trainer trains."""
    from mnist_tui.config import preset_config
    from mnist_tui.runs.launch import WarmTrainer
    from mnist_tui.runs.rundir import create_run_dir

    cfg = preset_config("mlp").with_changes(data_path=str(real_data_dir), limit=640, epochs=1, backend="jax")
    rows = []
    for hinted in (True, False):
        warm = WarmTrainer("jax")
        try:
            warm.warm_up()
            if hinted:
                warm.hint(cfg.to_dict())
                wait(warm.hinted.is_set, 120, "the hinted trainer to ready the run")
                assert warm.readied == {"data", "model"}
                warm.hint(cfg.to_dict())  # the same hint again is not sent again
                assert warm.hinted.is_set()
            run = create_run_dir(tmp_path / "runs", cfg, owner_pid=warm.pid)
            proc = warm.take(run)
            assert proc.wait(timeout=120) == 0, (run / "trainer.log").read_text()[-2000:]
        finally:
            warm.discard()
        events = LogReader(run).read_all()
        assert [e.status for e in events if isinstance(e, RunFinished)] == ["done"]
        rows.append([(e.batch_loss, e.batch_accuracy) for e in events if isinstance(e, BatchEnd)])
    assert len(rows[0]) == 5
    assert rows[0] == rows[1]  # same seed, same weights, same batches: the early build changed nothing
