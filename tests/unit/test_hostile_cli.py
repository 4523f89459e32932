"""Hostile and careless input to the CLI's run commands: files we write never destroy what is
there, deletes only ever delete runs, empty values are mistakes, output never carries the
terminal escapes a file name or config value may hold."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mnist_tui.cli import runs_table
from mnist_tui.runs.store import list_runs
from tests.conftest import REPO_ROOT
from tests.runs_helpers import write_run

CONTROL = {chr(c) for c in range(32)} - {"\n"} | {chr(127)} | {chr(c) for c in range(0x80, 0xA0)}


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mnist_tui", *args], capture_output=True, text=True, cwd=REPO_ROOT,
                          timeout=timeout, stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})


@pytest.fixture
def store(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    write_run(runs, "20260102-120000-mlp")
    return runs


# ------------------------------------------------------------------ never destroy what is there
@pytest.mark.parametrize("device", ["/dev/null", "/dev/full"])
def test_export_to_a_device_writes_through_it(store: Path, device: str) -> None:
    proc = cli("runs", "export", "20260102-120000-mlp", "--out", device, "--runs-dir", str(store))
    assert stat.S_ISCHR(os.stat(device).st_mode), f"{device} was replaced"  # still the device node
    if device == "/dev/full":
        assert proc.returncode == 1 and "No space left on device" in proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr


def test_export_to_a_fifo_writes_through_it_or_says_nobody_reads(store: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    proc = cli("runs", "export", "20260102-120000-mlp", "--out", str(fifo), "--runs-dir", str(store), timeout=10)
    assert proc.returncode == 1 and "no process is reading that FIFO" in proc.stderr  # and no hang
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    got: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    reader = threading.Thread(target=read)
    reader.start()
    # Let the reader open its end first (a writer finding no reader is refused, as above).
    import time

    time.sleep(0.3)
    proc = cli("runs", "export", "20260102-120000-mlp", "--out", str(fifo), "--runs-dir", str(store), timeout=20)
    reader.join(10)
    assert proc.returncode == 0, proc.stderr
    assert got and got[0].startswith(b"kind,epoch,step")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_export_through_a_symlink_keeps_the_link(store: Path, tmp_path: Path) -> None:
    target = tmp_path / "real.csv"
    target.write_text("old")
    os.chmod(target, 0o644)
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    proc = cli("runs", "export", "20260102-120000-mlp", "--out", str(link), "--runs-dir", str(store))
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and target.read_text().startswith("kind,")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # its permissions are kept
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    proc = cli("runs", "export", "20260102-120000-mlp", "--out", str(loop), "--runs-dir", str(store))
    assert proc.returncode == 1 and "symlink loop" in proc.stderr and loop.is_symlink()
    proc = cli("runs", "export", "20260102-120000-mlp", "--out", str(tmp_path), "--runs-dir", str(store))
    assert proc.returncode == 1 and "is a directory" in proc.stderr and tmp_path.is_dir()


# ------------------------------------------------------------------ delete only runs
def test_delete_never_follows_a_name_onto_something_that_is_not_a_run(store: Path) -> None:
    project = store / "my-project"
    project.mkdir()
    (project / "config.json").write_text("{}")  # looks like a run to a careless check
    (project / "notes.txt").write_text("precious")
    proc = cli("runs", "delete", "my", "--yes", "--runs-dir", str(store))
    assert proc.returncode == 1 and "no run 'my'" in proc.stderr
    assert (project / "notes.txt").read_text() == "precious"
    assert [r.id for r in list_runs(store)] == ["20260102-120000-mlp"]


def test_delete_says_what_it_would_delete_before_yes(store: Path) -> None:
    proc = cli("runs", "delete", "2026", "--runs-dir", str(store))
    assert proc.returncode == 2
    assert "would delete run 20260102-120000-mlp (done, mlp" in proc.stderr and "files" in proc.stderr
    assert "add --yes" in proc.stderr and (store / "20260102-120000-mlp").is_dir()


@pytest.mark.parametrize("args", [
    ["runs", "list", "--runs-dir", ""],
    ["runs", "delete", "20260102-120000-mlp", "--yes", "--runs-dir", " "],
    ["--runs-dir", "", "runs", "list"],
    ["train", "--data", ""],
    ["train", "--out", ""],
    ["open", ""],
    ["runs", "export", "20260102-120000-mlp", "--out", ""],
    ["runs", "delete", "", "--yes"],
])
def test_an_empty_value_is_a_usage_error(store: Path, args: list[str]) -> None:
    env_store = ["--runs-dir", str(store)] if "--runs-dir" not in args and args[0] == "runs" else []
    proc = cli(*args, *env_store)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "is empty" in proc.stderr and proc.stderr.count("\n") == 1
    assert (store / "20260102-120000-mlp").is_dir()  # nothing deleted from any default store


def test_a_missing_or_odd_store_is_said_not_listed_as_empty(tmp_path: Path) -> None:
    proc = cli("runs", "list", "--runs-dir", str(tmp_path / "nope"))
    assert proc.returncode == 1 and "no such directory" in proc.stderr
    (tmp_path / "file").write_text("x")
    proc = cli("runs", "list", "--runs-dir", str(tmp_path / "file"))
    assert proc.returncode == 1 and "not a directory" in proc.stderr


# ------------------------------------------------------------------ output is not an attack vector
def test_escape_sequences_in_names_and_values_never_reach_the_terminal(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    evil = "20260102-120000-\x1b]0;pwned\x07\x1b[2J-mlp"
    path = write_run(runs, evil)
    cfg = json.loads((path / "config.json").read_text())
    cfg["optimizer"] = "adam\x1b[31m"
    (path / "config.json").write_text(json.dumps(cfg))
    for args in (["runs", "list"], ["runs", "delete", "2026"], ["runs", "export", "nope"]):
        proc = cli(*args, "--runs-dir", str(runs))
        out = proc.stdout + proc.stderr
        assert not CONTROL & set(out), (args, out)
    assert "\\x1b]0;pwned\\x07" in cli("runs", "list", "--runs-dir", str(runs)).stdout  # shown, escaped
    listed = json.loads(cli("runs", "list", "--json", "--runs-dir", str(runs)).stdout)
    assert listed[0]["id"] == evil  # JSON keeps the exact name, escaped by JSON itself


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_runs_table_never_prints_a_control_character(name: str) -> None:
    from mnist_tui.runs.store import RunInfo

    run = RunInfo(name, Path("/x"), name, {"optimizer": name, "batch_size": 1}, "done", "", 1.0, 0.5, 1, None, name)
    table = runs_table([run])
    assert not CONTROL & set(table)
