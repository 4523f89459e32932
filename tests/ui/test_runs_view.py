"""Pilot tests for the Runs view, hosted alone in a tiny app over hand-made run directories."""

from __future__ import annotations

import json
import os
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static

from mnist_tui.app import APP_CSS
from mnist_tui.runs.rundir import process_start_ticks
from mnist_tui.runs.store import export_text
from mnist_tui.screens.confirm import ConfirmScreen
from mnist_tui.screens.runs import SYM, RunsView
from mnist_tui.widgets.runs_chart import RunsChart
from tests.runs_helpers import T0, write_run
from tests.ui.conftest import wait_for


class RunsApp(App[None]):
    CSS_PATH = APP_CSS  # the views are styled by the app's one stylesheet

    def __init__(self, runs_dir: Path) -> None:
        super().__init__()
        self.runs_dir = runs_dir
        self.opened: list[Path] = []
        self.resumed: list[Path] = []

    def compose(self) -> ComposeResult:
        yield RunsView(self.runs_dir, id="runs")

    def on_mount(self) -> None:
        self.query_one(RunsView).focus()  # as the app does when its Runs tab opens

    def on_runs_view_open_run(self, message: RunsView.OpenRun) -> None:
        self.opened.append(message.path)

    def on_runs_view_resume_run(self, message: RunsView.ResumeRun) -> None:
        self.resumed.append(message.path)


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    write_run(runs, "20260102-120000-mlp", preset="mlp", acc=0.95, total=60, minutes=0, batch_size=128, steps=40)
    write_run(runs, "20260102-121000-cnn", preset="cnn", acc=0.99, total=600, minutes=10, batch_size=32, steps=160,
              epochs=3)
    write_run(runs, "20260102-122000-scratch", preset="scratch", acc=0.91, total=6, minutes=20, batch_size=32,
              steps=160, lr=0.5)
    return runs


def ids(view: RunsView) -> list[str]:
    return [r.id for r in view.runs]


def table_ids(table: DataTable) -> list[str]:
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


async def test_rows_and_sorting(runs_dir: Path) -> None:
    app = RunsApp(runs_dir)
    async with app.run_test(size=(110, 34)) as pilot:
        view = app.query_one(RunsView)
        await wait_for(pilot, lambda: not view.loading)
        table = view.table
        newest_first = ["20260102-122000-scratch", "20260102-121000-cnn", "20260102-120000-mlp"]
        assert table.row_count == 3 and table_ids(table) == newest_first == ids(view)
        row = [str(c) for c in table.get_row_at(1)]
        assert row == [" ", "20260102-121000-cnn", "done", "cnn", "mnist", "tf", "3/3", "32", "0.001",
                       "adam", "99.00%", "10m00s"]  # the id first and whole
        widths = sum(col.get_render_width(table) for col in table.columns.values())
        assert widths <= 110  # every column fits: nothing scrolled out of sight
        await pilot.press("S")  # accuracy, best first
        assert view.sort_key == "accuracy" and table_ids(table) == [newest_first[i] for i in (1, 2, 0)]
        assert f"test {SYM.down}" in str(table.columns["acc"].label)
        await pilot.press("S")  # duration, shortest first
        assert table_ids(table) == [newest_first[i] for i in (0, 2, 1)]
        await pilot.press("S")  # preset
        assert [r.preset for r in view.runs] == ["cnn", "mlp", "scratch"]
        await pilot.press("S")  # back to started, newest first
        assert view.sort_key == "started" and table_ids(table) == newest_first

        # Clicking a header sorts by it; clicking it again flips the order.
        def acc_header() -> int:  # the columns are laid out again after every sort
            return sum(col.get_render_width(table) for col in list(table.columns.values())[:10]) + 2

        await pilot.click(table, offset=(acc_header(), 0))
        await pilot.pause()
        assert view.sort_key == "accuracy" and [r.test_accuracy for r in view.runs] == [0.99, 0.95, 0.91]
        await pilot.pause(0.6)  # a second click, not the second half of a double click
        await pilot.click(table, offset=(acc_header(), 0))
        await pilot.pause()
        assert [r.test_accuracy for r in view.runs] == [0.91, 0.95, 0.99]


