"""Pure rendering helpers: digit art, probability bars, chart reduction, viewer navigation."""

from __future__ import annotations

import itertools

import numpy as np
from rich.console import Console

from mnist_tui.events import BatchEnd, EpochEnd, TrainerStarted
from mnist_tui.history import RunHistory
from mnist_tui.messages import EventBridge, TrainingProgress
from mnist_tui.render.bars import bar_string, probability_bars
from mnist_tui.render.digits import ASCII_RAMP, digit_segments, digit_text
from mnist_tui.render.navigation import DigitNavigator
from mnist_tui.render.series import Series, nice_ticks, reduce, smooth
from tests.ui.fakes import sample_digits


def plain(text) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(text)
    return console.export_text()


def test_halfblock_digit_is_28_by_14_cells_and_keeps_the_grey_levels() -> None:
    x, _ = sample_digits()
    text = digit_text(x[0], "halfblock")
    lines = text.plain.split("\n")
    assert len(lines) == 14 and all(len(line) == 28 for line in lines)
    # Every cell's colours are its two pixels, quantised to 16 levels.
    styles = {span.style for span in text.spans}
    greys = {int(str(s.color.triplet.hex)[1:3], 16) for s in styles if s.color is not None}
    assert max(greys) >= 238 and min(greys) == 0


def test_digit_segments_paint_the_cells_digit_text_paints() -> None:
    """The Viewer's strips (merged runs of one colour pair) and the text the other views use
    are one picture: every cell's character and colours agree, in every mode."""
    x, _ = sample_digits()
    for image in (x[0], x[7], np.zeros((28, 28), np.uint8), np.full((27, 28), 255, np.uint8)):
        for mode in ("halfblock", "shade", "ascii"):
            console = Console()
            want = [[(ch, line.get_style_at_offset(console, i)) for i, ch in enumerate(line.plain)]
                    for line in digit_text(image, mode).split("\n")]
            rows = digit_segments(image, mode)
            got = [[(ch, seg.style) for seg in row for ch in seg.text] for row in rows]
            assert [[c for c, _ in row] for row in got] == [[c for c, _ in row] for row in want], mode
            if mode == "halfblock":
                assert [[st for _, st in row] for row in got] == [[st for _, st in row] for row in want], mode
                assert sum(len(row) for row in rows) < 14 * 28  # runs of one colour pair are merged


def test_ascii_digit_ink_follows_the_pixels() -> None:
    x, _ = sample_digits()
    img = x[0]
    lines = digit_text(img, "ascii").plain.split("\n")
    assert len(lines) == 14 and all(len(line) == 28 for line in lines)
    assert set("".join(lines)) <= set(ASCII_RAMP)
    for r, line in enumerate(lines):
        for c, ch in enumerate(line):
            mean = (int(img[2 * r, c]) + int(img[2 * r + 1, c])) / 2
            if mean == 0:
                assert ch == " "
            elif mean >= 200:
                assert ch in "%@#", (r, c, mean, ch)


def test_bar_string_has_eighth_resolution() -> None:
    assert bar_string(0.0, 10) == " " * 10
    assert bar_string(1.0, 10) == "█" * 10
    assert bar_string(0.5, 10) == "█" * 5 + " " * 5
    assert bar_string(0.01, 10).strip() == "▏"  # 0.8 eighths rounds to one eighth
    assert bar_string(0.02, 10).strip() == "▎"  # visibly different from 0.01
    assert len(bar_string(0.37, 17)) == 17


def test_probability_bars_mark_prediction_and_truth() -> None:
    probs = np.array([0.01, 0.02, 0.05, 0.6, 0.1, 0.1, 0.02, 0.05, 0.03, 0.02])
    out = plain(probability_bars(probs, 5, tuple(str(i) for i in range(10)), 60)).splitlines()
    assert len(out) == 10
    assert "◂ predicted" in out[3] and "0.600" in out[3]
    assert out[5].startswith("true▸")
    assert sum("◂ predicted" in line for line in out) == 1


def test_reduce_and_smooth() -> None:
    values = np.arange(1, 10_001, dtype=float)
    xs, ys = reduce(values, 100, "mean")
    assert len(xs) == 100 and xs[-1] == 10_000
    assert np.isclose(ys[0], values[:100].mean())
    xs, ys = reduce(values[:50], 100)
    assert len(xs) == 50 and np.array_equal(ys, values[:50])
    _, mins = reduce(values, 10, "min")
    assert mins[0] == 1 and mins[-1] == 9001
    noisy = np.array([1.0, 3.0] * 50)
    assert np.allclose(smooth(noisy, 10)[10:-10], 2.0, atol=0.2)
    with_nan = np.array([1.0, np.nan, 3.0])
    assert np.allclose(smooth(with_nan, 3), [1.0, 2.0, 3.0])
    assert nice_ticks(180) == [1, 46, 90, 135, 180]


