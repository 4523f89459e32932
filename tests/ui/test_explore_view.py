"""ExploreView in a bare host app, fed the 200 sample digits: sections, activation range, batches, labels."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Input, TabbedContent

from mnist_tui.app import APP_CSS
from mnist_tui.screens.explore import ActivationChart, ExploreView, LabelChart, SampleDigits
from tests.ui.fakes import sample_digits

NAMES = tuple(str(i) for i in range(10))


class Host(App[None]):
    CSS_PATH = APP_CSS  # the views are styled by the app's one stylesheet

    def __init__(self, with_data: bool = True) -> None:
        super().__init__()
        self.with_data = with_data
        self.outer_tab_events = 0

    def compose(self) -> ComposeResult:
        yield ExploreView(id="explore")

    def on_mount(self) -> None:
        view = self.query_one(ExploreView)
        if self.with_data:
            x, y = sample_digits()
            view.set_data(x, y, x[:50], y[:50], NAMES)
        view.focus()

    def on_tabbed_content_tab_activated(self) -> None:
        self.outer_tab_events += 1


def text_of(app: App[None], selector: str) -> str:
    return str(app.query_one(selector).render())


async def test_dataset_section_shows_facts_labels_and_samples() -> None:
    app = Host()
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.pause()
        view = app.query_one(ExploreView)
        assert view.section == "explore-dataset"
        facts = text_of(app, "#explore-facts")
        assert "(200, 28, 28)" in facts and "(50, 28, 28)" in facts and "uint8" in facts
        assert "0 … 255" in facts and "0.0 … 1.0" in facts and "float32" in facts
        onehot = text_of(app, "#explore-onehot")
        _, y = sample_digits()
        assert f"sparse   {y[0]}" in onehot and "one-hot  [" in onehot
        chart = app.query_one(LabelChart)
        assert chart.bars == 10 and chart.counts is not None and chart.counts.sum() == 200
        samples = app.query_one(SampleDigits)
        assert samples.indices is not None and [int(y[i]) for i in samples.indices] == list(range(10))
        first = samples.indices.copy()
        await pilot.press("n")
        assert (samples.indices != first).any() and [int(y[i]) for i in samples.indices] == list(range(10))
        assert samples.region.bottom <= 34 - 0  # the whole grid is on screen at 110×34


async def test_sections_switch_with_keys_and_stay_inside_the_view() -> None:
    app = Host()
    async with app.run_test(size=(110, 34)) as pilot:
        view = app.query_one(ExploreView)
        await pilot.press("2")
        assert view.section == "explore-activations"
        await pilot.press("3")
        assert view.section == "explore-batches"
        await pilot.press("1")
        assert view.section == "explore-dataset"
        await pilot.pause()
        assert app.outer_tab_events == 0  # inner tab changes never reach the app's tab handler
        assert app.query_one("#explore-tabs", TabbedContent).active == "explore-dataset"


async def test_square_brackets_change_the_activation_range() -> None:
    app = Host()
    async with app.run_test(size=(110, 34)) as pilot:
        chart = app.query_one(ActivationChart)
        before = chart.x_range
        await pilot.press("]")  # not on the Activations section: disabled
        assert chart.x_range == before
        await pilot.press("2", "]")
        wider = chart.x_range
        assert wider[0] < before[0] and wider[1] > before[1]
        await pilot.press("[", "[")
        narrower = chart.x_range
        assert narrower[1] < before[1] and narrower[0] == -narrower[1]
        for _ in range(10):
            await pilot.press("[")
        assert chart.x_range == (-1.0, 1.0)  # stops at the narrowest
        softmax = text_of(app, "#explore-softmax")
        assert "[nan nan nan]" in softmax and "[0.090 0.245 0.665]" in softmax


async def test_batch_size_field_updates_steps_per_epoch() -> None:
    app = Host()
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.press("3")
        assert "ceil(200 / 32) = 7" in text_of(app, "#explore-steps")
        assert "last batch holds 8 images" in text_of(app, "#explore-steps")
        field = app.query_one("#explore-batch-size", Input)
        field.focus()
        await pilot.pause()
        await pilot.press("6", "4")  # select_on_focus: typing replaces 32
        assert field.value == "64"
        assert "ceil(200 / 64) = 4" in text_of(app, "#explore-steps")
        await pilot.press("backspace", "backspace")
        assert "whole number" in text_of(app, "#explore-steps")
        await pilot.press("2", "0", "0")
        steps = text_of(app, "#explore-steps")
        assert "ceil(200 / 200) = 1" in steps and "holds 200 images" in steps
        view = app.query_one(ExploreView)
        x, y = sample_digits()
        view.set_data(x, y, x, y, NAMES, n_train=150)  # what a run with a validation split steps over
        assert "ceil(150 / 200) = 1" in text_of(app, "#explore-steps")
        await pilot.press("escape")  # back to the view, whose keys work again
        assert app.focused is app.query_one(ExploreView)
        await pilot.press("1")
        assert app.query_one(ExploreView).section == "explore-dataset"


async def test_without_data_it_says_how_to_get_some_and_works_at_80x24() -> None:
    app = Host(with_data=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "start a run" in text_of(app, "#explore-facts")
        assert app.query_one(LabelChart).bars == 0
        await pilot.press("3")
        assert "once a dataset is loaded" in text_of(app, "#explore-steps")
        await pilot.press("2", "]")
        assert app.query_one(ActivationChart).x_range == (-8.0, 8.0)  # activations need no data
        x, y = sample_digits()
        app.query_one(ExploreView).set_data(x, y, x, y, NAMES)
        await pilot.press("3")
        assert "ceil(200 / 32) = 7" in text_of(app, "#explore-steps")
        await pilot.press("1")
        await pilot.pause()
        chart = app.query_one(LabelChart)
        assert chart.region.right <= 80 and chart.size.width >= 60  # narrow: under the facts, full width
