"""SVG snapshots of the three views, fed by the deterministic fake trainer.

Regenerate after an intended UI change with ``pytest tests/ui/test_snapshots.py --snapshot-update``
and look at the SVGs before committing them.
"""

from __future__ import annotations

import os

import pytest

from mnist_tui.app import make_app
from mnist_tui.config import preset_config
from tests.ui.conftest import freeze, wait_for
from tests.ui.fakes import FakeRunSource, FakeTrainer

SIZE = (110, 34)


@pytest.fixture(autouse=True)
def _same_screen_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshots must not depend on the environment: colour on, and no data source set (the
    steps/epoch hint reads the training-set size from $MNIST_TUI_DATA)."""
    from mnist_tui.data import sources
    from tests.network_helpers import FixedNetwork

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("MNIST_TUI_DATA", raising=False)
    monkeypatch.setattr(sources, "_NETWORK", FixedNetwork(online=True))  # the hint must not depend on the network


def _app():
    return make_app(preset_config("mlp").with_changes(epochs=3), source=FakeRunSource(FakeTrainer(steps=60)), seed=0)


def test_setup_view(snap_compare) -> None:
    async def before(pilot) -> None:
        await pilot.pause()
        freeze(pilot.app)

    assert snap_compare(_app(), terminal_size=SIZE, run_before=before)


def test_setup_view_with_error_80x24(snap_compare) -> None:
    async def before(pilot) -> None:
        app = pilot.app
        app.query_one("#field-epochs").value = "0"
        app.query_one("#field-batch_size").focus()
        await pilot.pause()
        freeze(app)

    assert snap_compare(_app(), terminal_size=(80, 24), run_before=before)


def test_training_view_after_run(snap_compare) -> None:
    async def before(pilot) -> None:
        app = pilot.app
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.history.finished is not None)
        await pilot.pause(0.4)
        freeze(app)
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=SIZE, run_before=before)


def test_viewer_on_misclassified_digit(snap_compare) -> None:
    async def before(pilot) -> None:
        app = pilot.app
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.history.finished is not None)
        await pilot.press("v", "m")
        freeze(app)
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=SIZE, run_before=before)


def test_viewer_no_color_ascii_art(snap_compare, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")

    async def before(pilot) -> None:
        app = pilot.app
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.history.finished is not None)
        await pilot.press("v", "7")
        freeze(app)
        await pilot.pause()

    assert os.environ["NO_COLOR"] == "1"
    assert snap_compare(_app(), terminal_size=(80, 24), run_before=before)