def test_series_grows_and_keeps_every_value() -> None:
    s = Series(capacity=4)
    for i in range(1000):
        s.append(float(i))
    assert len(s) == 1000 and s.view()[-1] == 999 and s.view()[0] == 0 and s.last == 999


def test_navigator_steps_filters_and_wraps() -> None:
    labels = np.array([3, 1, 3, 7, 3, 1])
    nav = DigitNavigator(labels, seed=1)
    assert nav.next() and nav.index == 1
    assert nav.previous() and nav.index == 0
    assert nav.previous() and nav.index == 5  # wraps
    assert nav.filter_class(3) and labels[nav.index] == 3
    nav.next()
    assert labels[nav.index] == 3
    assert nav.position()[1] == 3
    assert not nav.next_misclassified()  # no predictions yet
    probs = np.eye(10)[[3, 1, 1, 7, 3, 7]]  # wrong at 2 (3→1) and 5 (1→7)
    nav.set_predictions(probs)
    nav.filter_class(None)
    nav.index = 0
    assert nav.next_misclassified() and nav.index == 2
    assert nav.next_misclassified() and nav.index == 5
    assert nav.next_misclassified() and nav.index == 2
    assert nav.previous_misclassified() and nav.index == 5
    assert nav.misclassified_count() == 2
    seen = set()
    for _ in range(50):
        nav.random()
        seen.add(nav.index)
    assert seen == set(range(6))


def _batch(step: int, steps: int = 1000) -> BatchEnd:
    return BatchEnd(1, step, steps, step, 1.0, 0.5, 1.0 / step, 0.5, 100.0, step * 0.001)


def test_bridge_posts_one_progress_per_delivery_and_every_other_event() -> None:
    posted: list[object] = []
    bridge = EventBridge(posted.append)
    bridge([_batch(step) for step in range(1, 1001)])  # a follower delivers what it read in one go
    progress = [m for m in posted if isinstance(m, TrainingProgress)]
    assert len(progress) == 1 and progress[0].batch.step == 1000
    epoch = EpochEnd(1, 1, 0.5, 0.9, 0.4, 0.91, 1.0)
    bridge([_batch(1001), epoch, _batch(1002)])
    assert [type(m).__name__ for m in posted[1:]] == ["TrainingProgress", "EngineEvent", "TrainingProgress"]
    assert posted[2].event is epoch  # batches before the epoch end are painted with it
    assert TrainingProgress(_batch(1)).can_replace(TrainingProgress(_batch(2)))


def test_history_abandons_the_rows_a_resume_redoes() -> None:
    history = RunHistory()
    for epoch in (1, 2):
        for step in range(1, 11):
            history.record(BatchEnd(epoch, step, 10, step, 1.0, 0.5, float(epoch), 0.5, 1.0, 1.0))
        history.record(EpochEnd(epoch, 3, 1.0, 0.5, 1.0, 0.5, 1.0))
    for step in range(1, 5):  # epoch 3 was cut short by a crash
        history.record(BatchEnd(3, step, 10, step, 1.0, 0.5, 3.0, 0.5, 1.0, 1.0))
    history.record(TrainerStarted(7, "h", "jax", from_epoch=1, epochs=3))  # resumed from the epoch-1 checkpoint
    assert history.batches == 10 and len(history.epochs) == 1 and history.abandoned_batches == 14
    assert history.batch_loss.view().tolist() == [1.0] * 10
    history.record(BatchEnd(2, 1, 10, 1, 1.0, 0.5, 9.0, 0.5, 1.0, 1.0))
    assert history.batches == 11 and history.batch_loss.last == 9.0


