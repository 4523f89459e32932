"""Starting trainer processes: warm ones for the app, detached ones for the CLI.

Every trainer runs ``python -m mnist_tui.runs.process`` in a session of its own
(``start_new_session``), so the terminal's hang-up, the app's Ctrl+C or the app's death
never reach it: the run directory is its only tie to the rest of the world.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

from mnist_tui.runs.rundir import OWNER, TRAINER_LOG, atomic_write_json, owner_record, read_json

READY = "ready"  # what a warm trainer prints once Keras is imported
WARM = "warm"  # what the app sends it when nothing else trains: warm up fully now
WARMED = "warmed"  # its answer once it has
HINT = "hint"  # "hint CONFIG-JSON": the run the form shows, to ready its data and model (idle time only)
HINTED = "hinted"  # its answer, with what it readied: "hinted data model"

COMMAND = (sys.executable, "-m", "mnist_tui.runs.process")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The package as this process imported it, wherever it lives (an editable install, a checkout).
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def spawn(args: list[str], *, stdin: Any = subprocess.DEVNULL, stdout: Any = subprocess.DEVNULL,
          stderr: Any = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*COMMAND, *args], stdin=stdin, stdout=stdout, stderr=stderr, env=_env(),
                            start_new_session=True, close_fds=True)


def start_detached(run_dir: Path, action: str = "train") -> subprocess.Popen[bytes]:
    """A trainer for ``run_dir`` that outlives whoever started it; its output goes to trainer.log.

    run.json names the new process at once (it rewrites it itself when it starts), so a
    follower arriving in between sees a live run, not the dead owner of a run to resume."""
    fd = os.open(run_dir / TRAINER_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = spawn(["--run", str(run_dir), "--action", action], stdout=fd, stderr=fd)
    finally:
        os.close(fd)
    owner = read_json(run_dir / OWNER)
    started = owner.get("started") if isinstance(owner, dict) else None
    atomic_write_json(run_dir / OWNER, owner_record(proc.pid) | ({"started": started} if started else {}))
    return proc


class WarmTrainer:
    """A trainer process with Keras imported on ``backend`` and warmed up, waiting for a job.

    ``backend`` "none" is a trainer for the NumPy net (nothing to import). Closing its stdin
    without a job ends it, so an app that quits or dies never leaves one behind.
    """

    def __init__(self, backend: str, *, background: bool = False) -> None:
        """``background``: readied while a run trains, so it imports at idle priority, taking
        only CPU the run leaves. Such a trainer may starve on a busy machine: one that is not
        ready when its job comes is replaced (``ProcessRunSource._take``)."""
        self.backend = backend
        self.background = background
        self._log: IO[bytes] = tempfile.NamedTemporaryFile(  # noqa: SIM115 - the child writes it; removed at take
            prefix="mnist-tui-warm-", suffix=".log", delete=False)
        self.proc = spawn(["--warm", "--backend", backend, *(["--idle-import"] if background else [])],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log)
        self.ready = threading.Event()
        self.imported = False
        self.taken = False
        self.warmed = False  # asked to warm up fully
        self._hinted = ""  # the last hint line sent
        self.hinted = threading.Event()  # it has readied what the last hint asked for
        self.readied: set[str] = set()  # what its hints readied: "data", "model"
        threading.Thread(target=self._await_ready, name="warm trainer", daemon=True).start()

    def _await_ready(self) -> None:
        """``ready`` once it has imported Keras and, when asked to warm up, has done that too."""
        assert self.proc.stdout is not None
        with contextlib.suppress(OSError, ValueError):
            if self.proc.stdout.readline().strip() != READY.encode():
                return
            self.imported = True
            if not self.warmed:
                self.ready.set()
            if self.proc.stdout.readline().strip() == WARMED.encode():
                self.ready.set()
            for line in self.proc.stdout:  # until the job takes its stdout (EOF here)
                words = line.decode(errors="replace").split()
                if words[:1] == [HINTED]:
                    self.readied.update(words[1:])
                    self.hinted.set()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def failure(self) -> str:
        """Why the process is gone: the last line of what it printed."""
        with contextlib.suppress(OSError):
            lines = Path(self._log.name).read_text(errors="replace").strip().splitlines()
            if lines:
                return lines[-1][:300]
        return f"the trainer process exited with code {self.proc.returncode}"

    def warm_up(self) -> None:
        """Nothing else trains now: let it fit its throwaway model (a second of CPU at normal
        priority, which must not land on a run in progress)."""
        if self.warmed or self.taken or self.proc.stdin is None:
            return
        self.warmed = True
        if self.imported:
            self.ready.clear()  # ready again once the warm-up is done
        with contextlib.suppress(OSError):
            self.proc.stdin.write((WARM + "\n").encode())
            self.proc.stdin.flush()

    def hint(self, config: dict[str, Any]) -> None:
        """Tell it which run the form shows, so that it loads that data and builds that model
        now, not after ``s``. Only when nothing trains (it takes a core for a moment), and
        only when the hint changed."""
        line = HINT + " " + json.dumps(config, sort_keys=True)
        if self.taken or not self.warmed or self.proc.stdin is None or line == self._hinted:
            return
        self._hinted = line
        self.hinted.clear()
        with contextlib.suppress(OSError):
            self.proc.stdin.write((line + "\n").encode())
            self.proc.stdin.flush()

    def take(self, run_dir: Path, action: str = "train", model: str | None = None) -> subprocess.Popen[bytes]:
        """Hand it the run: from now on it is that run's trainer."""
        assert self.proc.stdin is not None
        self.taken = True
        job = {"run": str(run_dir), "action": action} | ({"model": model} if model else {})
        try:
            self.proc.stdin.write((json.dumps(job) + "\n").encode())
            self.proc.stdin.close()
        except OSError:
            pass  # it died: the follower reports the run as failed, with self.failure()
        self._cleanup_log()
        return self.proc

    def discard(self) -> None:
        """Not needed after all: closing stdin makes it exit (SIGTERM if it is stuck importing)."""
        if self.taken:
            return
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        with contextlib.suppress(OSError):
            self.proc.terminate()
        self._cleanup_log()
        threading.Thread(target=self._reap, name="reap warm trainer", daemon=True).start()

    def _reap(self) -> None:
        """Wait for it (no zombie left in the app's process table); kill it if it hangs."""
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)

    def _cleanup_log(self) -> None:
        with contextlib.suppress(OSError):
            self._log.close()
            os.unlink(self._log.name)
