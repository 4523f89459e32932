"""Pilot tests for experiments in the Runs tab: time to 98 %, seed groups and their bands, the
diff of two runs with its flipped-digit viewer, and the sweep leaderboard and form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Input, Static
from textual.widgets.data_table import ColumnKey

from mnist_tui.app import APP_CSS
from mnist_tui.render.charset import symbols
from mnist_tui.runs import sweep as sw
from mnist_tui.screens.diff import DiffScreen, FlipViewer
from mnist_tui.screens.runs import RunsView
from mnist_tui.screens.sweep import SweepForm, SweepScreen
from mnist_tui.widgets.compare_chart import CompareChart
from mnist_tui.widgets.prob_histogram import ProbHistogram
from mnist_tui.widgets.runs_chart import RunsChart
from tests.experiments_helpers import curve_run, labels
from tests.ui.conftest import wait_for


class RunsApp(App[None]):
    CSS_PATH = APP_CSS  # the views are styled by the app's one stylesheet

    def __init__(self, runs_dir: Path) -> None:
        super().__init__()
        self.runs_dir = runs_dir
        self.opened: list[Path] = []

    def compose(self) -> ComposeResult:
        yield RunsView(self.runs_dir, id="runs")

    def on_mount(self) -> None:
        self.query_one(RunsView).focus()

    def on_runs_view_open_run(self, message: RunsView.OpenRun) -> None:
        self.opened.append(message.path)


def text_of(static: Static) -> str:
    return str(static.content)


def row_of(table: DataTable, key: str) -> dict[str, str]:
    cells = table.get_row(key)
    return {str(col.key.value): str(cell) for col, cell in zip(table.ordered_columns, cells, strict=True)}


async def ready(pilot, app: RunsApp) -> RunsView:
    view = app.query_one(RunsView)
    await wait_for(pilot, lambda: not view.loading and bool(view.runs))
    return view


async def select(pilot, view: RunsView, ids: list[str]) -> None:
    for i, run in enumerate(list(view.runs)):
        view.table.move_cursor(row=i)
        await pilot.pause()
        if run.id in ids and run.id not in view.selected:
            view.action_toggle_select()
    await pilot.pause()


# ----------------------------------------------------------------------------- time to accuracy
async def test_time_to_98_is_a_column_and_all_three_are_in_the_detail(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    curve_run(runs, "20260102-120000-mlp", [0.95, 0.975, 0.981, 0.991], seconds=10.0, n_train=20000)
    curve_run(runs, "20260102-121000-mlp", [0.96, 0.97], seconds=5.0, minutes=10, lr=0.01)
    app = RunsApp(runs)
    async with app.run_test(size=(120, 34)) as pilot:
        view = await ready(pilot, app)
        assert row_of(view.table, "20260102-120000-mlp")["duration"] == "40.0s"
        await pilot.press("G", "G")  # the time column: total time → to 97 % → to 98 %
        assert view.time_mode == "to98" and "to98%" in str(view.table.columns[ColumnKey("duration")].label)
        assert row_of(view.table, "20260102-120000-mlp")["duration"] == "30.0s"
        assert row_of(view.table, "20260102-121000-mlp")["duration"] == "—"  # not reached
        await pilot.press("G")
        assert row_of(view.table, "20260102-120000-mlp")["duration"] == "40.0s"  # to 99 %
        view.table.move_cursor(row=[r.id for r in view.runs].index("20260102-120000-mlp"))
        await pilot.pause()
        detail = text_of(view.query_one("#runs-detail", Static))
        assert "to 97%: 20.0s/40k · 98%: 30.0s/60k · 99%: 40.0s/80k" in detail
        view.sort_key = "to98"
        view._resort()
        assert [r.id for r in view.runs] == ["20260102-120000-mlp", "20260102-121000-mlp"]  # not reached: last


# ----------------------------------------------------------------------------- seed bands
@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    for seed, (a, b) in enumerate(((0.90, 0.905), (0.91, 0.915), (0.92, 0.925))):
        curve_run(runs, f"20260102-12000{seed}-mlp", [a - 0.05, a], lr=1e-3, seed=seed, minutes=seed)
        curve_run(runs, f"20260102-12100{seed}-mlp", [b - 0.05, b], lr=1e-2, seed=seed, minutes=10 + seed)
    return runs


async def test_seed_groups_show_mean_and_std_and_overlay_as_bands(seeded: Path) -> None:
    app = RunsApp(seeded)
    async with app.run_test(size=(120, 34)) as pilot:
        view = await ready(pilot, app)
        for _ in range(4):
            await pilot.press("G")
        assert view.time_mode == "seeds"
        assert row_of(view.table, "20260102-120001-mlp")["duration"] == "91.0±1.0"
        assert row_of(view.table, "20260102-121002-mlp")["duration"] == "91.5±1.0"
        assert "test acc 92.50% (seeds 91.5±1.0)" in text_of(view.query_one("#runs-detail", Static))
        await select(pilot, view, [r.id for r in view.runs])
        detail = text_of(view.query_one("#runs-detail", Static))
        assert detail.startswith("learning_rate 0.001→0.01: 91.00±1.00% (3 seeds) vs 91.50±1.00% (3 seeds)")
        assert "within seed noise: +0.50 pp, the seed bands overlap" in detail
        await pilot.press("o")
        await pilot.pause()
        chart = app.query_one(RunsChart)
        assert sorted(chart.bands) == ["lr=0.001 (mean of 3 seeds, min–max band)",
                                       "lr=0.01 (mean of 3 seeds, min–max band)"]
        assert sorted(chart.bands["lr=0.001 (mean of 3 seeds, min–max band)"]) == [
            "20260102-120000-mlp", "20260102-120001-mlp", "20260102-120002-mlp"]
        assert len(chart.plotted_ids) == 6 and [e.label for e in chart.legend] == sorted(chart.bands, reverse=True)


async def test_bands_that_separate_are_an_improvement(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for seed in range(2):
        curve_run(runs, f"20260102-12000{seed}-mlp", [0.90 + seed / 100], lr=1e-3, seed=seed, minutes=seed)
        curve_run(runs, f"20260102-12100{seed}-mlp", [0.95 + seed / 100], lr=1e-2, seed=seed, minutes=10 + seed)
    app = RunsApp(runs)
    async with app.run_test(size=(120, 34)) as pilot:
        view = await ready(pilot, app)
        await select(pilot, view, [r.id for r in view.runs])
        assert "an improvement: +5.00 pp, the seed bands separate" in text_of(view.query_one("#runs-detail", Static))


# ----------------------------------------------------------------------------- diff
async def test_diff_of_two_runs_and_their_flipped_digits(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    y = labels().astype(np.int64)
    pred_a, pred_b = y.copy(), y.copy()
    pred_a[[0, 1]] = (y[[0, 1]] + 1) % 10
    pred_b[[3, 13, 23]] = (y[[3, 13, 23]] + 2) % 10
    a = curve_run(runs, "20260102-120000-mlp", [0.9, 0.96], pred=pred_a, n_train=1000)
    b = curve_run(runs, "20260102-121000-mlp", [0.9, 0.94, 0.94], pred=pred_b, minutes=10, n_train=500, lr=0.01)
    app = RunsApp(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await ready(pilot, app)
        await pilot.press("D")  # nothing selected
        assert not isinstance(app.screen, DiffScreen)
        await select(pilot, view, [a.name, b.name])
        await pilot.press("D")
        screen = app.screen
        assert isinstance(screen, DiffScreen) and screen.a.id == a.name and screen.b.id == b.name  # A: older
        await wait_for(pilot, lambda: screen.diff is not None)
        title = text_of(screen.query_one("#diff-title", Static))
        assert "learning_rate 0.001→0.01, epochs 2→3" in title
        assert "B fixed 2 (wrong in A) · B broke 3 (right in A) · net -1" in title
        flips = text_of(screen.query_one("#diff-flips", Static)).splitlines()
        assert flips[1].split()[-1] == "3" and flips[2].split()[-1] == "2"  # B broke 3, fixed 2
        assert "B − A" in text_of(screen.query_one("#diff-delta", Static))
        chart = screen.query_one(CompareChart)
        assert chart.x_ranges == {f"A {a.name}": (1.0, 2.0), f"B {b.name}": (1.0, 3.0)}
        await pilot.press("z")  # samples seen: A 1000 a epoch, B 500
        assert chart.x_ranges == {f"A {a.name}": (1000.0, 2000.0), f"B {b.name}": (500.0, 1500.0)}

        await pilot.press("enter")
        viewer = app.screen
        assert isinstance(viewer, FlipViewer) and viewer.which == "broken"
        assert viewer.indices.tolist() == [3, 13, 23] and viewer.index == 3
        probs_a = viewer.query_one("#flip-a", ProbHistogram)
        probs_b = viewer.query_one("#flip-b", ProbHistogram)
        assert int(np.argmax(probs_a.probs)) == 3 and int(np.argmax(probs_b.probs)) == 5
        assert probs_a.true_label == probs_b.true_label == 3
        assert "true 3  A says 3  B says 5" in text_of(viewer.query_one("#flip-info", Static))
        await pilot.press("right")
        assert viewer.index == 13
        await pilot.press("f")
        assert viewer.which == "fixed" and viewer.indices.tolist() == [0, 1]
        await pilot.press("escape", "escape")
        assert app.screen is not viewer and not isinstance(app.screen, DiffScreen)


# ----------------------------------------------------------------------------- sweeps
def made_sweep(runs: Path) -> Path:
    """A sweep of 2 learning rates × 2 seeds whose runner trained three points; one is queued."""
    path = sw.create_sweep(runs, sw.plan_sweep({"preset": "mlp", "learning_rate": "0.001,0.01"}, "0,1"))
    record = sw.read_sweep(path)
    curves = ([0.95, 0.975], [0.96, 0.985], [0.97, 0.99, 0.995])
    for i, vals in enumerate(curves):
        values = record["points"][i]["values"]
        run = curve_run(runs, f"20260102-12{i}000-mlp", vals, lr=values["learning_rate"], seed=values["seed"],
                        minutes=i, seconds=10.0 - 3 * i)
        record["points"][i] |= {"run": run.name, "state": "done"}
    sw.atomic_write_json(path / sw.SWEEP_FILE, record | {"state": "stopped"})
    return path


async def test_the_sweep_leaderboard_sorts_and_attaches(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    path = made_sweep(runs)
    app = RunsApp(runs)
    async with app.run_test(size=(120, 34)) as pilot:
        await ready(pilot, app)
        await pilot.press("W")
        screen = app.screen
        assert isinstance(screen, SweepScreen) and screen.current == path.name
        board = screen.board
        assert [r.label for r in screen.rows] == ["lr=0.001 seed=0", "lr=0.001 seed=1", "lr=0.01 seed=0",
                                                  "lr=0.01 seed=1"]
        first = row_of(board, "0")
        assert (first["state"], first["epoch"], first["best"], first["last"], first["to98"]) == (
            "done", "2/2", "97.50", "97.50", "—")
        assert row_of(board, "2")["to98"] == "8.0s" and row_of(board, "3")["state"] == "queued"
        assert len(row_of(board, "2")["curve"]) == 3 and row_of(board, "3")["curve"] == ""
        assert "stopped" in text_of(screen.query_one("#sweep-detail", Static))
        assert "R resumes" in text_of(screen.query_one("#sweep-detail", Static))
        for _ in range(8):  # S cycles the columns to time to 98 %
            await pilot.press("S")
            if screen.sort_key == "to98":
                break
        assert [r.index for r in screen.rows] == [2, 1, 0, 3]  # 8 s, 14 s, not reached, not trained
        assert f"to98% {symbols().up}" in str(board.columns[next(k for k in board.columns if k.value == "to98")].label)
        await pilot.press("S")  # the curve column does not sort: back to the first
        assert screen.sort_key == "n"
        board.move_cursor(row=1)
        await pilot.press("enter")
        await pilot.pause()
        assert app.opened == [runs / "20260102-121000-mlp"] and not isinstance(app.screen, SweepScreen)


async def test_the_sweep_form_checks_every_list_and_starts_a_runner(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    runs = tmp_path / "runs"
    launched: list[Path] = []
    monkeypatch.setattr(sw, "start_detached_sweep", launched.append)  # no real runner in a pilot test
    app = RunsApp(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(RunsView)
        await wait_for(pilot, lambda: not view.loading and view.has_focus)  # an empty store: the view has the keys
        await pilot.press("W")
        assert isinstance(app.screen, SweepScreen)
        assert "No sweeps yet" in text_of(app.screen.query_one("#sweep-detail", Static))
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, SweepForm)
        form.query_one("#sweep-preset", Input).value = "scratch"
        form.query_one("#sweep-learning_rate", Input).value = "0.1,x"
        await pilot.pause()
        assert "learning_rate: must be a number, got 'x'" in text_of(form.query_one("#sweep-plan", Static))
        await pilot.press("ctrl+s")
        assert app.screen is form and not sw.list_sweeps(runs)  # refused
        form.query_one("#sweep-learning_rate", Input).value = "0.1,0.5"
        form.query_one("#sweep-batch_size", Input).value = "32,64"
        form.query_one("#sweep-seeds", Input).value = "0,1"
        await pilot.pause()
        assert text_of(form.query_one("#sweep-plan", Static)) == (
            "8 runs: learning_rate (2) × batch_size (2) × seed (2), 1 at a time")
        await pilot.press("ctrl+s")
        await pilot.pause()
        (info,) = sw.list_sweeps(runs)
        assert launched == [info.path] and len(info.points) == 8
        assert info.points[0]["config"]["preset"] == "scratch"
        assert isinstance(app.screen, SweepScreen) and app.screen.current == info.id


async def test_in_the_app_enter_on_the_leaderboard_attaches_to_the_run(tmp_path: Path) -> None:
    from mnist_tui.app import make_app
    from tests.ui.fakes import FakeRunSource

    runs = tmp_path / "runs"
    made_sweep(runs)
    app = make_app(runs_dir=runs, source=FakeRunSource(), seed=0)
    async with app.run_test(size=(110, 34)) as pilot:
        commands = {cmd.title for cmd in app.get_system_commands(app.screen)}
        assert {"Sweeps: leaderboards", "New sweep", "Diff two runs"} <= commands
        await pilot.press("escape", "u")
        await wait_for(pilot, lambda: not app.runs_view.loading and bool(app.runs_view.runs))
        await pilot.press("W")
        screen = app.screen
        assert isinstance(screen, SweepScreen)
        screen.board.move_cursor(row=2)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.session.path is not None)
        assert app.session.path == runs / "20260102-122000-mlp" and app.tabs.active == "train"
        await wait_for(pilot, lambda: len(app.history.epochs) == 3)  # the run's record, replayed


async def test_the_highlighted_sweep_stays_shown_while_the_board_refreshes(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    older = made_sweep(runs)
    newer = sw.create_sweep(runs, sw.plan_sweep({"preset": "scratch", "learning_rate": "0.1,0.2,0.3"}))
    app = RunsApp(runs)
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.press("W")
        screen = app.screen
        assert isinstance(screen, SweepScreen)
        assert [s.id for s in screen.sweeps] == sorted([older.name, newer.name], reverse=True)
        screen.list_table.focus()
        screen.list_table.move_cursor(row=[s.id for s in screen.sweeps].index(older.name))
        await pilot.pause()
        assert screen.current == older.name and len(screen.rows) == 4
        screen.board.move_cursor(row=2)
        for _ in range(3):
            screen.refresh_board()
            await pilot.pause()
        assert screen.current == older.name and len(screen.rows) == 4 and screen.board.cursor_row == 2
