"""Tests for the command line, run as a real subprocess (``python -m mnist_tui``)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mnist_tui.cli import build_parser, config_from_args
from mnist_tui.config import PRESETS
from mnist_tui.runs.store import export_text, read_metrics
from tests.conftest import REPO_ROOT

NATIVE_LOG = re.compile(r"cuda|I0000|E0000|W0000|absl|cpu_feature_guard|oneDNN|tensorflow/", re.IGNORECASE)


def cli_env(data: Path | None = None, **extra: str) -> dict[str, str]:
    drop = ("MNIST_TUI_DATA", "MNIST_TUI_DEBUG", "MNIST_TUI_NATIVE_LOG")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.pop("TERM", None)
    if data is not None:
        env["MNIST_TUI_DATA"] = str(data)
    env.update(extra)
    return env


def mnist_tui(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mnist_tui", *args], capture_output=True, text=True,
                          env=env or cli_env(), timeout=timeout, cwd=REPO_ROOT, stdin=subprocess.DEVNULL)


def mnist_tui_loading(*args: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the CLI as ``python -m mnist_tui`` does, and say which frameworks it had loaded."""
    probe = ("import runpy, sys\n"
             "try:\n    runpy.run_module('mnist_tui', run_name='__main__', alter_sys=True)\n"
             "finally:\n    print('LOADED', ','.join(sorted({'keras', 'jax', 'tensorflow'} & set(sys.modules))))\n")
    proc = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, env=env,
                          timeout=60, cwd=REPO_ROOT, stdin=subprocess.DEVNULL)
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("LOADED"), proc.stdout
    return proc, [name for name in last.removeprefix("LOADED").strip().split(",") if name]


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def only_run_dir(parent: Path) -> Path:
    (run_dir,) = list(parent.iterdir())
    return run_dir


# ----------------------------------------------------------------------------- help
def test_help_lists_presets_quickly() -> None:
    start = time.perf_counter()
    proc = mnist_tui("--help")
    took = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    for name, preset in PRESETS.items():
        assert re.search(rf"^\s+{re.escape(name)}\s", proc.stdout, re.MULTILINE), name
        assert preset.reference in proc.stdout
    assert "train" in proc.stdout and proc.stderr == ""
    assert took < 3.0, f"--help took {took:.1f}s"
    sub = mnist_tui("train", "--help")
    assert sub.returncode == 0 and "--log-every" in sub.stdout and "mlp-small" in sub.stdout


def test_help_imports_no_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from mnist_tui.cli import main\n"
        "for argv in (['--help'], ['train', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, exc.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'textual'))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(),
                          cwd=REPO_ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stderr


def test_flags_before_the_command_are_kept() -> None:
    args = build_parser().parse_args(["--model", "cnn", "--epochs", "3", "train", "--batch-size", "8"])
    cfg = config_from_args(args)
    assert (args.command, cfg.preset, cfg.epochs, cfg.batch_size) == ("train", "cnn", 3, 8)
    args = build_parser().parse_args(["--epochs", "3", "train", "--epochs", "4"])
    assert config_from_args(args).epochs == 4  # the closer flag wins
    assert config_from_args(build_parser().parse_args(["train"])).preset == "mlp"