async def test_select_two_and_overlay_them(runs_dir: Path) -> None:
    app = RunsApp(runs_dir)
    async with app.run_test(size=(110, 34)) as pilot:
        view = app.query_one(RunsView)
        await wait_for(pilot, lambda: not view.loading)
        chart = app.query_one(RunsChart)
        await wait_for(pilot, lambda: not view.loading)
        assert chart.plotted_ids == []
        await pilot.press("o")  # nothing selected: the cursor run
        assert chart.plotted_ids == ["20260102-122000-scratch"]
        await pilot.press("space", "space")  # marks and moves down
        assert view.selected == {"20260102-122000-scratch", "20260102-121000-cnn"}
        assert [str(view.table.get_row_at(i)[0]) for i in range(3)] == ["✓", "✓", " "]
        await pilot.press("o")
        assert chart.plotted_ids == ["20260102-122000-scratch", "20260102-121000-cnn"]
        assert chart.metric == "loss"
        # x is in epochs whatever the batch size: 2 epochs of 160 steps end at 2, 3 epochs at 3.
        assert chart.x_ranges["20260102-122000-scratch"][1] == pytest.approx(2.0, abs=0.05)  # last bucket's mean
        assert chart.x_ranges["20260102-121000-cnn"][1] == pytest.approx(3.0, abs=0.05)
        assert chart.x_ranges["20260102-121000-cnn"][0] < 0.1
        await pilot.press("a")
        assert chart.metric == "accuracy" and len(chart.plotted_ids) == 2
        await pilot.press("up", "space")  # unselect the cnn run
        await pilot.press("o")
        assert chart.plotted_ids == ["20260102-122000-scratch"]
        await pilot.press("f5")  # refresh keeps the selection and the overlay
        await wait_for(pilot, lambda: not view.loading)
        assert view.selected == {"20260102-122000-scratch"} and chart.plotted_ids == ["20260102-122000-scratch"]


async def test_delete_asks_first(runs_dir: Path) -> None:
    app = RunsApp(runs_dir)
    async with app.run_test(size=(110, 34)) as pilot:
        view = app.query_one(RunsView)
        await wait_for(pilot, lambda: not view.loading)
        target = runs_dir / "20260102-122000-scratch"
        await pilot.press("d")  # d is Draw everywhere: never delete here
        assert not isinstance(app.screen, ConfirmScreen) and target.is_dir()
        await pilot.press("delete")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen)
        assert target.is_dir() and view.table.row_count == 3
        await pilot.press("delete")
        await pilot.press("y")
        await wait_for(pilot, lambda: not target.exists() and not view.loading)
        assert view.table.row_count == 2 and "20260102-122000-scratch" not in ids(view)
        assert (runs_dir / "20260102-121000-cnn").is_dir()


async def test_running_run_is_not_deleted(runs_dir: Path) -> None:
    live = write_run(runs_dir, "20260102-130000-mlp", status=None, minutes=60,
                     owner={"pid": os.getpid(), "host": socket.gethostname(),
                            "started": (T0 + timedelta(hours=1)).isoformat(), "proc_start": process_start_ticks()})
    app = RunsApp(runs_dir)
    async with app.run_test(size=(110, 34)) as pilot:
        view = app.query_one(RunsView)
        await wait_for(pilot, lambda: not view.loading)
        assert view.cursor_run is not None and view.cursor_run.status == "running"
        await pilot.press("delete", "y")
        await pilot.pause()
        assert live.is_dir() and view.table.row_count == 4
        assert any("still running" in str(n.message) for n in app._notifications)


