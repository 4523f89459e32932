"""Pilot tests for the draw view: keys and mouse paint, every stroke is centred and classified."""

from __future__ import annotations

import time
from collections.abc import Iterable

import numpy as np
import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from mnist_tui.app import APP_CSS
from mnist_tui.render.preprocess import centre_of_mass
from mnist_tui.screens.draw import NO_MODEL, DrawView
from mnist_tui.widgets.draw_canvas import DRAG_POST_INTERVAL, DrawCanvas
from mnist_tui.widgets.prob_histogram import ProbHistogram
from tests.ui.fakes import sample_digits


class RecordingPredictor:
    """Says 1 for tall thin inputs and 0 otherwise, and remembers every call."""

    def __init__(self) -> None:
        self.calls: list[np.ndarray] = []

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.calls.append(x.copy())
        probs = np.full((len(x), 10), 0.02)
        for i, img in enumerate(x):
            rows, cols = np.flatnonzero(img.any(axis=1)), np.flatnonzero(img.any(axis=0))
            tall = len(rows) > 2 * len(cols)
            probs[i, 1 if tall else 0] = 0.82
        return probs


class DrawHost(App[None]):
    """The app's chrome (header, tabs, footer, real stylesheet) around one DrawView.

    It also binds ``c`` at app level, as MnistApp does (chart marker), to show which wins.
    """

    CSS_PATH = str(APP_CSS)
    BINDINGS = [Binding("c", "app_c", "Marker", id="chart.marker")]

    def __init__(self, predict: RecordingPredictor | None = None) -> None:
        super().__init__()
        self.predict = predict
        self.app_c_presses = 0

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(id="tabs"), TabPane("Draw", id="draw"):
            yield DrawView(self.predict, id="draw-view")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DrawView).focus()

    def action_app_c(self) -> None:
        self.app_c_presses += 1


async def press(pilot: Pilot, *keys: str, times: int = 1) -> None:
    """One Pilot call for the lot: each call waits for a full screen update (~80 ms here)."""
    if keys and times:
        await pilot.press(*(keys * times))
    await pilot.pause()


async def move_to(pilot: Pilot, canvas: DrawCanvas, row: int, col: int) -> None:
    """Walk the keyboard cursor to (row, col) without painting."""
    dr, dc = row - canvas.cursor[0], col - canvas.cursor[1]
    await press(pilot, "down" if dr > 0 else "up", times=abs(dr))
    await press(pilot, "right" if dc > 0 else "left", times=abs(dc))
    assert canvas.cursor == (row, col)


async def draw_seven(pilot: Pilot) -> None:
    """A 7 drawn with the keyboard only: a top bar, then a slanted stem."""
    canvas = pilot.app.query_one(DrawCanvas)
    await move_to(pilot, canvas, 5, 8)
    await press(pilot, "shift+right", times=13)
    await press(pilot, "shift+down", "shift+down", "shift+left", times=8)


def ink_box(img: np.ndarray) -> tuple[int, int]:
    rows, cols = np.flatnonzero(img.any(axis=1)), np.flatnonzero(img.any(axis=0))
    return len(rows), len(cols)


def assert_centred(img: np.ndarray) -> None:
    cy, cx = centre_of_mass(img)
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1, (cy, cx)


def status_text(app: App[None]) -> str:
    return str(app.query_one("#draw-status", Static).render())


@pytest.fixture
def predictor() -> RecordingPredictor:
    return RecordingPredictor()


async def test_draw_with_keys_and_the_processed_image_is_centred(predictor: RecordingPredictor) -> None:
    app = DrawHost(predictor)
    async with app.run_test(size=(110, 34)) as pilot:
        view, canvas = app.query_one(DrawView), app.query_one(DrawCanvas)
        assert canvas.has_focus
        await move_to(pilot, canvas, 3, 5)  # a stroke in the top-left corner
        assert predictor.calls == []  # moving alone draws nothing
        await press(pilot, "shift+down", times=12)
        assert (canvas.image[3:16, 5] > 0.9).all()  # ink where the cursor went
        assert not canvas.image[:, 9:].any() and not canvas.image[18:].any()  # and nowhere else
        assert len(predictor.calls) == 12  # once per stroke
        last = predictor.calls[-1]
        assert last.shape == (1, 28, 28) and last.dtype == np.uint8
        np.testing.assert_array_equal(last[0], view.processed)
        assert_centred(view.processed)
        height, width = ink_box(view.processed)
        assert height == 20 and width <= 6  # fitted to 20 px, still a thin vertical stroke
        hist = app.query_one("#draw-bars", ProbHistogram)
        assert hist.probs is not None and int(np.argmax(hist.probs)) == 1
        assert "predicted 1 (82 %)" in status_text(app)


