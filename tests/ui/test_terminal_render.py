"""It reads right in any terminal: 16 colours keep their meaning, NO_COLOR keeps series apart,
legends never cover a curve, y ticks are even and true, and ASCII mode draws ASCII."""

from __future__ import annotations

import itertools
import re

import pytest
from rich.color import ColorSystem

from mnist_tui.screens.inspect import ClassAccuracy
from mnist_tui.widgets.cached_plot import CachedPlot
from mnist_tui.widgets.confusion_grid import ConfusionGrid
from mnist_tui.widgets.digit_art import DigitArt
from mnist_tui.widgets.epoch_chart import EpochChart
from mnist_tui.widgets.key_bar import KeyBar
from mnist_tui.widgets.metric_chart import BatchChart
from mnist_tui.widgets.model_summary import ModelSummary
from mnist_tui.widgets.prob_histogram import ProbHistogram
from tests.ui.conftest import wait_for
from tests.ui.screen_text import colours_of, sgr_runs, widget_lines

SIZE = (110, 34)
RED, GREEN, YELLOW, MAGENTA, CYAN, WHITE, BRIGHT_BLACK = 31, 32, 33, 35, 36, 37, 90
BRAILLE = re.compile("[\u2800-\u28ff]")


@pytest.fixture(autouse=True)
def _unicode_and_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sets the terminal it means; the machine's own locale must not decide."""
    monkeypatch.setenv("MNIST_TUI_ASCII", "0")
    monkeypatch.delenv("NO_COLOR", raising=False)


async def finished_run(make, pilot, app) -> None:
    await pilot.press("escape", "s")
    await wait_for(pilot, lambda: app.history.finished is not None)
    await pilot.pause(0.3)


def curve_codes(chart: CachedPlot) -> set[int]:
    """Foreground codes of the curves' braille cells (below the header)."""
    top = chart.region.y + len(chart.header_lines(chart.size.width))
    codes: set[int] = set()
    for params, text in sgr_runs(chart):
        if BRAILLE.search(text):
            codes |= {int(p) for p in params.split(";") if p.isdigit() and (30 <= int(p) <= 37 or 90 <= int(p) <= 97)}
    assert top >= chart.region.y
    return codes


async def test_16_colours_keep_the_documented_meaning(make) -> None:
    """TERM=xterm: the predicted bar is red (was magenta), raw batch values grey that shows on
    black (were bright black), smoothed and epoch curves in their own colours."""
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await finished_run(make, pilot, app)
        loss, acc = app.query_one("#chart-loss", BatchChart), app.query_one("#chart-acc", BatchChart)
        assert curve_codes(loss) == {WHITE, CYAN}  # raw grey, smoothed cyan
        assert curve_codes(acc) == {WHITE, GREEN}
        assert curve_codes(app.query_one("#chart-epoch-loss", EpochChart)) == {CYAN, YELLOW}  # train, val
        assert BRIGHT_BLACK not in curve_codes(loss)
        await pilot.press("v")
        await pilot.pause()
        hist = app.query_one(ProbHistogram)
        assert colours_of(hist, "predicted") == {RED}
        assert colours_of(hist, "true") == {GREEN}
        assert MAGENTA not in set().union(*(colours_of(hist, c) for c in "█▉▊▋▌▍▎▏"))
        # 256 colours: the predicted bar is xterm's red 160, not the theme's pink.
        runs256 = [p for p, t in sgr_runs(hist, ColorSystem.EIGHT_BIT) if "predicted" in t]
        assert runs256 and all("38;5;160" in p for p in runs256), runs256