def test_navigator_filter_pair_visits_exactly_one_confusion_cell() -> None:
    labels = np.array([4, 4, 9, 4, 4, 1, 4])
    predicted = [4, 9, 9, 9, 4, 9, 9]  # 4→9 at 1, 3 and 6; 1→9 at 5 is another cell
    nav = DigitNavigator(labels)
    assert not nav.filter_pair(4, 9)  # no predictions yet: nothing to match, nothing changes
    assert nav.class_filter is None and nav.pred_filter is None
    nav.set_predictions(np.eye(10)[predicted])
    assert nav.filter_pair(4, 9) and nav.index == 1
    visited = []
    for _ in range(4):
        assert nav.next()
        visited.append(nav.index)
    assert visited == [3, 6, 1, 3]
    assert nav.previous() and nav.index == 1
    assert nav.previous() and nav.index == 6
    assert nav.position() == (3, 3)
    assert nav.filter_pair(None, 9) and nav.position()[1] == 5  # any true class predicted as 9
    assert nav.position()[0] == 1 and nav.index == 1  # a drill-down starts at the cell's first digit
    nav.next()
    nav.next()
    assert nav.filter_pair(4, 9) and nav.position() == (1, 3)  # from the first again, wherever it was
    assert not nav.filter_pair(1, 4)  # no 1 was predicted as 4: returns False, keeps the old filter
    assert (nav.class_filter, nav.pred_filter) == (4, 9)
    assert nav.filter_class(None) and nav.pred_filter is None  # 'a' clears the pair filter too
    assert nav.position()[1] == len(labels)


def test_chart_points_match_the_full_computation() -> None:
    rng = np.random.default_rng(0)
    values = 2.3 * np.exp(-np.arange(5000) / 800) + rng.normal(0, 0.1, 5000)
    values[123] = np.nan
    s = Series()
    for v in values:
        s.append(float(v))
    xs, means, smooth_line = s.chart_points(100, 125)
    rx, rmeans = reduce(values, 100, "mean")
    assert np.array_equal(xs, rx) and np.allclose(means, rmeans, equal_nan=True)
    centres = ((np.r_[0, xs[:-1]] + xs - 1) // 2).astype(int)
    assert np.allclose(smooth_line, smooth(values, 125)[centres])
    small = Series()
    for v in (1.0, 2.0, 3.0):
        small.append(v)
    x3, m3, _ = small.chart_points(100, 5)
    assert list(x3) == [1, 2, 3] and list(m3) == [1.0, 2.0, 3.0]


def test_with_a_span_the_full_buckets_keep_their_values_as_the_run_goes_on() -> None:
    """--low-bandwidth's fixed frame: buckets cut from the run's plan, not from its length."""
    rng = np.random.default_rng(1)
    values = 2.3 * np.exp(-np.arange(1000) / 300) + rng.normal(0, 0.1, 1000)
    s = Series()
    drawn = []
    for n in (300, 301, 650, 1000):
        while len(s) < n:
            s.append(float(values[len(s)]))
        drawn.append(s.chart_points(100, 25, span=1000))
    for (xa, ma, ea), (xb, mb, eb) in itertools.pairwise(drawn):
        full = xa[:-1]  # every bucket but the one being filled
        assert np.array_equal(xb[: len(full)], full) and np.allclose(mb[: len(full)], ma[:-1])
        settled = full <= xa[-1] - 25  # the moving average, once its whole window is in
        assert np.allclose(eb[: len(full)][settled], ea[:-1][settled])
    xs, means, _ = drawn[-1]  # the plan complete: the same buckets as without a span
    rx, rmeans = reduce(values, 100, "mean")
    assert np.array_equal(xs, rx) and np.allclose(means, rmeans)
    assert drawn[0][0][-1] == 300 and len(drawn[0][0]) == 30  # 10 batches a bucket, the last one at n


def test_the_status_line_never_says_press_s_while_a_run_is_under_way() -> None:
    """Between the training phase and its first batch the line said "Press s to start."."""
    from mnist_tui.events import DONE, TRAINING, PhaseChanged, RunFinished
    from mnist_tui.widgets.train_status import status_lines
    from tests.runs_helpers import data_ready

    hint = "Press s to start."
    history = RunHistory()
    assert hint in status_lines(history, idle_hint=hint)[0].plain  # nothing runs: say how to start
    history.record(data_ready(steps=40, epochs=3))
    history.record(PhaseChanged(TRAINING))
    first = status_lines(history, idle_hint=hint)[0].plain
    assert hint not in first and "epoch 1/3" in first and "first batch" in first, first
    history.record(RunFinished(DONE, "", 3, 0.1, 0.9, (), (), 1.0, 1.0, "/tmp/run"))
    history.record(PhaseChanged(DONE))
    assert hint in status_lines(history, idle_hint=hint)[0].plain  # over: the next one starts with s