async def test_export_csv_and_json(runs_dir: Path) -> None:
    app = RunsApp(runs_dir)
    async with app.run_test(size=(110, 34)) as pilot:
        run = runs_dir / "20260102-122000-scratch"
        await wait_for(pilot, lambda: not app.query_one(RunsView).loading)
        await pilot.press("E")
        await wait_for(pilot, lambda: (run / "export.csv").exists())
        assert (run / "export.csv").read_text() == export_text(run, "csv")
        await pilot.press("J")
        await wait_for(pilot, lambda: (run / "export.json").exists())
        doc = json.loads((run / "export.json").read_text())
        assert len(doc["batches"]) == 320 and len(doc["epochs"]) == 2 and doc["config"]["preset"] == "scratch"
        await wait_for(pilot, lambda: sum("Exported to" in str(n.message) for n in app._notifications) == 2)
        assert any(str(run / "export.json") in str(n.message) for n in app._notifications)
        await pilot.press("f5")  # the exports inside the run dir do not confuse the listing
        await wait_for(pilot, lambda: not app.query_one(RunsView).loading)
        assert app.query_one(RunsView).table.row_count == 3


async def test_fits_80x24(runs_dir: Path) -> None:
    app = RunsApp(runs_dir)
    async with app.run_test(size=(110, 34)) as pilot:
        await wait_for(pilot, lambda: not app.query_one(RunsView).loading)
        await pilot.press("space", "space", "o")
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        view = app.query_one(RunsView)
        await wait_for(pilot, lambda: not view.loading)
        table, chart = view.table, app.query_one(RunsChart)
        assert table.region.height >= 5 and chart.region.height >= 8
        assert table.region.bottom <= chart.region.y and chart.region.bottom <= 24
        assert chart.region.width == 80 and len(chart.plotted_ids) == 2
        assert "20260102-120000-mlp: done" in str(app.query_one("#runs-detail", Static).render())  # the cursor run


async def test_empty_store_then_refresh(tmp_path: Path) -> None:
    runs = tmp_path / "nothing-here"
    app = RunsApp(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(RunsView)
        await wait_for(pilot, lambda: not view.loading)
        empty = app.query_one("#runs-empty", Static)
        assert empty.display and f"No runs yet in {runs}" in str(empty.render())
        assert not view.table.display and not app.query_one(RunsChart).display
        await pilot.press("space", "delete", "E", "o", "enter", "R", "T")  # nothing to act on: no crash
        assert not isinstance(app.screen, ConfirmScreen)
        write_run(runs, "20260102-120000-mlp")
        await pilot.press("f5")  # works with the table hidden: the view itself has the focus
        await wait_for(pilot, lambda: not view.loading and not empty.display)
        assert view.table.display and view.table.row_count == 1


async def test_enter_opens_and_r_resumes_the_cursor_run(runs_dir: Path) -> None:
    stopped = write_run(runs_dir, "20260102-130000-mlp", status="stopped", minutes=60)
    app = RunsApp(runs_dir)
    async with app.run_test(size=(110, 34)) as pilot:
        view = app.query_one(RunsView)
        await wait_for(pilot, lambda: not view.loading)
        assert view.cursor_run is not None and view.cursor_run.path == stopped
        await pilot.press("enter")
        await pilot.pause()
        assert app.opened == [stopped]
        await pilot.press("R")
        await pilot.pause()
        assert app.resumed == [stopped]
        await pilot.press("down", "R")  # a done run: not resumed, the user is told how to extend it
        await pilot.pause()
        assert app.resumed == [stopped]
        assert any("--epochs" in str(n.message) for n in app._notifications)


async def test_live_progress_of_a_running_run(runs_dir: Path) -> None:
    me = {"pid": os.getpid(), "host": socket.gethostname(), "proc_start": process_start_ticks()}
    live = write_run(runs_dir, "20260102-130000-mlp", status=None, minutes=60, epochs=1, steps=10, owner=me)
    app = RunsApp(runs_dir)
    async with app.run_test(size=(110, 34)) as pilot:
        view = app.query_one(RunsView)
        await wait_for(pilot, lambda: not view.loading)
        assert "running 1/1 10/10" in str(view.table.get_row_at(0)[2])
        with open(live / "events.jsonl", "a") as fh:  # the run goes on: a new epoch begins
            fh.write('{"batch":[2,3,10,384,1.0,0.5,1.0,0.5,1000.0,13.0]}\n')
        view.refresh_live()
        await pilot.pause()
        assert "running 2/1 3/10" in str(view.table.get_row_at(0)[2])
