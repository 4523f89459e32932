"""--low-bandwidth: the status line's numbers at most once a second and the batch charts at
most every LOW_BANDWIDTH_CHART_SECONDS, however fast batches arrive. The app's clock is a fake
one here, moved by the test, so the limits are checked exactly, not against the wall clock."""

from __future__ import annotations

import threading
import time
import types
from collections.abc import Callable

import pytest

import mnist_tui.app as app_module
from mnist_tui.app import LOW_BANDWIDTH_CHART_SECONDS, MnistApp, make_app
from mnist_tui.cli import build_parser
from mnist_tui.config import preset_config
from tests.ui.conftest import wait_for
from tests.ui.fakes import FakeRunSource, FakeTrainer

SIZE = (110, 34)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def counting(app: MnistApp) -> dict[str, int]:
    """Count the status line's repaints and the loss chart's redraws."""
    counts = {"status": 0, "chart": 0}
    status, chart = app._refresh_status, app.loss_chart.redraw

    def refresh_status() -> None:
        counts["status"] += 1
        status()

    def redraw() -> None:
        counts["chart"] += 1
        chart()

    app._refresh_status = refresh_status  # type: ignore[method-assign]
    app.loss_chart.redraw = redraw  # type: ignore[method-assign]
    return counts


async def batches_arrive(pilot, app: MnistApp, n: int) -> None:
    start = app.history.batches
    await wait_for(pilot, lambda: app.history.batches >= start + n, timeout=20)
    await pilot.pause(0.3)  # a few ticks after them


def gated_app(steps: int, epochs: int, low_bandwidth: bool, delay: float = 0.002,
              hold_after: tuple[int, ...] = ()) -> tuple[MnistApp, FakeTrainer]:
    """An app on a fake run whose batches wait for ``fake.gate`` (cleared after ``hold_after``)."""
    fake = FakeTrainer(steps=steps, batch_delay=delay, gate=threading.Event(), network=False,
                       hold_after=hold_after)
    app = make_app(preset_config("mlp").with_changes(epochs=epochs), source=FakeRunSource(fake), seed=0,
                   low_bandwidth=low_bandwidth)
    return app, fake


async def start_gated(pilot, fake: FakeTrainer) -> None:
    """Press s, wait for the run, and let its batches flow."""
    await pilot.press("escape", "s")
    await wait_for(pilot, lambda: len(fake.controls) == 1)
    fake.gate.set()


@pytest.fixture
def clocked(monkeypatch: pytest.MonkeyPatch) -> tuple[Clock, Callable[[bool], tuple[MnistApp, FakeTrainer]]]:
    clock = Clock()
    fake_time = types.SimpleNamespace(**{name: getattr(time, name) for name in dir(time) if not name.startswith("_")})
    fake_time.monotonic = clock.monotonic
    monkeypatch.setattr(app_module, "time", fake_time)  # the app's pacing only; Textual keeps the real clock

    def make(low_bandwidth: bool) -> tuple[MnistApp, FakeTrainer]:
        return gated_app(100_000, 1, low_bandwidth)

    return clock, make


async def test_low_bandwidth_paces_status_and_charts_by_the_clock(clocked) -> None:
    clock, make = clocked
    app, fake = make(True)
    async with app.run_test(size=SIZE) as pilot:
        await start_gated(pilot, fake)
        await batches_arrive(pilot, app, 20)
        clock.now += LOW_BANDWIDTH_CHART_SECONDS + 0.1  # both limits passed: one repaint of each
        await batches_arrive(pilot, app, 20)
        counts = counting(app)
        await batches_arrive(pilot, app, 200)  # the clock stands still: 200 batches, no repaint
        assert counts == {"status": 0, "chart": 0}
        clock.now += 1.1  # a second: the status line once, the charts not yet
        await batches_arrive(pilot, app, 50)
        assert counts == {"status": 1, "chart": 0}
        clock.now += LOW_BANDWIDTH_CHART_SECONDS
        await batches_arrive(pilot, app, 50)
        assert counts == {"status": 2, "chart": 1}
        fake.controls[0].stop()
        await wait_for(pilot, lambda: app.history.finished is not None)


async def test_by_default_the_status_line_follows_every_tick(clocked) -> None:
    _clock, make = clocked
    app, fake = make(False)
    async with app.run_test(size=SIZE) as pilot:
        await start_gated(pilot, fake)
        await batches_arrive(pilot, app, 20)
        counts = counting(app)
        await batches_arrive(pilot, app, 200)  # the same standing clock
        assert counts["status"] >= 2
        fake.controls[0].stop()
        await wait_for(pilot, lambda: app.history.finished is not None)


def test_the_cli_takes_low_bandwidth() -> None:
    assert build_parser().parse_args(["--low-bandwidth"]).low_bandwidth is True
    assert build_parser().parse_args([]).low_bandwidth is False