async def test_space_paints_and_backspace_erases(predictor: RecordingPredictor) -> None:
    app = DrawHost(predictor)
    async with app.run_test(size=(110, 34)) as pilot:
        canvas = app.query_one(DrawCanvas)
        await move_to(pilot, canvas, 10, 12)
        await press(pilot, "space")
        assert canvas.image[10, 12] == 1.0 and canvas.image[10, 13] > 0  # soft brush edge
        assert len(predictor.calls) == 1
        await press(pilot, "backspace")
        assert canvas.image[10, 12] == 0.0 and not canvas.image.any()
        assert len(predictor.calls) == 1  # nothing left to classify
        assert app.query_one("#draw-bars", ProbHistogram).probs is None


async def test_c_clears_the_canvas_and_wins_over_the_app_key(predictor: RecordingPredictor) -> None:
    app = DrawHost(predictor)
    async with app.run_test(size=(110, 34)) as pilot:
        canvas, view = app.query_one(DrawCanvas), app.query_one(DrawView)
        await press(pilot, "shift+down", times=5)
        calls = len(predictor.calls)
        assert canvas.image.any() and view.probs is not None
        await press(pilot, "c")
        assert not canvas.image.any() and not view.processed.any()
        assert view.probs is None and app.query_one("#draw-bars", ProbHistogram).probs is None
        assert len(predictor.calls) == calls  # an empty canvas is not classified
        assert app.app_c_presses == 0  # the focused canvas's c beats the app's c
        app.query_one("#tabs Tabs").focus()
        await press(pilot, "c")
        assert app.app_c_presses == 1  # away from the canvas, c is the app's again


async def test_plus_and_minus_change_the_brush(predictor: RecordingPredictor) -> None:
    app = DrawHost(predictor)
    async with app.run_test(size=(110, 34)) as pilot:
        canvas = app.query_one(DrawCanvas)
        help_line = app.query_one("#draw-help", Static)
        assert canvas.radius == 1 and "brush (1)" in str(help_line.render())
        await press(pilot, "plus", times=5)
        assert canvas.radius == 4  # capped
        assert "brush (4)" in str(help_line.render()) and canvas.border_subtitle == "brush 4"
        await press(pilot, "minus", times=2)
        assert canvas.radius == 2
        await press(pilot, "space")
        wide = int((canvas.image > 0.5).sum())
        await press(pilot, "c", "minus")
        assert canvas.radius == 1
        await press(pilot, "space")
        assert int((canvas.image > 0.5).sum()) < wide


async def test_mouse_drag_paints_and_posts_one_stroke(predictor: RecordingPredictor) -> None:
    app = DrawHost(predictor)
    async with app.run_test(size=(110, 34)) as pilot:
        canvas, view = app.query_one(DrawCanvas), app.query_one(DrawView)
        # Offsets are in cells from the canvas's top-left corner; the border is 1 cell wide.
        start = time.monotonic()
        await pilot.mouse_down(canvas, offset=(1 + 7, 1 + 2))
        assert app.mouse_captured is canvas
        for cell_row in range(3, 11):
            await pilot.hover(canvas, offset=(1 + 7, 1 + cell_row))
        await pilot.mouse_up(canvas, offset=(1 + 7, 1 + 10))
        elapsed = time.monotonic() - start
        await pilot.pause()
        assert app.mouse_captured is None
        assert (canvas.image[4:22, 7] > 0.9).all()  # cell rows 2..10 are pixel rows 4..21
        assert canvas.image[:, 12:].max() == 0
        # Coalesced: one for the stroke, plus at most one per DRAG_POST_INTERVAL meanwhile.
        assert 1 <= len(predictor.calls) <= 1 + elapsed / DRAG_POST_INTERVAL
        np.testing.assert_array_equal(predictor.calls[-1][0], view.processed)
        assert_centred(view.processed)
        assert canvas.cursor[1] == 7 and canvas.cursor[0] in (20, 21)  # keys carry on from the mouse
        # A click is one stroke: one message, one classification.
        n = len(predictor.calls)
        await pilot.click(canvas, offset=(1 + 15, 1 + 6))
        await pilot.pause()
        assert len(predictor.calls) == n + 1 and canvas.image[12:14, 15].min() > 0.9