# ------------------------------------------------------------------------- training
def test_train_mlp_writes_run_dir(real_data_dir: Path, tmp_path: Path) -> None:
    proc = mnist_tui("train", "--model", "mlp", "--epochs", "1", "--limit", "2000", "--out", str(tmp_path),
                     env=cli_env(real_data_dir))
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stdout and "\x1b" not in proc.stdout  # a pipe gets plain lines, no bar
    lines = proc.stdout.splitlines()
    epoch_lines = [ln for ln in lines if ln.startswith("epoch ")]
    assert len(epoch_lines) == 1 and epoch_lines[0].startswith("epoch 1/1 loss ")
    assert lines[0].startswith("mlp: 2,000 train / 10,000 test images")
    assert any(ln.startswith("done: test accuracy 0.") for ln in lines)
    assert not NATIVE_LOG.search(proc.stderr), proc.stderr
    assert proc.stderr == ""
    run_dir = only_run_dir(tmp_path)
    assert f"run saved to {run_dir}" in proc.stdout
    assert {p.name for p in run_dir.iterdir()} == {"config.json", "run.json", "events.jsonl", "summary.json",
                                                   "model.keras", "checkpoint.npz", "test-set.npz", "predictions",
                                                   "control", "checkpoint-initial.npz", "network"}
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "done" and summary["config"]["limit"] == 2000
    assert summary["test_accuracy"] > 0.7


def test_train_scratch_writes_npz(real_data_dir: Path, tmp_path: Path) -> None:
    proc = mnist_tui("train", "--model", "scratch", "--epochs", "1", "--limit", "2000", "--out", str(tmp_path),
                     env=cli_env(real_data_dir))
    assert proc.returncode == 0, proc.stderr
    run_dir = only_run_dir(tmp_path)
    assert (run_dir / "model.npz").is_file() and not (run_dir / "model.keras").exists()
    assert json.loads((run_dir / "summary.json").read_text())["model_file"] == "model.npz"


