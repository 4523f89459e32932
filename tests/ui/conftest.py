"""Shared helpers for Pilot tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from mnist_tui.app import MnistApp, make_app
from mnist_tui.config import TrainConfig, preset_config
from tests.ui.fakes import FakeRunSource, FakeTrainer


async def wait_for(pilot: Pilot, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until ``condition`` holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await pilot.pause(0.02)
    await pilot.pause()


def freeze(app: MnistApp) -> None:
    """No blinking cursors and no toasts: what snapshots and screenshots need."""
    for widget in app.query(Input):
        widget.cursor_blink = False
    app.clear_notifications()


@pytest.fixture
def fake() -> FakeTrainer:
    return FakeTrainer()


@pytest.fixture
def make(fake: FakeTrainer) -> Callable[..., MnistApp]:
    def _make(config: TrainConfig | None = None, trainer: FakeTrainer | None = None) -> MnistApp:
        return make_app(config or preset_config("mlp").with_changes(epochs=2), source=FakeRunSource(trainer or fake),
                        seed=0)

    return _make


async def settle() -> None:
    await asyncio.sleep(0)
