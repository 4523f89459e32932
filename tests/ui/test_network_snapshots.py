"""SVG snapshots of the Network tab (weights, distributions) and Setup showing its code, fed
by the deterministic fake trainer (its records are computed the way the recorder computes them).

Regenerate after an intended UI change with ``pytest tests/ui/test_network_snapshots.py --snapshot-update``
and look at the SVGs before committing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mnist_tui.app import make_app
from mnist_tui.config import preset_config
from tests.ui.conftest import freeze, wait_for
from tests.ui.fakes import FakeRunSource, FakeTrainer

SIZE = (110, 34)


@pytest.fixture(autouse=True)
def _same_screen_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in test_snapshots: colour on, no data source, a fixed network answer."""
    from mnist_tui import codegen
    from mnist_tui.data import sources
    from tests.network_helpers import FixedNetwork

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("MNIST_TUI_DATA", raising=False)
    monkeypatch.setattr(sources, "_NETWORK", FixedNetwork(online=True))
    # The code names the bundled data by its path: the same path in every checkout (CI clones elsewhere).
    monkeypatch.setattr(codegen, "BUNDLED_DIR", Path("/site-packages/mnist_tui/data/bundled/mnist-20k"))


def _app(preset: str = "mlp"):
    return make_app(preset_config(preset).with_changes(epochs=3, backend="tensorflow"),
                    source=FakeRunSource(FakeTrainer(steps=20)), seed=0)


def _after_run(*keys: str):
    async def before(pilot) -> None:
        app = pilot.app
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: app.history.finished is not None)
        await pilot.press("w", *keys)
        await pilot.pause(0.2)
        freeze(app)
        await pilot.pause()

    return before


def test_network_weights_of_mlp(snap_compare) -> None:
    assert snap_compare(_app(), terminal_size=SIZE, run_before=_after_run("right", "right", "right", "right", "right"))


def test_network_distributions_of_mlp(snap_compare) -> None:
    assert snap_compare(_app(), terminal_size=SIZE, run_before=_after_run("2", "left_square_bracket"))


def test_network_filters_of_cnn(snap_compare) -> None:
    assert snap_compare(_app("cnn"), terminal_size=SIZE, run_before=_after_run("down"))


def test_setup_showing_the_code_80x24(snap_compare) -> None:
    async def before(pilot) -> None:
        await pilot.press("escape", "g")
        await pilot.pause(0.2)
        freeze(pilot.app)
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=(80, 24), run_before=before)