# ---------------------------------------------------------------------- user errors
@pytest.mark.parametrize(("args", "fragment"), [
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    (["--bogus"], "unrecognized arguments"),
    (["train", "--epochs", "0"], "--epochs: must be at least 1"),
    (["train", "--epochs", "abc"], "--epochs: must be a whole number"),
    (["train", "--lr", "nan"], "--lr: must be a finite number"),
    (["train", "--model", "resnet"], "--model: unknown preset 'resnet'"),
    (["train", "--dropout", "1.5"], "--dropout: too large (must be below 1)"),
    (["train", "--model", "scratch", "--optimizer", "adam"], "--optimizer: the scratch network trains with sgd"),
    (["train", "--log-every", "-1"], "--log-every: must be 0 or more"),
    (["train", "--log-every", "x"], "invalid int value"),
])
def test_bad_flags_exit_2_with_one_line(args: list[str], fragment: str) -> None:
    proc = mnist_tui(*args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    line = one_line(proc.stderr)
    assert line.startswith("mnist-tui") and fragment in line
    assert "Traceback" not in proc.stderr + proc.stdout


def test_missing_data_path_exits_1(tmp_path: Path) -> None:
    proc = mnist_tui("train", "--data", "/nonexistent/mnist", "--out", str(tmp_path))
    assert proc.returncode == 1
    line = one_line(proc.stderr)
    assert line.startswith("mnist-tui: error:") and "/nonexistent/mnist" in line and "no such file" in line
    assert "Traceback" not in proc.stderr and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("how", [("--data", "/nonexistent/mnist"), ("--detach", "--data", "/nonexistent/mnist"),
                                 ("--detach",)], ids=["data", "detach", "env"])
def test_an_unusable_data_path_is_said_before_any_framework_loads(tmp_path: Path, how: tuple[str, ...]) -> None:
    """Checked up front: one line, exit 1, no run directory, no background trainer left to
    fail in its log, and no Keras, JAX or TensorFlow imported just to say so."""
    env = cli_env(**({} if "--data" in how else {"MNIST_TUI_DATA": "/nonexistent/mnist"}))
    proc, loaded = mnist_tui_loading("train", *how, "--out", str(tmp_path), env=env)
    assert proc.returncode == 1
    assert one_line(proc.stderr).startswith("mnist-tui: error:")
    assert "/nonexistent/mnist: no such file or directory" in proc.stderr
    assert loaded == [], loaded
    assert list(tmp_path.iterdir()) == []


def test_batch_larger_than_data_exits_2(real_data_dir: Path) -> None:
    proc = mnist_tui("train", "--model", "scratch", "--limit", "20", "--no-save", env=cli_env(real_data_dir))
    assert proc.returncode == 2
    assert one_line(proc.stderr) == "mnist-tui: error: --batch-size: 32 is larger than the 20 training samples"


def test_a_fresh_offline_machine_trains_on_the_bundled_subset(tmp_path: Path) -> None:
    """No data configured, nothing cached, no network: MNIST trains on the 20k subset shipped
    in the package, and the lookup never hangs; Fashion-MNIST says what to do, in one line."""
    home, keras_home = tmp_path / "home", tmp_path / "keras"
    home.mkdir()
    keras_home.mkdir()
    env = cli_env(HOME=str(home), KERAS_HOME=str(keras_home), XDG_DATA_HOME=str(tmp_path / "xdg"))
    start = time.perf_counter()
    proc = mnist_tui("train", "--model", "scratch", "--limit", "500", "--epochs", "1", "--no-save", env=env,
                     timeout=60)
    took = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    assert "bundled" in proc.stdout.splitlines()[0] or "downloaded" in proc.stdout.splitlines()[0], proc.stdout
    assert took < 30, f"finding the data took {took:.1f}s"
    proc = mnist_tui("train", "--dataset", "fashion-mnist", "--no-save", env=env, timeout=60)
    assert proc.returncode in (0, 1)
    if proc.returncode == 1:  # offline (online, Keras downloads Fashion-MNIST)
        line = one_line(proc.stderr)
        assert "No Fashion-MNIST data found" in line and "--data PATH" in line and "MNIST_TUI_DATA" in line
        assert "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------- SIGINT
def test_sigint_stops_and_saves(real_data_dir: Path, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "mnist_tui", "train", "--model", "cnn", "--limit", "3000", "--epochs", "1",
           "--log-every", "1", "--out", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env(real_data_dir), cwd=REPO_ROOT, stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        seen: list[str] = []
        for line in proc.stdout:
            seen.append(line)
            if re.match(r"epoch 1/1 step \d+/94 ", line):
                break
        else:
            pytest.fail(f"no batch line; stdout={seen!r}")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    out = "".join(seen) + out
    assert proc.returncode == 130, err
    assert took < 2.0, f"a cnn took {took:.2f} s to stop"  # no final evaluation is waited for
    assert "stopping after this batch" in err and "Traceback" not in err
    assert not NATIVE_LOG.search(err), err
    steps = [int(m.group(1)) for m in re.finditer(r"^epoch 1/1 step (\d+)/94 ", out, re.MULTILINE)]
    assert steps and max(steps) < 94  # stopped well before the epoch ended
    assert re.search(r"^stopped: test accuracy after epoch 0 n/a .* stopped by user; final test evaluation "
                     r"skipped$", out, re.MULTILINE), out
    run_dir = only_run_dir(tmp_path)
    assert f"continue it: mnist-tui resume {run_dir.name}" in out
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "stopped" and summary["epochs_completed"] == 0 and summary["evaluated"] is False
    assert summary["model_file"] == "model.keras" and (run_dir / "model.keras").stat().st_size > 1_000_000
    assert read_metrics(run_dir)["n_batches"] == max(steps)  # one row per batch that ran


def test_top_level_runs_dir_is_used_by_train(tiny_idx_dir: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    proc = mnist_tui("--runs-dir", str(runs), "--epochs", "1", "train", "--model", "scratch",
                     "--data", str(tiny_idx_dir), "--batch-size", "8")
    assert proc.returncode == 0, proc.stderr
    run_dir = only_run_dir(runs)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["config"]["epochs"] == 1 and summary["epochs_completed"] == 1
    assert summary["dataset"]["n_train"] == 64


# ------------------------------------------------------------------------- SIGTERM / SIGHUP
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_stop_and_save(real_data_dir: Path, tmp_path: Path, sig: signal.Signals,
                                          code: int) -> None:
    """textual-serve closing a tab sends SIGTERM, a closed terminal SIGHUP: the run ends "stopped"."""
    cmd = [sys.executable, "-m", "mnist_tui", "train", "--model", "scratch", "--limit", "5000", "--epochs", "200",
           "--log-every", "1", "--out", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env(real_data_dir), cwd=REPO_ROOT, stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("epoch 2/200 step 5/"):
                break
        else:
            pytest.fail("no batch line from the second epoch")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code, err
    assert one_line(err) == f"mnist-tui: {sig.name}: stopping after this batch and saving the run (again to abort)"
    assert re.search(r"^stopped: test accuracy after epoch 1 0\.\d+ .* after 1 epoch\(s\)", out, re.MULTILINE), out
    summary = json.loads((only_run_dir(tmp_path) / "summary.json").read_text())
    assert summary["status"] == "stopped" and summary["epochs_completed"] == 1
    assert summary["model_file"] == "model.npz"


# ------------------------------------------------------------------------------ runs
@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real runs trained by the CLI: scratch 2 epochs at batch 64, then 1 epoch at batch 32."""
    from tests.conftest import SHARED_DATA

    data = Path(os.environ.get("MNIST_TUI_DATA") or SHARED_DATA)
    if not data.is_dir():
        pytest.skip("real MNIST data not available (set MNIST_TUI_DATA)")
    runs = tmp_path_factory.mktemp("cli-runs")
    for epochs, batch in (("2", "64"), ("1", "32")):
        proc = mnist_tui("train", "--model", "scratch", "--limit", "1000", "--epochs", epochs, "--batch-size", batch,
                         "--out", str(runs), env=cli_env(data))
        assert proc.returncode == 0, proc.stderr
    return runs


def test_runs_list_table_and_json(cli_runs: Path) -> None:
    ids = sorted(p.name for p in cli_runs.iterdir())
    proc = mnist_tui("runs", "list", "--runs-dir", str(cli_runs))
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    header, *rows = proc.stdout.splitlines()
    assert header.split() == ["id", "status", "preset", "data", "backend", "epochs", "batch", "lr", "test", "acc",
                              "duration", "started"]
    assert [r.split()[0] for r in rows] == ids[::-1]  # newest first (same second: the -1 suffix is newer)
    assert rows[0].split()[1:8] == ["done", "scratch", "mnist", "numpy", "1/1", "32", "0.5"]
    assert rows[1].split()[1:8] == ["done", "scratch", "mnist", "numpy", "2/2", "64", "0.5"]

    proc = mnist_tui("--runs-dir", str(cli_runs), "runs", "list", "--json", "--sort", "accuracy")
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    assert sorted(r["id"] for r in listed) == ids
    accs = [r["test_accuracy"] for r in listed]
    assert accs == sorted(accs, reverse=True)
    for r in listed:
        summary = json.loads((cli_runs / r["id"] / "summary.json").read_text())
        assert (r["status"], r["test_accuracy"], r["epochs_completed"]) == ("done", summary["test_accuracy"],
                                                                            summary["epochs_completed"])
        assert r["model_file"] == str(cli_runs / r["id"] / "model.npz")


def test_runs_export_to_stdout_and_file(cli_runs: Path, tmp_path: Path) -> None:
    run_id = sorted(p.name for p in cli_runs.iterdir())[0]
    metrics = export_text(cli_runs / run_id, "csv")
    proc = mnist_tui("runs", "export", run_id, "--runs-dir", str(cli_runs))
    assert proc.returncode == 0 and proc.stdout == metrics, proc.stderr
    proc = mnist_tui("runs", "export", run_id, "--format", "json", "--runs-dir", str(cli_runs))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    rows = metrics.splitlines()[1:]
    assert len(doc["batches"]) == sum(r.startswith("batch,") for r in rows) == 32
    assert len(doc["epochs"]) == 2 and doc["summary"]["status"] == "done" and doc["config"]["batch_size"] == 64
    assert doc["batches"][-1]["batch_loss"] == pytest.approx(float(rows[-2].split(",")[7]))

    out = tmp_path / "m.json"
    proc = mnist_tui("runs", "export", run_id, "--format", "json", "--out", str(out), "--runs-dir", str(cli_runs))
    assert proc.returncode == 0 and one_line(proc.stdout) == f"exported {run_id} to {out}"
    assert json.loads(out.read_text()) == doc
    proc = mnist_tui("runs", "export", run_id, "--out", str(tmp_path / "m.csv"), "--runs-dir", str(cli_runs))
    assert proc.returncode == 0 and (tmp_path / "m.csv").read_text() == metrics


@pytest.mark.parametrize(("args", "code", "fragment"), [
    (["runs", "export", "nope"], 1, "mnist-tui: error: no run 'nope' in "),
    (["runs", "export", "2"], 1, "is ambiguous: 2 runs match"),
    (["runs", "delete", "nope", "--yes"], 1, "no run 'nope'"),
    (["runs", "delete", "2"], 1, "is ambiguous"),  # resolved first: a delete names exactly one run
    (["runs", "export", "2", "--format", "xml"], 2, "invalid choice: 'xml'"),
    (["runs", "list", "--sort", "colour"], 2, "invalid choice: 'colour'"),
    (["runs"], 2, "required: ACTION"),
])
def test_runs_errors_are_one_line(cli_runs: Path, args: list[str], code: int, fragment: str) -> None:
    proc = mnist_tui(*args, "--runs-dir", str(cli_runs)) if len(args) > 1 else mnist_tui(*args)
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert fragment in one_line(proc.stderr) and proc.stdout == ""


def test_runs_delete_and_empty_store(cli_runs: Path, tmp_path: Path) -> None:
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(cli_runs, runs)
    for run_id in sorted(p.name for p in runs.iterdir()):
        proc = mnist_tui("runs", "delete", run_id[:-1] if run_id.endswith("-1") else run_id, "--yes",
                         "--runs-dir", str(runs))
        assert proc.returncode == 0 and one_line(proc.stdout).startswith("deleted "), proc.stderr
    assert list(runs.iterdir()) == []
    proc = mnist_tui("runs", "list", "--runs-dir", str(runs))
    assert proc.returncode == 0 and one_line(proc.stdout) == f"No runs yet in {runs}"
    assert json.loads(mnist_tui("runs", "list", "--json", "--runs-dir", str(runs)).stdout) == []
    missing = mnist_tui("runs", "list", "--json", "--runs-dir", str(tmp_path / "none"))
    assert missing.returncode == 1 and "no such directory" in missing.stderr  # a named store must exist


def test_runs_commands_import_no_heavy_modules(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from mnist_tui.cli import main\n"
        f"assert main(['runs', 'list', '--runs-dir', {str(tmp_path)!r}]) == 0\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'textual'))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(),
                          cwd=REPO_ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stderr


def test_resume_says_the_data_has_moved_before_loading_anything(tmp_path: Path) -> None:
    from mnist_tui.runs.rundir import CONFIG, atomic_write_json, read_config
    from tests.runs_helpers import write_run

    run = write_run(tmp_path, "20260102-120000-mlp", status="stopped", epochs=1)
    atomic_write_json(run / CONFIG, read_config(run).with_changes(epochs=2, data_path="/moved/away").to_dict())
    proc, loaded = mnist_tui_loading("resume", run.name, "--runs-dir", str(tmp_path), env=cli_env())
    assert proc.returncode == 1 and loaded == [], loaded
    assert one_line(proc.stderr) == "mnist-tui: error: /moved/away: no such file or directory"
    assert not (run / "trainer.log").exists() and read_config(run).data_path == "/moved/away"