async def test_without_a_model_it_says_so_and_classifies_once_one_arrives() -> None:
    app = DrawHost(None)
    async with app.run_test(size=(110, 34)) as pilot:
        view = app.query_one(DrawView)
        assert NO_MODEL in status_text(app)
        await press(pilot, "shift+down", times=8)
        assert view.processed.any() and view.probs is None
        assert_centred(view.processed)
        predictor = RecordingPredictor()
        view.set_predictor(predictor, tuple("abcdefghij"), label="mlp run 20261122-101500")
        await pilot.pause()
        assert len(predictor.calls) == 1  # the drawing already there is classified at once
        text = status_text(app)
        assert "predicted b (82 %)" in text and "mlp run 20261122-101500" in text
        view.set_predictor(None, label="")
        await pilot.pause()
        assert NO_MODEL in status_text(app) and view.probs is None


async def test_a_failing_model_is_reported_not_raised() -> None:
    def broken(x: np.ndarray) -> np.ndarray:
        raise RuntimeError("weights missing")

    app = DrawHost(None)
    async with app.run_test(size=(110, 34)) as pilot:
        app.query_one(DrawView).set_predictor(broken, label="broken")
        await press(pilot, "space")
        assert "model failed: RuntimeError: weights missing" in status_text(app)


def regions(app: App[None]) -> dict[str, Region]:
    return {
        "canvas": app.query_one(DrawCanvas).region,
        "help": app.query_one("#draw-help").region,
        "preview": app.query_one("#draw-preview").region,
        "status": app.query_one("#draw-status").region,
        "bars": app.query_one("#draw-bars").region,
    }


def assert_disjoint(parts: Iterable[tuple[str, Region]]) -> None:
    items = list(parts)
    for i, (a, ra) in enumerate(items):
        for b, rb in items[i + 1 :]:
            assert not ra.overlaps(rb), (a, ra, b, rb)


@pytest.mark.parametrize("size", [(80, 24), (110, 34)])
async def test_the_view_fits_without_overlaps(size: tuple[int, int], predictor: RecordingPredictor) -> None:
    app = DrawHost(predictor)
    async with app.run_test(size=size) as pilot:
        app.query_one(DrawCanvas).set_image(sample_digits()[0][0])  # a real 7
        await pilot.pause()
        screen = Region(0, 0, *size)
        found = regions(app)
        for name, region in found.items():
            assert region.area > 0, name
            assert screen.contains_region(region), (name, region)
        assert found["canvas"].size == (30, 16)  # 28×14 cells of pixels inside the border
        assert found["preview"].size == (28, 14)  # the whole 28×28 model input
        assert found["help"].height >= 4  # every key listed
        assert found["bars"].height == 12 and found["bars"].width >= 20  # ten rows, numbers visible
        footer = app.query_one(Footer).region
        assert all(r.bottom <= footer.y for r in found.values())
        assert_disjoint(found.items())
        bars = app.query_one("#draw-bars", ProbHistogram)
        shown = [strip.text for strip in bars.render_lines(Region(0, 0, *bars.outer_size))]
        assert shown[1].startswith("softmax output")
        assert [row[:8].strip() for row in shown[2:12]] == [str(k) for k in range(10)]  # no wrapped rows
        assert "0.820" in shown[2]  # a 7 is not tall and thin: class 0's row, its number in full


async def test_without_colour_the_canvas_uses_an_ascii_ramp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = DrawHost(None)
    async with app.run_test(size=(80, 24)) as pilot:
        canvas = app.query_one(DrawCanvas)
        await move_to(pilot, canvas, 4, 3)
        await press(pilot, "space")
        row = canvas.render_line(2).text  # pixel rows 4 and 5
        assert row[3] in "=+*#%@" and row[0] == " " and set(canvas.render_line(10).text) == {" "}