async def test_low_bandwidth_epoch_ends_wait_for_the_chart_pace_too(clocked) -> None:
    """Short epochs (JAX: under a second) must not redraw the epoch curves at every end."""
    clock, _ = clocked
    app, fake = gated_app(20, 200, True)
    async with app.run_test(size=SIZE) as pilot:
        await start_gated(pilot, fake)
        await wait_for(pilot, lambda: len(app.history.epochs) >= 2, timeout=20)
        clock.now += LOW_BANDWIDTH_CHART_SECONDS + 0.1
        await pilot.pause(0.3)
        drawn = app._drawn_epochs
        start = len(app.history.epochs)
        await wait_for(pilot, lambda: len(app.history.epochs) >= start + 5, timeout=20)  # the clock stands still
        await pilot.pause(0.3)
        assert app._drawn_epochs == drawn
        clock.now += LOW_BANDWIDTH_CHART_SECONDS + 0.1
        await wait_for(pilot, lambda: app._drawn_epochs > drawn)
        fake.controls[0].stop()
        await wait_for(pilot, lambda: app.history.finished is not None)


def _changed(before: list[str], after: list[str]) -> list[tuple[int, int]]:
    """The cells (column, row) that differ between two pictures of a widget."""
    return [(x, y) for y, (a, b) in enumerate(zip(before, after, strict=True))
            for x, (p, q) in enumerate(zip(a, b, strict=True)) if p != q]


async def _loss_charts(clock: Clock, low_bandwidth: bool, at: tuple[int, ...]) -> list[tuple[list[str], int | None]]:
    """The loss chart (its lines and span) repainted at batches ``at`` of a 300-batch run."""
    from tests.ui.screen_text import widget_lines

    app, fake = gated_app(300, 1, low_bandwidth, hold_after=at)
    async with app.run_test(size=SIZE) as pilot:
        await start_gated(pilot, fake)
        pictures = []
        for n in at:
            await wait_for(pilot, lambda n=n: app.history.batches == n, timeout=30)  # the fake holds there
            clock.now += LOW_BANDWIDTH_CHART_SECONDS + 0.1
            await pilot.pause(0.3)
            pictures.append((widget_lines(app.loss_chart), app.loss_chart.span))
            fake.gate.set()
        fake.controls[0].stop()
        await wait_for(pilot, lambda: app.history.finished is not None)
    return pictures


async def test_batch_charts_keep_their_frame_and_change_only_at_the_curve_end(clocked) -> None:
    """The x range grows in round steps (here 200 from batch 101, then 250), y starts at 0:
    between steps a repaint sends only the cells the newest batches touched.
    --low-bandwidth holds the whole plan (300) from the start."""
    clock, _ = clocked
    (a, span_a), (b, span_b), (c, span_c) = await _loss_charts(clock, False, (110, 150, 210))
    assert (span_a, span_b, span_c) == (200, 200, 250)
    same, stepped = _changed(a, b), _changed(b, c)
    assert a[-2:] == b[-2:] != c[-2:]  # the x axis and its labels moved at the step only
    assert same and min(x for x, _ in same) > 10, same  # the y labels and the curve's start stayed put
    assert min(x for x, _ in stepped) <= 10 and len(stepped) > 2 * len(same), (len(stepped), len(same))
    (a, span_a), (b, span_b) = await _loss_charts(clock, True, (110, 150))
    low = _changed(a, b)
    assert span_a == span_b == 300 and a[-2:] == b[-2:] and min(x for x, _ in low) > 10, low


def test_the_x_range_steps_through_round_numbers_up_to_the_plan() -> None:
    from mnist_tui.app import chart_span

    assert [chart_span(n, 1500) for n in (1, 7, 150, 600, 900, 1001, 1500)] == [1, 10, 200, 1000, 1000, 1500, 1500]
    assert chart_span(600, 1500, low_bandwidth=True) == 1500
    assert chart_span(1600, 1500) == 1600  # a resumed run with more epochs than planned: never cut
    assert chart_span(0, 0) is None and chart_span(30, 0) == 50  # no plan yet


async def test_epoch_charts_keep_their_frame_between_steps(clocked) -> None:
    """Short epochs end several times a second: the epoch charts' x range steps (20 epochs
    from epoch 11, then 25) and y runs between tick multiples, so an epoch adds its points
    without resending the axes."""
    from mnist_tui.widgets.epoch_chart import EpochChart
    from tests.ui.screen_text import widget_lines

    clock, _ = clocked
    at = (12, 14, 22)  # epochs, 5 batches each: the fake holds after the epoch's last batch
    app, fake = gated_app(5, 40, False, hold_after=tuple(5 * e for e in at))
    async with app.run_test(size=SIZE) as pilot:
        await start_gated(pilot, fake)
        chart = app.query_one("#chart-epoch-loss", EpochChart)
        pictures = []
        for epoch in at:
            await wait_for(pilot, lambda epoch=epoch: len(app.history.epochs) == epoch, timeout=30)
            clock.now += LOW_BANDWIDTH_CHART_SECONDS + 0.1
            await wait_for(pilot, lambda epoch=epoch: len(chart.epochs) == epoch)
            pictures.append((widget_lines(chart), chart.span))
            fake.gate.set()
        fake.controls[0].stop()
        await wait_for(pilot, lambda: app.history.finished is not None)
    (a, span_a), (b, span_b), (c, span_c) = pictures
    assert (span_a, span_b, span_c) == (20, 20, 25)
    same, stepped = _changed(a, b), _changed(b, c)
    assert same and a[-2:] == b[-2:] != c[-2:]  # the x axis and its labels moved at the step only
    assert min(x for x, _ in same) > 10, same  # the y labels and the curves' start stayed put
    assert len(stepped) > 2 * len(same), (len(stepped), len(same))
