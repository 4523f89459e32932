"""Process tests start trainers that outlive a failed assertion: none may outlive its test."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest


def _trainers_under(root: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"mnist_tui.runs.process" in cmd and any(str(root).encode() in part for part in cmd):
            found.append(int(proc.name))
    return found


@pytest.fixture(autouse=True)
def _no_trainer_left_behind(tmp_path: Path) -> Iterator[None]:
    yield
    for pid in _trainers_under(tmp_path):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
