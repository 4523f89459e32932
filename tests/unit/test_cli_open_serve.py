"""`mnist-tui open` and `mnist-tui serve`, and the --jit flag."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mnist_tui import cli
from mnist_tui.serve import app_command, describe, make_server


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mnist_tui", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(("name", "message"), [
    ("missing.keras", "no such file"), ("notes.txt", "expected .keras or .npz"), (".", "is a directory"),
    ("garbage.keras", "not a Keras model"), ("garbage.npz", "not a scratch model"),
])
def test_open_with_a_bad_path_is_a_one_line_error_before_the_app_starts(tmp_path: Path, name: str,
                                                                        message: str) -> None:
    target = tmp_path / name
    if name in ("notes.txt", "garbage.keras", "garbage.npz"):
        target.write_bytes(b"PK\x03\x04 truncated, not really a zip")
    proc = run_cli("open", str(target if name != "." else tmp_path))
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr


def test_serve_help_names_the_safe_default() -> None:
    proc = run_cli("serve", "--help", timeout=20)
    assert proc.returncode == 0 and "127.0.0.1" in proc.stdout


def test_serve_builds_a_localhost_server_that_runs_this_app() -> None:
    pytest.importorskip("textual_serve")
    server = make_server("127.0.0.1", 8123, ["--runs-dir", "/tmp/x y"])
    assert (server.host, server.port) == ("127.0.0.1", 8123)
    assert server.command == app_command(["--runs-dir", "/tmp/x y"])
    assert server.command.endswith("-m mnist_tui --runs-dir '/tmp/x y'")
    assert "this machine only" in describe("127.0.0.1", 8123) and "ssh -L 8123" in describe("127.0.0.1", 8123)
    assert "EVERY network interface" in describe("0.0.0.0", 8000)


def test_serve_passes_flags_given_before_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("textual_serve")
    from mnist_tui.serve import GuardedServer

    seen = {}

    def fake_serve(self: GuardedServer, debug: bool = False, on_ready: object = None) -> None:
        seen.update(command=self.command, host=self.host, port=self.port, served=True)

    monkeypatch.setattr(GuardedServer, "serve", fake_serve)
    assert cli.main(["--model", "cnn", "serve", "--port", "9001"]) == 0
    assert seen["served"] and seen["host"] == "127.0.0.1" and seen["port"] == 9001
    assert seen["command"].endswith("-m mnist_tui --model cnn")
    assert cli.main(["serve", "--port", "70000"]) == 2


def test_jit_flag_parses_and_reaches_the_keras_model() -> None:
    from mnist_tui.models.keras_models import build_model

    args = cli.build_parser().parse_args(["train", "--jit", "on", "--model", "mlp"])
    cfg = cli.config_from_args(args)
    assert cfg.jit is True
    model = build_model(cfg)
    assert model.jit_compile is True
    proc = run_cli("train", "--jit", "maybe", timeout=20)
    assert proc.returncode == 2 and "--jit: must be on or off" in proc.stderr
    proc = run_cli("train", "--model", "scratch", "--jit", "on", timeout=20)
    assert proc.returncode == 2 and "plain NumPy" in proc.stderr


def test_backend_must_be_installed_and_scratch_has_none() -> None:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        proc = run_cli("train", "--backend", "torch", "--no-save", timeout=30)
        assert proc.returncode == 2 and "torch is not installed" in proc.stderr
    else:  # same check, with the module made unfindable
        code = ("import importlib.util, sys; real = importlib.util.find_spec; "
                "importlib.util.find_spec = lambda n, *a: None if n == 'torch' else real(n, *a); "
                "from mnist_tui.cli import main; sys.exit(main(['train', '--backend', 'torch', '--no-save']))")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2 and "torch is not installed" in proc.stderr
    proc = run_cli("train", "--model", "scratch", "--backend", "jax", "--no-save", timeout=30)
    assert proc.returncode == 2 and "plain NumPy" in proc.stderr
    proc = run_cli("train", "--backend", "cntk", "--no-save", timeout=30)
    assert proc.returncode == 2 and "backend" in proc.stderr


@pytest.mark.parametrize("backend", ["torch"])
def test_other_backends_train_the_same_recipe(real_data_dir: Path, tmp_path: Path, backend: str) -> None:
    """torch, an optional extra, when installed (JAX is the default install: the auto test trains it)."""
    pytest.importorskip(backend)
    import json
    import os

    env = {**os.environ, "MNIST_TUI_DATA": str(real_data_dir)}
    proc = subprocess.run([sys.executable, "-m", "mnist_tui", "train", "--backend", backend, "--limit", "3000",
                           "--epochs", "2", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300,
                          env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = list(tmp_path.iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["config"]["backend"] == backend and summary["test_accuracy"] > 0.85


def test_default_backend_is_auto_and_the_run_records_what_ran(real_data_dir: Path, tmp_path: Path) -> None:
    """No --backend and no $KERAS_BACKEND: jax when installed (the fastest mode at the same
    accuracy), else tensorflow; config.json names the one that trained."""
    import importlib.util
    import json
    import os

    expected = "jax" if importlib.util.find_spec("jax") is not None else "tensorflow"
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["MNIST_TUI_DATA"] = str(real_data_dir)
    proc = subprocess.run([sys.executable, "-m", "mnist_tui", "train", "--limit", "2000", "--epochs", "1",
                           "--log-every", "5", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = list(tmp_path.iterdir())
    assert json.loads((run_dir / "config.json").read_text())["backend"] == expected
    device = {"jax": "JAX · CPU", "tensorflow": "TensorFlow · CPU"}[expected]  # what the trainer really got
    assert proc.stdout.splitlines()[0].endswith(f"; on {device}"), proc.stdout
    assert json.loads((run_dir / "summary.json").read_text())["test_accuracy"] > 0.8


def test_serve_on_a_busy_port_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("textual_serve")
    from mnist_tui.serve import GuardedServer

    def busy_serve(self: GuardedServer, debug: bool = False, on_ready: object = None) -> None:
        raise OSError(98, "Address already in use")

    monkeypatch.setattr(GuardedServer, "serve", busy_serve)
    assert cli.main(["serve", "--port", "8765"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["mnist-tui: error: cannot serve on 127.0.0.1:8765: Address already in use"]


def test_open_a_runs_model_uses_the_data_that_run_recorded(tmp_path: Path, tiny_idx_dir: Path) -> None:
    """``mnist-tui open RUN/model.keras`` (the README's own example) needs no --data again."""
    from mnist_tui.cli import _data_of_the_run, build_parser, config_from_args
    from mnist_tui.config import preset_config
    from tests.runs_helpers import train_run

    run = train_run(tmp_path, preset_config("scratch").with_changes(data_path=str(tiny_idx_dir), batch_size=8,
                                                                    epochs=1))
    args = build_parser().parse_args(["open", str(run / "model.npz")])
    cfg = _data_of_the_run(str(run / "model.npz"), args, config_from_args(args))
    assert cfg.data_path == str(tiny_idx_dir) and cfg.dataset == "mnist"
    args = build_parser().parse_args(["open", str(run / "model.npz"), "--data", "/elsewhere"])
    assert _data_of_the_run(str(run / "model.npz"), args, config_from_args(args)).data_path == "/elsewhere"
    loose = tmp_path / "loose.npz"
    loose.write_bytes((run / "model.npz").read_bytes())
    args = build_parser().parse_args(["open", str(loose)])
    assert _data_of_the_run(str(loose), args, config_from_args(args)).data_path is None  # not in a run: as given