async def test_no_color_tells_series_apart_by_marker(make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        assert app.no_color
        await finished_run(make, pilot, app)
        for chart in (*app.query(BatchChart), *app.query(EpochChart)):
            markers = [entry.marker for entry in chart.legend]
            assert len(markers) == 2 and len(set(markers)) == 2, chart.id
            body = "\n".join(widget_lines(chart)[1:])
            assert BRAILLE.search(body) and "•" in body, chart.id  # both markers are on the canvas
        await pilot.press("l", "2")
        await pilot.pause(0.3)
        activations = app.query_one("#explore-activation-chart", CachedPlot)
        assert [e.label for e in activations.legend] == ["relu", "sigmoid", "tanh"]
        assert len({e.marker for e in activations.legend}) == 3


async def test_legends_are_above_the_plot_not_over_the_curves(make) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await finished_run(make, pilot, app)
        for chart in app.query(EpochChart):
            lines = widget_lines(chart)
            assert "train" in lines[0] and "val" in lines[0]
            assert not any("train" in line or "val" in line for line in lines[1:])
        for chart in app.query(BatchChart):
            lines = widget_lines(chart)
            assert "raw" in lines[0] and "smoothed" in lines[0]


def y_axis(chart: CachedPlot) -> list[tuple[int, float]]:
    """(row, value) of every y tick label drawn on the chart's left axis."""
    out = []
    for row, line in enumerate(widget_lines(chart)):
        match = re.match(r"^\s*(-?\d+(?:\.\d+)?)\s*[┤├]", line)
        if match:
            out.append((row, float(match.group(1))))
    return out


@pytest.mark.parametrize("size", [(80, 24), SIZE, (200, 60)])
async def test_y_ticks_are_evenly_spaced_and_true(make, size: tuple[int, int]) -> None:
    app = make()
    async with app.run_test(size=size) as pilot:
        await finished_run(make, pilot, app)
        for chart in (*app.query(BatchChart), *app.query(EpochChart)):
            ticks = y_axis(chart)
            assert len(ticks) >= 2, (chart.id, widget_lines(chart))
            assert [v for _, v in ticks] == sorted((v for _, v in ticks), reverse=True)  # top to bottom
            assert [v for _, v in reversed(ticks)] == pytest.approx(chart.yticks)  # every tick drawn
            steps = {round(a - b, 9) for (_, a), (_, b) in itertools.pairwise(ticks)}
            assert len(steps) == 1, (chart.id, ticks)  # evenly spaced values
            (r0, v0), (r1, v1) = ticks[0], ticks[-1]
            for row, value in ticks:  # and each on its row: linear in the value, to within a row
                assert abs(row - (r0 + (r1 - r0) * (v0 - value) / (v0 - v1))) <= 1, (chart.id, ticks)


async def test_ascii_mode_draws_only_ascii(make, monkeypatch: pytest.MonkeyPatch) -> None:
    """MNIST_TUI_ASCII=1 (what --ascii and a C locale give): digits as a ramp, bars with #,
    charts with ASCII markers and frames, arrows as ->, ok/x."""
    monkeypatch.setenv("MNIST_TUI_ASCII", "1")
    app = make()

    def assert_ascii(widget) -> None:
        lines = widget_lines(widget)
        bad = {ch for line in lines for ch in line if not ch.isascii()}
        assert not bad, (widget, bad, lines)

    async with app.run_test(size=SIZE) as pilot:
        await finished_run(make, pilot, app)
        for chart in (*app.query(BatchChart), *app.query(EpochChart)):
            assert_ascii(chart)
            assert "*" in "\n".join(widget_lines(chart)[1:])
        assert_ascii(app.query_one(KeyBar))
        await pilot.press("v")
        await pilot.pause()
        for widget in (app.query_one(ProbHistogram), app.query_one(DigitArt), app.query_one(KeyBar)):
            assert_ascii(widget)
        bars = "\n".join(widget_lines(app.query_one(ProbHistogram)))
        assert "#" in bars and "<- predicted" in bars and "true> " in bars
        assert "-> Next" in widget_lines(app.query_one(KeyBar))[0]
        await pilot.press("i")
        await pilot.pause(0.2)
        for widget in (app.query_one(ConfusionGrid), app.query_one(ClassAccuracy), app.query_one("#inspect-cell"),
                       app.query_one("#inspect-title")):
            assert_ascii(widget)
        await pilot.press("l")
        await pilot.pause(0.2)
        for section in ("1", "2"):
            await pilot.press(section)
            await pilot.pause(0.3)
            for widget in app.query("#explore-labels, #explore-samples, #explore-facts, #explore-onehot, "
                                    "#explore-activation-chart, #explore-softmax"):
                if widget.region.area:
                    assert_ascii(widget)
        await pilot.press("escape", "e")
        await pilot.pause()
        assert_ascii(app.query_one(ModelSummary))
        assert_ascii(app.query_one("#hint-steps"))
        assert_ascii(app.query_one("#setup-hint"))
